"""``lienthong run --workers N``: one supervisor, N workers on the same sockets, restarts, stop."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import load_settings
from gateway.supervisor import Supervisor, refusal
from tests.deploy import test_sdnotify
from tests.deploy.gateway_process import deploy_env, spawn, stop
from tests.deploy.test_sdnotify import _next_notification
from tests.payments.processes import REPO
from tests.test_cli import use_temporary_dev_pki


def _worker_env(tmp_path: Path, notify: str) -> dict[str, str]:
    _, env = deploy_env(tmp_path, NOTIFY_SOCKET=notify)
    env.update(
        {
            "LIENTHONG_INSTANCE_ID": "gw1",
            "LIENTHONG_SERVER__PORT": "0",  # the supervisor binds; READY's status names it
            "LIENTHONG_SERVER__TLS_PORT": "0",
            "LIENTHONG_SERVER__NONCE_STORE": "store",
            "LIENTHONG_SERVER__DRAIN_SECONDS": "0.2",
            "LIENTHONG_SANDBOX__ENABLED": "false",
            "LIENTHONG_LOGGING__LEVEL": "INFO",
        }
    )
    return env


#: A datagram socket standing in for systemd's (the sd_notify tests' fixture).
notify_socket = test_sdnotify.notify_socket


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return sorted(int(p) for p in text.split())


def _healthz(url: str) -> int:
    with urllib.request.urlopen(url + "/healthz", timeout=30) as r:  # noqa: S310 - loopback
        return int(r.status)


def _served_by_each(url: str, workers: list[int]) -> None:
    """Pause every worker but one, in turn: the one left must answer on the shared socket."""
    for serving in workers:
        paused = [w for w in workers if w != serving]
        for pid in paused:
            os.kill(pid, signal.SIGSTOP)
        try:
            assert [_healthz(url) for _ in range(3)] == [200, 200, 200]
        finally:
            for pid in paused:
                os.kill(pid, signal.SIGCONT)


def _inbound_by_instance(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT instance, COUNT(*) FROM audit_records WHERE kind = 'inbound' GROUP BY instance"
        ).fetchall()
    return {str(instance): int(count) for instance, count in rows}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_workers_serve_restart_and_stop(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    """Both workers answer; a SIGKILLed one is restarted; SIGTERM stops all; chains verify."""
    sock, path = notify_socket
    env = _worker_env(tmp_path, path)
    log = tmp_path / "supervisor.log"
    proc = spawn(env, log, "run", "--workers", "2")
    try:
        ready = _next_notification(sock, proc, log)
        assert ready.get("READY") == "1", ready
        url = ready["STATUS"].split()[1]
        assert ready["STATUS"].endswith("with 2 workers")
        workers = _children(proc.pid)
        assert len(workers) == 2
        _served_by_each(url, workers)

        os.kill(workers[0], signal.SIGKILL)
        exited = _next_notification(sock, proc, log)
        assert exited["STATUS"].startswith("worker 1 exited (status -9), restarting"), exited
        again = _next_notification(sock, proc, log)  # every worker ready again
        assert again == {"STATUS": ready["STATUS"]}, again
        restarted = _children(proc.pid)
        assert len(restarted) == 2
        assert workers[0] not in restarted
        assert workers[1] in restarted
        workers = restarted
        _served_by_each(url, workers)

        proc.send_signal(signal.SIGTERM)
        stopping = _next_notification(sock, proc, log)
        assert stopping.get("STOPPING") == "1", stopping
        status = proc.wait(timeout=120)
    finally:
        stop(proc)
    output = log.read_text(errors="replace")
    assert status == 0, output[-4000:]
    assert all(not Path(f"/proc/{pid}").exists() for pid in workers)
    counts = _inbound_by_instance(tmp_path / "gw.db")
    assert set(counts) == {"gw1-w1", "gw1-w2"}, counts
    verify = subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "intact: " in verify.stdout


async def test_a_worker_that_dies_at_once_makes_the_supervisor_give_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker that never gets ready, five times in a row: the others stop, exit 1, one line."""
    settings = load_settings(
        None,
        server={"host": "127.0.0.1", "port": 0, "tls_port": 0, "nonce_store": "store"},
        sandbox={"enabled": False},
        store={"url": f"sqlite:///{tmp_path}/gw.db"},
    )
    dies = [sys.executable, "-c", "import sys; sys.exit(3)"]
    status = await Supervisor(settings, 2, dies, restart_backoff=0.01).run()
    err = capsys.readouterr().err
    assert status == 1
    lines = [line for line in err.splitlines() if line.startswith("lienthong run:")]
    assert len(lines) == 1  # the suite's own log lines go to stderr too
    assert "exited 5 times in a row before it was ready (last exit status 3)" in lines[0]


def test_several_workers_need_a_shared_nonce_store() -> None:
    """N > 1 with in-memory nonces (or the embedded sandboxes) is refused; N = 1 is not."""
    memory = load_settings(None, sandbox={"enabled": False})
    shared = load_settings(None, server={"nonce_store": "store"}, sandbox={"enabled": False})
    sandboxes = load_settings(None, server={"nonce_store": "store"}, sandbox={"enabled": True})
    assert refusal(memory, 1) is None
    assert refusal(shared, 3) is None
    assert 'nonce_store = "store"' in (refusal(memory, 2) or "")
    assert "sandbox" in (refusal(sandboxes, 2) or "")
    assert refusal(shared, 0) is not None


def test_run_refuses_workers_with_in_memory_nonces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`lienthong run --workers 2` on the embedded default: exit 2, one line naming the key."""
    use_temporary_dev_pki(tmp_path, monkeypatch)
    assert main(["run", "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("lienthong run: --workers 2 needs [server] nonce_store")
