"""``lienthong run`` (the embedded default) as a real child process on free loopback ports."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.payments.processes import REPO, GatewayProcess, free_port, gateway_env


def deploy_env(tmp_path: Path, **extra: str) -> tuple[int, dict[str, str]]:
    """The HTTP port and the environment of a gateway with both listeners on free ports."""
    port = free_port()
    env = gateway_env(port, f"sqlite:///{tmp_path}/gw.db", free_port(), "whsec_" + "x" * 32)
    env["LIENTHONG_SERVER__TLS_PORT"] = str(free_port())
    pki = Path(env["LIENTHONG_TLS__DEV_PKI_DIR"])  # set for the whole suite by tests/conftest.py
    env["LIENTHONG_TLS__CERT_FILE"] = str(pki / "server.pem")
    env["LIENTHONG_TLS__KEY_FILE"] = str(pki / "server.key")
    env["LIENTHONG_TLS__CLIENT_CA_FILE"] = str(pki / "ca.pem")
    env.pop("NOTIFY_SOCKET", None)
    env.update(extra)
    return port, env


def spawn(env: dict[str, str], log: Path, *command: str) -> subprocess.Popen[bytes]:
    """Start ``python -m gateway COMMAND`` (default ``run``) with ``env``, output into ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "gateway", *(command or ("run",))],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, wait, SIGKILL if it hangs; the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return int(proc.returncode)


@contextmanager
def running_gateway(tmp_path: Path, **extra: str) -> Iterator[GatewayProcess]:
    """A healthy gateway process, stopped (by its pid) when the block ends."""
    port, env = deploy_env(tmp_path, **extra)
    log = tmp_path / "gateway.log"
    gw = GatewayProcess.start(port, env, log)
    try:
        yield gw
    finally:
        gw.stop()
