"""Running the gateway: listeners, the embedded sandboxes, signals, a clean stop.

Connections are bounded (``[server]`` keys): a connection that sends nothing is
closed after ``header_read_timeout_seconds``, an idle keep-alive connection after
``keepalive_timeout_seconds``; a request whose line and headers do not
arrive within ``header_read_timeout_seconds`` of its first byte is answered 408
and closed (:class:`_GuardedHandler`; its body is bounded by the body-read
deadline of :func:`gateway.auth.middleware.read_body_limited`); beyond
``max_connections`` at once on a listener a new connection is answered 503 and
closed.

Signals (:func:`serve`): SIGTERM or SIGINT drains (``/readyz`` 503 at once, the
listeners accept ``drain_seconds`` longer, then close; requests in flight get
``shutdown_timeout_seconds``; the workers stop and the audit log commits its tail
and a checkpoint); SIGHUP reloads what can change safely (:func:`plan_reload`).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from pydantic import BaseModel, SecretStr

from gateway import sdnotify
from gateway.appkeys import CLIENT_REGISTRY, SERVING
from gateway.config import ConfigError, Settings, load_settings, production_problems
from gateway.dev.pki import ensure_dev_pki
from gateway.logging import configure_logging
from gateway.signals import wait_for_stop

_log = structlog.get_logger("gateway.server")
_access = structlog.get_logger("gateway.access")


def _announce(lines: list[str]) -> None:
    print("\n".join(lines), file=sys.stderr, flush=True)


@dataclass
class Listeners:
    """Where a started gateway listens (the bound ports, also when 0 was configured)."""

    http_url: str
    https_url: str | None = None

    def describe(self) -> list[str]:
        lines = [f"gateway  {self.http_url}   (RFC 9421 signed requests)"]
        if self.https_url:
            lines.append(f"gateway  {self.https_url}  (city-CA client certificates)")
        return lines


@dataclass
class BoundListeners:
    """Listening sockets bound before the app is built, so their URLs are known up front.

    The embedded default needs the gateway's own URL before it starts: the payment
    sandboxes call back to it, and VNPay's pay URLs carry its return URL. Binding
    first (port 0 included) gives the real port without a guess-a-free-port race.
    """

    http: socket.socket
    https: socket.socket | None
    listeners: Listeners

    def close(self) -> None:
        self.http.close()
        if self.https is not None:
            self.https.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _url(scheme: str, host: str, sock: socket.socket) -> str:
    port = int(sock.getsockname()[1])
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def bind_listeners(settings: Settings, *, https_port: int | None = None) -> BoundListeners:
    """Bind the HTTP (and, when configured, HTTPS) listening sockets; 0 picks a free port."""
    host = settings.server.host
    http = _bind(host, settings.server.port)
    https: socket.socket | None = None
    tls_port = settings.server.tls_port if https_port is None else https_port
    try:
        if settings.server.tls_port or https_port is not None:
            https = _bind(host, tls_port)
    except OSError:
        http.close()
        raise
    listeners = Listeners(
        http_url=_url("http", host, http),
        https_url=_url("https", host, https) if https is not None else None,
    )
    return BoundListeners(http, https, listeners)


def local_url(url: str) -> str:
    """``url`` with a wildcard listen address replaced by loopback (for peers on this host)."""
    for wildcard in ("//0.0.0.0:", "//[::]:"):
        url = url.replace(wildcard, "//127.0.0.1:")
    return url


def _status_line(status: int, reason: str, detail: str) -> bytes:
    body = json.dumps(
        {"type": f"https://lienthong.example/problems/{reason}", "status": status, "detail": detail}
    ).encode()
    phrase = {408: "Request Timeout", 503: "Service Unavailable"}[status]
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    )
    if status == 503:
        head += "Retry-After: 1\r\n"
    return head.encode() + b"\r\n" + body


@dataclass
class ConnectionLimits:
    """The ``[server]`` bounds on one listener's connections."""

    header_read_timeout: float
    max_connections: int

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.server.header_read_timeout_seconds, settings.server.max_connections)


