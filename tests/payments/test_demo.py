"""``lienthong demo`` tells the whole story against a running gateway, and fails loudly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.webhook_signatures import new_secret
from tests.payments.processes import REPO, GatewayProcess, free_port, gateway_env


def _demo_against_a_gateway(
    tmp_path: Path, receiver_port: int, *args: str
) -> subprocess.CompletedProcess[bytes]:
    """``lienthong demo ARGS`` against a gateway sending its webhooks to ``receiver_port``."""
    port = free_port()
    env = gateway_env(port, f"sqlite:///{tmp_path}/gw.db", receiver_port, new_secret())
    gateway = GatewayProcess.start(port, env, tmp_path / "gateway.log")
    try:
        return subprocess.run(  # noqa: S603 (a fixed argv: this repo's CLI)
            [sys.executable, "-m", "gateway", "demo", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
    finally:
        assert gateway.stop() == 0


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["dvcqg", "vnpay"])
def test_demo_runs_the_whole_story(tmp_path: Path, provider: str) -> None:
    """Verify, look up, bill, pay, webhook, read back: exit 0 and every step printed."""
    demo = _demo_against_a_gateway(tmp_path, free_port(), "--provider", provider)
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


@pytest.mark.slow
def test_demo_with_the_receiver_port_the_gateway_sends_to_runs_the_whole_story(
    tmp_path: Path,
) -> None:
    """``--receiver-port`` naming the port the config sends webhooks to: the story completes."""
    receiver_port = free_port()
    demo = _demo_against_a_gateway(tmp_path, receiver_port, "--receiver-port", str(receiver_port))
    out = demo.stdout.decode()
    assert demo.returncode == 0, out + demo.stderr.decode()[-2000:]
    assert f"listening on http://127.0.0.1:{receiver_port}" in out
    assert "reads paid" in out


def test_demo_refuses_a_receiver_port_the_gateway_does_not_send_to(tmp_path: Path) -> None:
    """Another ``--receiver-port``: one line naming both settings, exit 2, before any step."""
    port, receiver_port = free_port(), free_port()
    other = free_port()
    env = gateway_env(port, f"sqlite:///{tmp_path}/gw.db", receiver_port, new_secret())
    demo = subprocess.run(  # noqa: S603 (a fixed argv: this repo's CLI)
        [sys.executable, "-m", "gateway", "demo", "--receiver-port", str(other)],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    err = demo.stderr.decode().strip()
    assert demo.returncode == 2, err
    assert demo.stdout == b""  # no step was taken: nothing billed
    assert len(err.splitlines()) == 1, err
    assert f"--receiver-port {other}" in err
    assert "clients[motcua-demo].webhook.url" in err
    assert "clients[motcua-demo].return_url_prefixes" in err
    assert "Traceback" not in err
