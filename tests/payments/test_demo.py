"""``lienthong demo`` tells the whole story against a running gateway, and fails loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.webhook_signatures import new_secret
from tests.payments.processes import REPO, GatewayProcess, free_port, gateway_env


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["dvcqg", "vnpay"])
def test_demo_runs_the_whole_story(tmp_path: Path, provider: str) -> None:
    """Verify, look up, bill, pay, webhook, read back: exit 0 and every step printed."""
    port, receiver_port = free_port(), free_port()
    env = gateway_env(port, f"sqlite:///{tmp_path}/gw.db", receiver_port, new_secret())
    gateway = GatewayProcess.start(port, env, tmp_path / "gateway.log")
    try:
        demo = subprocess.run(  # noqa: S603 (a fixed argv: this repo's CLI)
            [sys.executable, "-m", "gateway", "demo", "--provider", provider],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    finally:
        assert gateway.stop() == 0
    out = demo.stdout.decode()
    assert demo.returncode == 0, out + demo.stderr.decode()[-2000:]
    assert "citizen verified" in out
    assert "business 1801234562 found" in out
    assert f"created at {provider}" in out
    assert "payment.paid" in out
    assert "reads paid" in out
    assert "092195004321" not in out


@pytest.mark.slow
def test_demo_fails_without_a_gateway(tmp_path: Path) -> None:
    """No gateway listening: the demo says which step failed and exits non-zero."""
    port, receiver_port = free_port(), free_port()
    env = gateway_env(port, f"sqlite:///{tmp_path}/gw.db", receiver_port, new_secret())
    demo = subprocess.run(
        [sys.executable, "-m", "gateway", "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert demo.returncode == 1
    assert "FAILED" in demo.stdout.decode()