class _GuardedHandler(RequestHandler):
    """aiohttp's connection handler, with a deadline on the request line and headers.

    aiohttp itself bounds only idle time (``keepalive_timeout``, which closes
    silently); a client that sends part of a request and then trickles or stops
    (slowloris) would hold the connection for as long as that. Here the first
    byte of a request starts a timer of ``header_read_timeout``; if aiohttp has
    not parsed a whole request head by then, the client gets 408 and the
    connection closes. Reads aiohttp's handler state (``_messages``,
    ``_request_in_progress``, ``_waiter``): pinned by the lock file, and
    tests/server/test_slow_clients.py fails if an upgrade changes them.
    """

    def __init__(
        self, manager: Any, *, limits: ConnectionLimits, on_lost: Callable[[], None], **kwargs: Any
    ) -> None:
        super().__init__(manager, **kwargs)
        self._guard_limits = limits
        self._on_lost = on_lost
        self._head_timer: asyncio.TimerHandle | None = None
        self._born = self._loop.time()
        self._heard = False
        self._silence_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # A connection that never sends its first byte is closed after the head's
        # deadline, not after the (longer) keep-alive time meant for reused connections.
        self._silence_timer = self._loop.call_later(
            self._guard_limits.header_read_timeout, self._silent_timed_out
        )

    def _silent_timed_out(self) -> None:
        self._silence_timer = None
        if not self._heard:
            self.force_close()

    def _head_complete(self) -> bool:
        return bool(self._messages) or self._request_in_progress

    def settled(self) -> bool:
        """No request is arriving: one is being handled, or the connection is idle.

        A connection accepted moments ago that has not sent its request yet, or
        one whose request head is still arriving, is not settled: closing the
        idle connections now would drop that request after it was accepted.
        """
        if self._head_complete():
            return True
        if self._head_timer is not None:
            return False
        young = self._loop.time() - self._born < self._guard_limits.header_read_timeout
        return self._heard or not young

    def data_received(self, data: bytes) -> None:
        self._heard = True
        if self._silence_timer is not None:
            self._silence_timer.cancel()
            self._silence_timer = None
        if self._close or self._force_close:
            return  # aiohttp drops data on a closing connection; nothing to time
        if self._head_timer is None and not self._head_complete():
            self._head_timer = self._loop.call_later(
                self._guard_limits.header_read_timeout, self._head_timed_out
            )
        super().data_received(data)
        if self._head_timer is not None and self._head_complete():
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        waiting_for_head = self._waiter is not None and not self._waiter.done()
        if self._head_complete() or not waiting_for_head or self.transport is None:
            return
        timeout = self._guard_limits.header_read_timeout
        self.transport.write(
            _status_line(
                408, "request-timeout", f"the request head did not arrive within {timeout:g} s"
            )
        )
        _access.info(
            "request",
            status=408,
            outcome="rejected",
            reason="header_timeout",
            operation="unmatched",
            duration_ms=round(timeout * 1000, 3),
        )
        self.force_close()

    def _process_keepalive(self) -> None:
        if self._head_timer is not None:
            return  # a request head is under way: its own deadline decides
        super()._process_keepalive()

    def connection_lost(self, exc: BaseException | None) -> None:
        for timer in (self._head_timer, self._silence_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._silence_timer = None
        try:
            super().connection_lost(exc)
        finally:
            on_lost, self._on_lost = self._on_lost, lambda: None
            on_lost()


class _Busy(asyncio.Protocol):
    """Answers a connection beyond ``max_connections``: 503, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_status_line(503, "too-many-connections", "too many connections"))
        transport.close()


class GuardedSite(web.SockSite):
    """A listening socket served by :class:`_GuardedHandler`, at most ``max_connections`` at once.

    :meth:`stop_accepting` closes the listener without resetting connections the
    kernel already completed (they are taken and served first).
    """

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        limits: ConnectionLimits,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, sock, ssl_context=ssl_context)
        self.limits = limits
        self.connections = 0
        self.handlers: set[_GuardedHandler] = set()
        self._listening_sock = sock
        self._tls = ssl_context

    def _protocol(self) -> asyncio.BaseProtocol:
        if self.connections >= self.limits.max_connections:
            return _Busy()
        server = self._runner.server
        assert server is not None
        self.connections += 1

        def lost() -> None:
            self.connections -= 1
            self.handlers.discard(handler)

        handler = _GuardedHandler(
            server,
            loop=asyncio.get_running_loop(),
            limits=self.limits,
            on_lost=lost,
            **server._kwargs,
        )
        self.handlers.add(handler)
        return handler

    def settled(self) -> bool:
        return all(h.settled() for h in list(self.handlers))

    async def start(self) -> None:
        await web.BaseSite.start(self)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            sock=self._listening_sock,
            ssl=self._tls,
            backlog=self._backlog,
            ssl_handshake_timeout=self.limits.header_read_timeout if self._tls else None,
        )

    async def stop_accepting(self) -> None:
        """Close the listener; connections already in its accept queue are still served."""
        loop = asyncio.get_running_loop()
        sock = self._listening_sock
        pending: list[socket.socket] = []
        if self._server is not None and sock.fileno() != -1:
            loop.remove_reader(sock)
            while True:
                try:
                    conn, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                pending.append(conn)
            self._server.close()  # no await since the last accept: nothing else is queued
        for conn in pending:
            conn.setblocking(False)
            await loop.connect_accepted_socket(
                self._protocol,
                conn,
                ssl=self._tls,
                ssl_handshake_timeout=self.limits.header_read_timeout if self._tls else None,
            )


@dataclass
class RunningGateway:
    """A started gateway: its app, runner, sites and live TLS context (for drain and reload)."""

    app: web.Application
    runner: web.AppRunner
    sites: list[GuardedSite]
    listeners: Listeners
    settings: Settings
    tls_context: ssl.SSLContext | None = None
    tls_digest: str | None = None

    def begin_drain(self) -> None:
        """``/readyz`` answers 503 from now on, and every answer closes its connection."""
        self.app[SERVING].draining = True

    async def stop_accepting(self) -> None:
        """Close the listeners, then let every accepted connection's request arrive.

        Waits (at most ``header_read_timeout_seconds``) until no connection is still
        sending its request: the runner's cleanup that follows closes idle
        connections, and must not take a just-accepted one for idle.
        """
        for site in self.sites:
            await site.stop_accepting()
        for site in self.sites:
            await site.stop()  # already closed: only unregisters it from the runner
        step = 0.02
        for _ in range(int(self.settings.server.header_read_timeout_seconds / step) + 1):
            if all(site.settled() for site in self.sites):
                break
            await asyncio.sleep(step)


def _certificate_summary(path: Path) -> dict[str, str]:
    """What an operator checks a renewal by: subject, serial, expiry, SHA-256 fingerprint."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    return {
        "subject": cert.subject.rfc4514_string(),
        "serial": format(cert.serial_number, "x"),
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
    }


