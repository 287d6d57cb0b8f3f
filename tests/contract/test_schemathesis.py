"""Schemathesis over /openapi.json against the real gateway: the document says what it does.

A bounded, seeded run (``tests/contract/schemathesis.toml``: seed, deterministic
generation, ``max-examples``) of the schemathesis CLI, positive and negative data,
every check enabled, each request signed (``tests/contract/st_hooks.py``). It must
end with zero failures: no 5xx, every answer as documented (status, content type,
headers, schema), every schema-valid request accepted and every schema-violating
one refused, except where the configuration says which rule of the server cannot
be written as JSON Schema and which documented answer it gets instead.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.contract.conftest import CONTRACT_CLIENT
from tests.support.gateway import SECRETS, Gateway

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def test_schemathesis_finds_nothing(contract_gateway: Gateway, tmp_path: Path) -> None:
    """Positive and negative modes, all checks: zero failures, zero errors."""
    cli = Path(sys.executable).with_name("schemathesis")
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.contract.st_hooks",
        "LIENTHONG_CONTRACT_CLIENT": CONTRACT_CLIENT,
        "LIENTHONG_CONTRACT_SECRET": SECRETS[CONTRACT_CLIENT],
        "PYTHONPATH": str(ROOT),
        "NO_COLOR": "1",
    }
    proc = await asyncio.create_subprocess_exec(
        str(cli),
        "--no-color",
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        contract_gateway.url + "/openapi.json",
        "--url",
        contract_gateway.url,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    report = out.decode("utf-8", "replace")
    (tmp_path / "schemathesis.txt").write_text(report)
    print(report)
    assert proc.returncode == 0, report
