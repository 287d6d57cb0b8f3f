"""Slow and broken clients over raw loopback sockets: bounded header, body and idle time.

The gateway runs in-process (the code ``lienthong run`` uses) with its
``[server]`` bounds made short; each test speaks HTTP/1.1 by hand. Every wait
on a socket is bounded (30 s), never an assertion about how long anything took.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from tests.support.gateway import e2e_gateway

BOUND = 30.0  # seconds: a bound on waiting, never an expectation


@asynccontextmanager
async def gateway(tmp_path: Path, **server: Any) -> AsyncIterator[tuple[str, int]]:
    """A gateway with short connection bounds (overridable); yields (host, port)."""
    async with e2e_gateway(
        tmp_path,
        ngsp=False,
        https=False,
        server={
            "host": "127.0.0.1",
            "port": 0,
            "tls_port": 0,
            "header_read_timeout_seconds": 0.5,
            "body_read_timeout_seconds": 0.5,
            "keepalive_timeout_seconds": 1.0,
            **server,
        },
        tls={"generate_dev_pki": False, "dev_pki_dir": str(tmp_path / "pki")},
    ) as running:
        host, _, port = running.url.removeprefix("http://").rpartition(":")
        yield host, int(port)


def _recv_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (bounded by the socket's timeout)."""
    sock.settimeout(BOUND)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


async def _exchange(host: str, port: int, send: bytes) -> bytes:
    def run() -> bytes:
        with socket.create_connection((host, port), timeout=BOUND) as sock:
            sock.sendall(send)
            return _recv_all(sock)

    return await asyncio.to_thread(run)


async def test_a_request_head_that_never_finishes_gets_408_and_the_connection_closes(
    tmp_path: Path,
) -> None:
    """Slowloris on the headers: the line and one header, then silence."""
    async with gateway(tmp_path) as (host, port):
        answer = await _exchange(
            host, port, b"POST /v1/citizens/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        )
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"Connection: close" in answer
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["status"] == 408


async def test_a_body_that_never_finishes_gets_408_problem_and_the_connection_closes(
    tmp_path: Path,
) -> None:
    """Slowloris on the body: 10 of 1000 announced bytes, then silence."""
    head = (
        b"POST /v1/citizens/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    async with gateway(tmp_path) as (host, port):
        answer = await _exchange(host, port, head + b'{"id": "01')
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"application/problem+json" in answer
    problem = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert problem["type"].endswith("/request-timeout")


async def test_a_connection_that_never_sends_a_byte_is_closed(tmp_path: Path) -> None:
    """Silent from the start: closed after the head's deadline, not the long keep-alive time."""
    async with gateway(tmp_path, keepalive_timeout_seconds=600) as (host, port):
        assert await _exchange(host, port, b"") == b""


async def test_a_kept_alive_connection_idle_after_its_answer_is_closed(tmp_path: Path) -> None:
    """One request answered and kept alive, then nothing: closed after keepalive_timeout."""
    async with gateway(tmp_path) as (host, port):
        answer = await _exchange(host, port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert b"Connection: close" not in answer  # kept alive, then closed for idleness


async def test_connections_beyond_max_connections_get_503(tmp_path: Path) -> None:
    """With max_connections = 2, a third at once is answered 503; once one closes, served."""
    async with gateway(tmp_path, max_connections=2, keepalive_timeout_seconds=60) as (host, port):

        def run() -> tuple[bytes, bytes]:
            held = [socket.create_connection((host, port), timeout=BOUND) for _ in range(2)]
            try:
                for sock in held:  # each answered once: both are registered connections
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
                with socket.create_connection((host, port), timeout=BOUND) as third:
                    refused = _recv_all(third)
            finally:
                held[0].close()
            try:
                for _ in range(300):  # until the closed one is counted out (bounded)
                    with socket.create_connection((host, port), timeout=BOUND) as again:
                        again.sendall(
                            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                        )
                        served = _recv_all(again)
                    if served.startswith(b"HTTP/1.1 200 "):
                        break
                return refused, served
            finally:
                held[1].close()

        refused, served = await asyncio.to_thread(run)
    assert refused.startswith(b"HTTP/1.1 503 "), refused
    assert served.startswith(b"HTTP/1.1 200 "), served


async def test_a_client_that_disconnects_mid_body_is_logged_as_499(tmp_path: Path) -> None:
    """Half a body, then the client closes: access line status 499, no 500, no traceback."""
    head = (
        b"POST /v1/citizens/verify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    with capture_logs() as events:
        async with gateway(tmp_path, body_read_timeout_seconds=20) as (host, port):

            def run() -> None:
                with socket.create_connection((host, port), timeout=BOUND) as sock:
                    sock.sendall(head + b'{"id": "01')

            await asyncio.to_thread(run)
            for _ in range(600):  # until the access line is written (bounded)
                if any(e.get("event") == "request" and e.get("path") for e in events):
                    break
                await asyncio.sleep(0.05)
    lines = [e for e in events if e.get("event") == "request" and e.get("path")]
    assert lines, events
    assert lines[-1]["status"] == 499, lines
    assert lines[-1]["outcome"] == "client_disconnected"
    assert not [e for e in events if e.get("event") == "unhandled_error"]
