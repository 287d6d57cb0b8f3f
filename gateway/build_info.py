"""Which build is running: ``lienthong_build_info{version,commit} 1``.

``version`` is the installed package's version (its metadata, so a wheel and an
editable install report what pip installed). ``commit`` is, in this order: the
``LIENTHONG_BUILD_COMMIT`` environment variable (set by whoever deploys, e.g. in
the systemd unit or the container image), the ``gateway/BUILD_COMMIT`` file
(written by the release step, ``git rev-parse HEAD > gateway/BUILD_COMMIT``,
before ``python -m build``, and shipped in the wheel), else ``unknown``. Nothing
runs git at start-up: a deployed host has no repository.
"""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

from prometheus_client import Gauge

BUILD_INFO = Gauge(
    "lienthong_build_info",
    "The running build (always 1): its version and commit",
    ["version", "commit"],
)

COMMIT_ENV = "LIENTHONG_BUILD_COMMIT"
COMMIT_FILE = Path(__file__).with_name("BUILD_COMMIT")
#: What a commit label may hold (a hash, a tag, a describe string); anything else is ``unknown``.
_SANE = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")


def version() -> str:
    """The installed ``lienthong`` distribution's version, or ``unknown`` when not installed."""
    try:
        return metadata.version("lienthong")
    except metadata.PackageNotFoundError:
        return "unknown"


def commit(file: Path = COMMIT_FILE) -> str:
    """The build's commit from the environment, else from ``file``, else ``unknown``."""
    given = os.environ.get(COMMIT_ENV, "").strip()
    if not given:
        try:
            given = file.read_text(encoding="utf-8").strip()
        except OSError:
            given = ""
    return given if _SANE.match(given) else "unknown"


def record_build_info() -> None:
    """Set the gauge to this build (one series: a changed commit replaces the old one)."""
    BUILD_INFO.clear()
    BUILD_INFO.labels(version(), commit()).set(1)