def _tls_digest(settings: Settings) -> str:
    h = hashlib.sha256()
    for path in (settings.tls.cert_file, settings.tls.key_file):
        h.update(Path(path).read_bytes())
    return h.hexdigest()


async def start_running_gateway(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    https_port: int | None = None,
    bound: BoundListeners | None = None,
) -> RunningGateway:
    """Start the gateway's listeners inside ``stack``; what :func:`serve` drains and reloads."""
    from gateway.app import create_app

    if bound is None:
        bound = bind_listeners(settings, https_port=https_port)
    stack.callback(bound.close)
    app = create_app(settings)
    server = settings.server
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        keepalive_timeout=server.keepalive_timeout_seconds,
        shutdown_timeout=server.shutdown_timeout_seconds,
        # After a 408 on a body, the rest of it is read and dropped this long at most.
        lingering_time=min(2.0, server.body_read_timeout_seconds),
    )
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    limits = ConnectionLimits.of(settings)
    sites = [GuardedSite(runner, bound.http, limits)]
    ctx: ssl.SSLContext | None = None
    if bound.https is not None:
        from gateway.auth.tls import server_ssl_context

        ctx = server_ssl_context(
            settings.tls.cert_file,
            settings.tls.key_file,
            settings.tls.client_ca_file,
            require_client_cert=settings.server.require_client_certificate,
        )
        sites.append(GuardedSite(runner, bound.https, limits, ssl_context=ctx))
    for site in sites:
        await site.start()
    app[SERVING].accepting_since = time.time()
    return RunningGateway(
        app, runner, sites, bound.listeners, settings, ctx, _tls_digest(settings) if ctx else None
    )


async def start_gateway(
    settings: Settings,
    stack: AsyncExitStack,
    *,
    https_port: int | None = None,
    bound: BoundListeners | None = None,
) -> Listeners:
    """Start the gateway's listeners inside ``stack``; returns where they listen.

    The HTTPS listener starts when ``server.tls_port`` is set, or when
    ``https_port`` is given (0 picks a free port, as the tests do). ``bound``
    serves sockets bound earlier by :func:`bind_listeners`.
    """
    running = await start_running_gateway(settings, stack, https_port=https_port, bound=bound)
    return running.listeners


# --- Reload (SIGHUP) ---------------------------------------------------------------

