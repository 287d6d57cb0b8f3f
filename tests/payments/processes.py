"""``lienthong`` as a real process on free loopback ports (crash test, demo test)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.gateway import SECRETS

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_env(
    port: int, store_url: str, receiver_port: int, webhook_secret: str
) -> dict[str, str]:
    """The embedded default on free ports, its demo client's webhook at ``receiver_port``."""
    clients = [
        {
            "id": "motcua-demo",
            "secrets": [SECRETS["motcua-demo"]],
            "operations": [
                "citizens.verify",
                "citizens.lookup",
                "businesses.read",
                "payments.create",
                "payments.read",
                "payments.cancel",
            ],
            "rate_per_second": 1000.0,
            "burst": 1000.0,
            "return_url_prefixes": [f"http://127.0.0.1:{receiver_port}/"],
            "webhook": {
                "url": f"http://127.0.0.1:{receiver_port}/webhooks",
                "secrets": [webhook_secret],
            },
        }
    ]
    return {
        **os.environ,
        "LIENTHONG_SERVER__PORT": str(port),
        "LIENTHONG_SERVER__TLS_PORT": "0",
        "LIENTHONG_SANDBOX__POPULATION_PORT": "0",
        "LIENTHONG_SANDBOX__NGSP_PORT": "0",
        "LIENTHONG_SANDBOX__DVCQG_PORT": "0",
        "LIENTHONG_SANDBOX__VNPAY_PORT": "0",
        "LIENTHONG_STORE__URL": store_url,
        "LIENTHONG_CLIENTS": json.dumps(clients),
        "LIENTHONG_PAYMENTS__WEBHOOKS__LEASE_SECONDS": "2",
        "LIENTHONG_PAYMENTS__WEBHOOKS__BACKOFF_INITIAL_SECONDS": "0.05",
        "LIENTHONG_PAYMENTS__WEBHOOKS__BACKOFF_MAX_SECONDS": "0.5",
        "LIENTHONG_PAYMENTS__WEBHOOKS__POLL_INTERVAL_SECONDS": "0.05",
        "LIENTHONG_LOGGING__LEVEL": "WARNING",
    }


@dataclass
class GatewayProcess:
    """One ``lienthong run`` child process."""

    proc: subprocess.Popen[bytes]
    url: str

    @classmethod
    def start(
        cls, port: int, env: dict[str, str], log: Path, config: Path | None = None
    ) -> GatewayProcess:
        """``lienthong run`` (with ``--config config`` when given), healthy on ``port``."""
        out = log.open("ab")
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [
                sys.executable,
                "-m",
                "gateway",
                "run",
                *(["--config", str(config)] if config else []),
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        started = cls(proc, f"http://127.0.0.1:{port}")
        started.wait_healthy(log)
        return started

    def wait_healthy(self, log: Path, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(
                        "gateway did not start:\n" + log.read_text(errors="replace")[-3000:]
                    ) from None
                time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown at all."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return int(self.proc.returncode)
