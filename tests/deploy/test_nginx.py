"""config/nginx/lienthong.conf: nginx accepts it, retries only idempotent requests, keeps signatures

The shipped file is checked as it is, with only file locations (certificates, logs)
and, to run it, its listen and upstream addresses moved to free loopback ports.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from gateway.auth.signatures import sign_request
from tests.deploy.gateway_process import running_gateway
from tests.deploy.tools import require_tool, run_tool
from tests.payments.processes import REPO, free_port
from tests.support.gateway import SECRETS

CONF = REPO / "config" / "nginx" / "lienthong.conf"
CLAIM = {"id_number": "092090001234", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-12"}


def _placed(tmp_path: Path) -> str:
    """The shipped config with its certificate and log files under ``tmp_path``."""
    cert = trustme.CA().issue_cert("localhost", "127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "gateway.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "gateway.key"))
    text = CONF.read_text(encoding="utf-8")
    assert "/etc/lienthong/nginx/" in text
    assert "/var/log/nginx/" in text
    return text.replace("/etc/lienthong/nginx/", f"{tmp_path}/").replace(
        "/var/log/nginx/", f"{tmp_path}/"
    )


def _nginx_args(nginx: str, conf: Path, tmp_path: Path, *more: str) -> list[str]:
    """nginx on ``conf``, its pid file and start-up log in ``tmp_path`` too."""
    globals_ = f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/nginx-main.log;"
    return [nginx, "-c", str(conf), "-p", f"{tmp_path}/", "-g", " ".join((globals_, *more))]


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    """``nginx -t -c`` passes on the shipped file (its paths placed in a temporary folder)."""
    nginx = require_tool("nginx", "nginx-light")
    conf = tmp_path / "lienthong.conf"
    conf.write_text(_placed(tmp_path))
    done = run_tool([*_nginx_args(nginx, conf, tmp_path), "-t"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "test is successful" in done.stderr


def test_limits_match_the_gateway() -> None:
    """Body size and timeouts follow the gateway's defaults; POST is never retried."""
    from adapters.config import OperationPolicy
    from gateway.config import load_settings

    settings = load_settings(None)
    text = CONF.read_text(encoding="utf-8")
    assert settings.server.max_body_bytes == 1024 * 1024
    assert set(re.findall(r"client_max_body_size (\S+);", text)) == {"1m"}
    deadline = max(
        OperationPolicy().deadline_seconds,  # what every operation gets unless configured
        *(
            op.deadline_seconds
            for section in (
                settings.upstreams.population.resilience,
                settings.upstreams.business.resilience,
            )
            for op in (section.default_operation, *section.operations.values())
        ),
    )
    for seconds in re.findall(r"proxy_read_timeout (\d+)s;", text):
        assert int(seconds) > deadline
    assert "non_idempotent" not in text.replace("`non_idempotent`", "")
    assert set(re.findall(r"proxy_next_upstream ([^;]+);", text)) == {"error timeout"}


class DroppingPeer:
    """An 'instance' that reads each request and closes without answering; counts them."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.requests: list[str] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    self.requests.append(data.split(b" ", 1)[0].decode())

    def close(self) -> None:
        self.sock.close()


@contextmanager
def _running_nginx(tmp_path: Path, upstreams: list[int]) -> Iterator[int]:
    """nginx on a free loopback port in front of ``upstreams``; stopped by its pid."""
    nginx = require_tool("nginx", "nginx-light")
    port, tls_port = free_port(), free_port()
    text = _placed(tmp_path)
    servers = "".join(
        f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n" for p in upstreams
    )
    text, n = re.subn(r"(        server 127\.0\.0\.\d:8700 [^\n]*\n)+", servers, text)
    assert n == 1
    text = text.replace("listen [::]:443 ssl http2;", "")
    text = text.replace("listen 443 ssl", f"listen 127.0.0.1:{tls_port} ssl")
    text = text.replace("listen 8700;", f"listen 127.0.0.1:{port};")
    text = text.replace("worker_processes auto;", "worker_processes 1;")
    conf = tmp_path / "lienthong.conf"
    conf.write_text(text)
    log = (tmp_path / "nginx.out").open("wb")
    proc = subprocess.Popen(  # noqa: S603 (nginx found by require_tool, fixed arguments)
        _nginx_args(nginx, conf, tmp_path, "daemon off;"), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        for _ in range(200):  # a bound on waiting for the listener, not a timing assertion
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail("nginx did not start: " + (tmp_path / "nginx.out").read_text())
                time.sleep(0.05)
        yield port
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _status(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310 (http://127.0.0.1)
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_a_get_is_retried_on_the_next_instance_a_post_never(tmp_path: Path) -> None:
    """An instance that drops the connection: GET goes on to the next one, POST does not."""
    require_tool("nginx", "nginx-light")
    first, second = DroppingPeer(), DroppingPeer()
    try:
        with _running_nginx(tmp_path, [first.port, second.port]) as port:
            url = f"http://127.0.0.1:{port}/v1/payments/some-id"
            post = urllib.request.Request(url, data=b"{}", method="POST")
            assert _status(post) == 502
            assert sorted(first.requests + second.requests) == ["POST"]
            assert _status(urllib.request.Request(url)) == 502
    finally:
        first.close()
        second.close()
    assert sorted(first.requests + second.requests) == ["GET", "GET", "POST"]
    assert first.requests.count("GET") == second.requests.count("GET") == 1


@pytest.mark.slow
def test_signed_requests_pass_through_unchanged(tmp_path: Path) -> None:
    """A request signed for the balancer's address verifies at the gateway behind it."""
    require_tool("nginx", "nginx-light")
    with running_gateway(tmp_path) as gw:
        gateway_port = int(gw.url.rsplit(":", 1)[1])
        with _running_nginx(tmp_path, [gateway_port]) as port:
            url = f"http://127.0.0.1:{port}/v1/citizens/verify?trace=1"
            body = json.dumps(CLAIM).encode()
            headers = sign_request(
                "POST",
                url,
                {"Content-Type": "application/json"},
                body,
                "motcua-demo",
                SECRETS["motcua-demo"],
            )
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=30) as r:  # noqa: S310
                verdict = json.loads(r.read())
                request_id = r.headers["X-Request-ID"]
            assert verdict["verdict"] == "match"
            assert request_id
            health = urllib.request.Request(f"http://127.0.0.1:{port}/healthz")
            assert _status(health) == 200
            assert _status(urllib.request.Request(f"http://127.0.0.1:{port}/metrics")) == 404