#: Keys a reload applies; every other changed key needs a restart.
RELOADABLE_CLIENT_FIELDS = frozenset(
    {
        "name",
        "secrets",
        "certificate_cns",
        "operations",
        "rate_per_second",
        "burst",
        "return_url_prefixes",
    }
)
RELOADABLE_KEYS = frozenset({"logging.level", "tls.cert_file", "tls.key_file"})


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _flatten(getattr(value, name), f"{prefix}.{name}" if prefix else name, out)
    elif isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}", out)
    elif prefix == "clients" and isinstance(value, list):
        for client in value:
            _flatten(client, f"clients[{client.id}]", out)
    elif isinstance(value, SecretStr):
        out[prefix] = value.get_secret_value()
    elif isinstance(value, list | tuple):
        out[prefix] = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
    else:
        out[prefix] = value


@dataclass
class ReloadPlan:
    """What differs between two configurations: applied now, or waiting for a restart."""

    applied: list[str] = field(default_factory=list)
    restart_required: list[str] = field(default_factory=list)


def plan_reload(old: Settings, new: Settings) -> ReloadPlan:
    """The changed keys (names only, never values: some are secrets), sorted into the two kinds.

    Reloadable: the clients (added, removed, their secrets, rights, rate limits,
    certificate CNs, return URL prefixes), ``logging.level``, and the TLS
    certificate and key (for new connections). Everything else, a client's
    webhook included (the outbox dispatcher holds it), needs a restart.
    """
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(old, "", before)
    _flatten(new, "", after)
    plan = ReloadPlan()
    for key in sorted(before.keys() | after.keys()):
        if before.get(key, _MISSING) == after.get(key, _MISSING):
            continue
        if key in RELOADABLE_KEYS or _reloadable_client_key(key):
            plan.applied.append(key)
        else:
            plan.restart_required.append(key)
    return plan


_MISSING = object()


def _reloadable_client_key(key: str) -> bool:
    if not key.startswith("clients["):
        return False
    rest = key.partition("].")[2]
    return rest.split(".", 1)[0] in RELOADABLE_CLIENT_FIELDS


def _read_settings(config_path: Path | None, adjust: Callable[[Settings], Settings]) -> Settings:
    new = load_settings(config_path)
    problems = production_problems(new)
    if problems:
        raise ConfigError(config_path or Path("(embedded default)"), problems)
    return adjust(new)


def reload(
    running: RunningGateway,
    config_path: Path | None,
    adjust: Callable[[Settings], Settings] = lambda s: s,
) -> ReloadPlan | None:
    """Re-read the configuration and apply what can change safely; None if it was refused.

    A configuration that does not load (or, in production, is not fit for it),
    or a TLS certificate and key that do not load, leaves everything as it was
    and logs one line saying why. ``adjust`` maps the loaded settings as start-up
    did (the embedded sandboxes' endpoints).
    """
    sdnotify.reloading()
    try:
        return _reload(running, config_path, adjust)
    finally:
        sdnotify.ready(f"serving {running.listeners.http_url}")


def _reload(
    running: RunningGateway, config_path: Path | None, adjust: Callable[[Settings], Settings]
) -> ReloadPlan | None:
    old = running.settings
    try:
        new = _read_settings(config_path, adjust)
    except ConfigError as exc:
        _log.error("reload.refused", config=str(exc.path), problems=exc.errors)
        return None
    except Exception as exc:  # a credential file that cannot be read, and the like
        problem = f"{type(exc).__name__}: {exc}"
        _log.error("reload.refused", config=str(config_path), problems=[problem])
        return None
    plan = plan_reload(old, new)
    new_digest = running.tls_digest
    if running.tls_context is not None:
        from gateway.auth.tls import server_ssl_context

        try:
            # A whole new context first: a certificate and key that do not load or do not
            # match fail here, before the live context is touched.
            server_ssl_context(new.tls.cert_file, new.tls.key_file, old.tls.client_ca_file)
            new_digest = _tls_digest(new)
        except (OSError, ssl.SSLError) as exc:
            _log.error(
                "reload.refused",
                config=str(config_path),
                problems=[f"tls.cert_file/tls.key_file: {type(exc).__name__}: {exc}"],
            )
            return None
    running.app[CLIENT_REGISTRY].replace(new.clients)
    if new.logging.level != old.logging.level:
        configure_logging(level=new.logging.level, json_lines=old.logging.json_lines)
    certificate: dict[str, str] | None = None
    if running.tls_context is not None and new_digest != running.tls_digest:
        running.tls_context.load_cert_chain(str(new.tls.cert_file), str(new.tls.key_file))
        running.tls_digest = new_digest
        certificate = _certificate_summary(new.tls.cert_file)
        if "tls.cert_file" not in plan.applied:
            plan.applied.append("tls.certificate")  # same paths, new files (a renewal)
    # Keep what was applied; keys that need a restart keep their running values.
    running.settings = old.model_copy(
        update={
            "clients": new.clients,
            "logging": old.logging.model_copy(update={"level": new.logging.level}),
            "tls": old.tls.model_copy(
                update={"cert_file": new.tls.cert_file, "key_file": new.tls.key_file}
            ),
        }
    )
    _log.info(
        "reload.applied",
        changed=plan.applied,
        restart_required=plan.restart_required,
        **({"tls_certificate": certificate} if certificate else {}),
    )
    if plan.restart_required:
        _log.warning("reload.restart_required", keys=plan.restart_required)
    return plan


