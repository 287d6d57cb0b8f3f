"""Finding the operator tools the deployment checks run (promtool, systemd-analyze, nginx).

Each check skips, naming the missing tool and the Debian package that has it, when
the tool is not on this machine; under CI (``CI=true``) a missing tool fails the
test instead, so CI cannot go green by skipping what it is there to check.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def require_tool(name: str, package: str) -> str:
    """The tool's path; otherwise a skip (a failure under CI) naming its Debian package."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is not None:
        return path
    reason = f"{name} is not installed (Debian package {package}; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


def run_tool(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool found by :func:`require_tool` (a fixed argument list, no shell)."""
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
