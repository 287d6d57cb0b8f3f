"""sd_notify readiness: READY=1 only once every listener serves, then STOPPING=1 on stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import sdnotify
from tests.deploy.gateway_process import deploy_env, spawn, stop

pytestmark = pytest.mark.slow


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd's notification socket."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.5)
    try:
        yield sock, path
    finally:
        sock.close()


def _assignments(datagram: bytes) -> dict[str, str]:
    return dict(line.split("=", 1) for line in datagram.decode().splitlines() if "=" in line)


def _next_notification(
    sock: socket.socket, proc: subprocess.Popen[bytes], log: Path
) -> dict[str, str]:
    """The next datagram's assignments; fails (with the log) if the gateway exits first."""
    for _ in range(100):  # a bound on waiting (about 50 s), not an assertion about time
        try:
            return _assignments(sock.recv(4096))
        except TimeoutError:
            if proc.poll() is not None:
                break
    pytest.fail("no notification from the gateway:\n" + log.read_text(errors="replace")[-3000:])


def test_ready_after_every_listener_then_stopping_on_sigterm(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    """READY=1 arrives once both listeners serve; SIGTERM sends STOPPING=1, then a clean exit."""
    sock, path = notify_socket
    port, env = deploy_env(tmp_path, NOTIFY_SOCKET=path)
    tls_port = env["LIENTHONG_SERVER__TLS_PORT"]
    log = tmp_path / "gateway.log"
    proc = spawn(env, log)
    try:
        first = _next_notification(sock, proc, log)
        assert first.get("READY") == "1", first
        # Written (flushed) after start_gateway started both sites, before READY was sent.
        announced = log.read_text(errors="replace")
        assert "lienthong is up" in announced
        assert f"http://127.0.0.1:{port}" in announced
        assert f"https://127.0.0.1:{tls_port}" in announced
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            assert r.status == 200
        with socket.create_connection(("127.0.0.1", int(tls_port)), timeout=10):
            pass
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        second = _next_notification(sock, proc, log)
        assert second.get("STOPPING") == "1", second
        assert "READY" not in second
        status = proc.wait(timeout=60)  # one SIGTERM is a whole clean stop
    finally:
        stop(proc)
    assert status == 0, log.read_text(errors="replace")[-3000:]


def test_notify_without_a_manager_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside systemd (no NOTIFY_SOCKET) nothing is sent and nothing fails."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready("serving") is False


def test_notify_reaches_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """``@name`` is the abstract namespace, as systemd may hand it out."""
    name = f"lienthong-test-{id(monkeypatch)}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(10)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.stopping() is True
        assert _assignments(sock.recv(4096)) == {"STOPPING": "1", "STATUS": "stopping"}


def test_a_vanished_manager_is_not_fatal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket path nobody listens on is logged and ignored, never raised."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert sdnotify.ready("serving") is False