def freeze_startup_objects() -> None:
    """Move everything built at start-up out of the garbage collector's sight.

    The parsed WSDL, the schemas, the modules and the app are tens of thousands of
    long-lived objects; every full (generation 2) collection walked them all and
    stopped the event loop for 30 to 60 ms, which made the gateway's p99 (measured:
    server-side p99 12.4 → 5.0 ms, max 53 → 10 ms at 145 verifications/s).
    Frozen objects are never collected, which is what they are: alive until exit.
    """
    gc.collect()
    gc.freeze()
    _log.info("gc.frozen", objects=gc.get_freeze_count())


async def serve(
    settings: Settings,
    config_path: Path | None = None,
    *,
    bound: BoundListeners | None = None,
    adjust: Callable[[Settings], Settings] = lambda s: s,
) -> None:
    """``lienthong run``: serve until SIGTERM/SIGINT, then drain and stop; SIGHUP reloads.

    ``config_path`` is the file a reload re-reads (None: the embedded default).
    ``bound``: listening sockets bound elsewhere (a worker of :mod:`gateway.supervisor`);
    ``adjust`` maps the settings a reload reads as ``settings`` were (a worker's instance id).
    """
    configure_logging(level=settings.logging.level, json_lines=settings.logging.json_lines)
    ensure_dev_pki(settings)
    async with AsyncExitStack() as stack:
        where: list[str] = []
        if bound is None:
            bound = bind_listeners(settings)
        stack.callback(bound.close)
        if settings.sandbox.enabled:
            from gateway.dev.embedded import point_at_sandboxes, start_sandboxes

            gateway_url = local_url(bound.listeners.http_url)
            sandboxes = await start_sandboxes(settings, stack, gateway_url=gateway_url)

            given = adjust

            def pointed(s: Settings) -> Settings:
                return point_at_sandboxes(given(s), sandboxes, gateway_url=gateway_url)

            adjust = pointed
            settings = point_at_sandboxes(settings, sandboxes, gateway_url=gateway_url)
            where += sandboxes.describe()
        running = await start_running_gateway(settings, stack, bound=bound)
        where += running.listeners.describe()
        freeze_startup_objects()
        _announce(["lienthong is up:", *(f"  {w}" for w in where), "  Ctrl-C stops it."])
        _log.info("started", instance_id=settings.instance_id, environment=settings.environment)
        # Every listener (and sandbox) serves: only now may systemd call the service up.
        status = f"serving {bound.listeners.http_url}"
        await wait_for_stop(
            on_listening=lambda: sdnotify.ready(status),
            on_reload=lambda: reload(running, config_path, adjust),
        )
        sdnotify.stopping()
        await drain(running)
    _log.info("stopped")


async def drain(running: RunningGateway) -> None:
    """The first half of a clean stop; leaving the exit stack does the rest.

    ``/readyz`` turns 503 and the listeners keep accepting for ``drain_seconds``
    (a load balancer polling readiness moves traffic away meanwhile), then they
    close. Leaving the stack then runs the runner's cleanup: requests in flight
    get ``shutdown_timeout_seconds``, the app's cleanup stops the workers and the
    audit log commits its tail and a checkpoint.
    """
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: _log.info("stop.already_under_way"))
    server = running.settings.server
    running.begin_drain()
    _log.info("stopping", drain_seconds=server.drain_seconds)
    await asyncio.sleep(server.drain_seconds)
    await running.stop_accepting()
    _log.info("stopping.listeners_closed", shutdown_timeout_seconds=server.shutdown_timeout_seconds)


async def serve_sandboxes(settings: Settings) -> None:
    configure_logging(level=settings.logging.level, json_lines=settings.logging.json_lines)
    from gateway.dev.embedded import start_sandboxes

    async with AsyncExitStack() as stack:
        sandboxes = await start_sandboxes(settings, stack)
        _announce(["lienthong sandboxes are up:", *(f"  {w}" for w in sandboxes.describe())])
        await wait_for_stop(on_listening=lambda: sdnotify.ready("sandboxes serving"))
        sdnotify.stopping()
