"""config/systemd/lienthong.service: systemd accepts it, and its sandbox stays tight."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.deploy.tools import require_tool, run_tool
from tests.payments.processes import REPO

UNIT = REPO / "config" / "systemd" / "lienthong.service"
INSTALLED = "/opt/lienthong/bin/lienthong"


def _settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value)
    return found


@pytest.fixture
def unit_here(tmp_path: Path) -> Path:
    """The unit with its command pointed at this venv's ``lienthong`` (verify needs it to exist)."""
    here = Path(sys.executable).with_name("lienthong")
    assert here.exists(), here
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED in text
    path = tmp_path / UNIT.name
    path.write_text(text.replace(INSTALLED, str(here)), encoding="utf-8")
    return path


def test_systemd_analyze_verify_accepts_the_unit(unit_here: Path) -> None:
    """``systemd-analyze verify`` passes with no complaint about this unit (unknown keys too)."""
    analyze = require_tool("systemd-analyze", "systemd")
    done = run_tool([analyze, "verify", str(unit_here)])
    complaints = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if unit_here.name in line or str(unit_here) in line
    ]
    assert done.returncode == 0, done.stdout + done.stderr
    assert complaints == []


def test_sandbox_exposure_is_low(unit_here: Path) -> None:
    """``systemd-analyze security`` rates the sandbox under 2.0 (systemd's "OK" band)."""
    analyze = require_tool("systemd-analyze", "systemd")
    done = run_tool([analyze, "security", "--offline=yes", str(unit_here)])
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    if match is None and "--offline" in done.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    assert match is not None, done.stdout + done.stderr
    assert float(match.group(1)) < 2.0, done.stdout


def test_the_unit_declares_what_the_deployment_relies_on() -> None:
    """Type=notify, the named sandbox directives, credentials, and SIGHUP as the reload."""
    settings = _settings()
    assert settings["Type"] == ["notify"]
    assert settings["NotifyAccess"] == ["main"]
    for key, value in {
        "DynamicUser": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "StateDirectory": "lienthong",
        "LogsDirectory": "lienthong",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    }.items():
        assert settings.get(key) == [value], key
    assert "@system-service" in settings["SystemCallFilter"]
    assert settings["LoadCredential"]
    assert all(":/etc/lienthong/credentials/" in c for c in settings["LoadCredential"])
    # SIGHUP reloads (tests/server/test_signals.py): systemctl reload sends it.
    assert settings["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert "SIGHUP terminates the gateway" not in UNIT.read_text(encoding="utf-8")
