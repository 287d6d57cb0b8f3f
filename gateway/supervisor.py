"""``lienthong run --workers N``: N gateway processes behind the same listening sockets.

The supervisor binds the listeners once (:func:`gateway.server.bind_listeners`) and
starts each worker as ``lienthong run --worker-index I`` with the sockets passed as
inherited file descriptors (``LIENTHONG_LISTEN_FDS``). Binding once rather than
``SO_REUSEPORT`` in each worker, because with one shared socket the kernel keeps one
accept queue: connections queued when a worker dies are accepted by the others
instead of being reset with the dead worker's own queue, a restarted worker serves
the same (also port-0) socket, and no other process can bind into the group. The
cost is that idle workers all wake for each connection (a small herd at N ≤ 8).

Each worker is a whole gateway (its own event loop, store pool, workers, audit
chain ``<instance_id>-w<I>``) and reads the same configuration itself. It reports
readiness over ``sd_notify`` to the supervisor's own socket (``$NOTIFY_SOCKET`` set
to it; the sender is known from its credentials); the supervisor sends systemd
``READY=1`` once every worker is ready, forwards SIGTERM/SIGINT (a drain) and SIGHUP
(a reload) to every worker, and restarts a worker that exits on its own after
``restart_backoff`` seconds, doubling up to :data:`MAX_BACKOFF`. A worker that exits
before it was ever ready, :data:`MAX_EARLY_EXITS` times in a row, is a configuration
or environment that cannot work: the supervisor stops the others and exits 1 with
one line saying so. After a stop it exits 0 when every worker stopped cleanly.

Several workers need a nonce store they share (``[server] nonce_store = "store"``):
:func:`refusal` says why not otherwise, and why not with the embedded sandboxes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import struct
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog

from gateway import sdnotify
from gateway.config import Settings
from gateway.server import BoundListeners, Listeners, _url, bind_listeners
from gateway.store import StoreConfig, open_store

#: Names the inherited listening sockets in a worker: ``http=3,https=4``.
LISTEN_FDS_ENV = "LIENTHONG_LISTEN_FDS"
#: A worker that exits before it was ready this many times in a row: give up.
MAX_EARLY_EXITS = 5
#: The longest wait before restarting a worker.
MAX_BACKOFF = 30.0

_log = structlog.get_logger("gateway.supervisor")
_UCRED = struct.Struct("3i")  # pid, uid, gid (SCM_CREDENTIALS)


def refusal(settings: Settings, workers: int) -> str | None:
    """Why ``--workers`` cannot run with these settings (one line), or None."""
    if workers < 1:
        return f"--workers {workers}: give at least 1"
    if workers == 1:
        return None
    if settings.server.nonce_store != "store":
        return (
            f'--workers {workers} needs [server] nonce_store = "store": with'
            f' "{settings.server.nonce_store}" each worker remembers its own nonces, so a'
            " signed request replayed to another worker would pass; or run --workers 1"
        )
    if settings.sandbox.enabled:
        return (
            f"--workers {workers} cannot start the embedded sandboxes once per worker:"
            " set [sandbox] enabled = false and run `lienthong sandbox` beside it"
        )
    return None


def worker_instance_id(instance_id: str, index: int) -> str:
    """The audit chain (and instance) name of worker ``index``: ``gw1`` → ``gw1-w2``."""
    return f"{instance_id}-w{index}"


def inherited_listeners(
    settings: Settings, environ: dict[str, str] | None = None
) -> BoundListeners:
    """The listening sockets a worker was given (``LIENTHONG_LISTEN_FDS``)."""
    spec = (os.environ if environ is None else environ)[LISTEN_FDS_ENV]
    fds = dict(part.split("=", 1) for part in spec.split(",") if part)
    http = socket.socket(fileno=int(fds["http"]))
    https = socket.socket(fileno=int(fds["https"])) if "https" in fds else None
    for sock in (http, https):
        if sock is not None:
            sock.setblocking(False)
    host = settings.server.host
    listeners = Listeners(
        http_url=_url("http", host, http),
        https_url=_url("https", host, https) if https is not None else None,
    )
    return BoundListeners(http, https, listeners)


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    ready: bool = False
    ever_ready: bool = False
    early_exits: int = 0
    backoff: float = 0.0
    waiter: asyncio.Task[int] | None = None


@dataclass
class Supervisor:
    """Starts, watches and stops the workers (see the module docstring)."""

    settings: Settings
    worker_count: int
    worker_argv: Sequence[str]
    restart_backoff: float = 0.5
    bound: BoundListeners | None = None
    workers: dict[int, _Worker] = field(default_factory=dict)
    _stopping: bool = False
    _announced: bool = False
    _failure: str | None = None
    _exits: asyncio.Queue[tuple[_Worker, int]] = field(default_factory=asyncio.Queue)
    _restarts: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT (exit 0 when all stopped cleanly) or a give-up (1)."""
        await self._migrate()
        self.bound = bound = bind_listeners(self.settings)
        notify_name = f"@lienthong-supervisor-{os.getpid()}-{secrets.token_hex(6)}"
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        notify.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        notify.bind(b"\0" + notify_name[1:].encode())
        notify.setblocking(False)
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload)
        loop.add_reader(notify, self._read_notifications, notify)
        try:
            for index in range(1, self.worker_count + 1):
                self.workers[index] = worker = _Worker(index)
                self._start(worker, notify_name)
            _log.info(
                "supervisor.started",
                workers=self.worker_count,
                http_url=bound.listeners.http_url,
                https_url=bound.listeners.https_url,
            )
            watcher = asyncio.create_task(self._watch(notify_name, stop))
            await stop.wait()
            watcher.cancel()
            return await self._stop_all()
        finally:
            loop.remove_reader(notify)
            notify.close()
            bound.close()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    async def _migrate(self) -> None:
        """Open the store once, so its migrations run here and not in N racing workers."""
        section = self.settings.store
        store = await open_store(
            StoreConfig(url=section.url, pool_size=1, schema_name=section.schema_name)
        )
        await store.close()

    # -- workers ----------------------------------------------------------------------

    def _start(self, worker: _Worker, notify_name: str) -> None:
        assert self.bound is not None
        fds = [self.bound.http.fileno()]
        spec = f"http={fds[0]}"
        if self.bound.https is not None:
            fds.append(self.bound.https.fileno())
            spec += f",https={fds[1]}"
        for fd in fds:
            os.set_inheritable(fd, True)
        env = {**os.environ, LISTEN_FDS_ENV: spec, "NOTIFY_SOCKET": notify_name}
        worker.ready = False
        worker.waiter = asyncio.create_task(self._spawn(worker, env, tuple(fds)))

    async def _spawn(self, worker: _Worker, env: dict[str, str], fds: tuple[int, ...]) -> int:
        argv = [*self.worker_argv, "--worker-index", str(worker.index)]
        worker.process = process = await asyncio.create_subprocess_exec(
            *argv, env=env, pass_fds=fds
        )
        _log.info("supervisor.worker_started", worker=worker.index, pid=process.pid)
        code = await process.wait()
        self._exits.put_nowait((worker, code))
        return code

    async def _watch(self, notify_name: str, stop: asyncio.Event) -> None:
        """Restart workers that exit on their own; give up on one that never gets ready."""
        while True:
            worker, code = await self._exits.get()
            worker.waiter = None
            worker.ready = False
            worker.early_exits = 0 if worker.ever_ready else worker.early_exits + 1
            _log.warning(
                "supervisor.worker_exited",
                worker=worker.index,
                pid=worker.process.pid if worker.process else None,
                returncode=code,
                early_exits=worker.early_exits,
            )
            if worker.early_exits >= MAX_EARLY_EXITS:
                self._failure = (
                    f"worker {worker.index} exited {worker.early_exits} times in a row"
                    f" before it was ready (last exit status {code}); see its log above"
                )
                stop.set()
                return
            if worker.ever_ready:
                worker.backoff = self.restart_backoff
            else:
                worker.backoff = min(max(worker.backoff * 2, self.restart_backoff), MAX_BACKOFF)
            worker.ever_ready = False
            sdnotify.notify(
                f"STATUS=worker {worker.index} exited (status {code}),"
                f" restarting in {worker.backoff:g} s"
            )
            self._restarts.add(asyncio.create_task(self._restart_later(worker, notify_name, stop)))

    async def _restart_later(self, worker: _Worker, notify_name: str, stop: asyncio.Event) -> None:
        _log.info("supervisor.worker_restarting", worker=worker.index, delay_seconds=worker.backoff)
        try:
            await asyncio.wait_for(stop.wait(), timeout=worker.backoff)
        except TimeoutError:
            self._start(worker, notify_name)
        finally:
            self._restarts.discard(asyncio.current_task())

    def _signal_all(self, sig: signal.Signals) -> None:
        for worker in self.workers.values():
            process = worker.process
            if process is not None and process.returncode is None and worker.waiter is not None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)

    def _reload(self) -> None:
        _log.info("supervisor.reload", workers=self.worker_count)
        sdnotify.reloading()
        for worker in self.workers.values():
            worker.ready = False
        self._announced = False
        self._signal_all(signal.SIGHUP)

    async def _stop_all(self) -> int:
        self._stopping = True
        sdnotify.stopping()
        self._signal_all(signal.SIGTERM)
        server = self.settings.server
        grace = server.drain_seconds + server.shutdown_timeout_seconds + 15.0
        waiters = [w.waiter for w in self.workers.values() if w.waiter is not None]
        _, pending = await asyncio.wait(waiters, timeout=grace) if waiters else (set(), set())
        for worker in self.workers.values():
            if worker.waiter in pending and worker.process is not None:
                _log.error("supervisor.worker_killed", worker=worker.index, after_seconds=grace)
                worker.process.kill()
        if pending:
            await asyncio.wait(pending)
        codes = {
            w.index: (w.process.returncode if w.process else None) for w in self.workers.values()
        }
        _log.info("supervisor.stopped", returncodes=codes)
        if self._failure is not None:
            print(f"lienthong run: {self._failure}; stopped the other workers", file=sys.stderr)
            return 1
        return 0 if not pending and all(code == 0 for code in codes.values()) else 1

    # -- readiness --------------------------------------------------------------------

    def _read_notifications(self, sock: socket.socket) -> None:
        """Read every datagram waiting on the notify socket (called by the event loop)."""
        while True:
            try:
                data, ancillary, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(_UCRED.size))
            except (BlockingIOError, InterruptedError):
                return
            pid = None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = _UCRED.unpack(payload[: _UCRED.size])[0]
            self._notified(pid, data.decode("utf-8", "replace").split("\n"))

    def _notified(self, pid: int | None, assignments: list[str]) -> None:
        worker = next(
            (w for w in self.workers.values() if w.process and w.process.pid == pid), None
        )
        if worker is None or "READY=1" not in assignments:
            return
        worker.ready = worker.ever_ready = True
        worker.early_exits = 0
        _log.info("supervisor.worker_ready", worker=worker.index, pid=pid)
        if self._stopping or not all(w.ready for w in self.workers.values()):
            return
        assert self.bound is not None
        status = f"STATUS=serving {self.bound.listeners.http_url} with {self.worker_count} workers"
        if self._announced:
            sdnotify.notify(status)  # every worker ready again (after a restart, a reload)
            return
        self._announced = True
        sdnotify.notify("READY=1", status)
        _log.info("supervisor.ready", workers=self.worker_count)
