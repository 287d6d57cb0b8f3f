"""Server processes for a benchmark: free loopback ports, CPU pinning, readiness, CPU time.

Every process is started with :class:`ServerProcess` and stopped by its pid
(SIGTERM, then SIGKILL after a grace period), also when the benchmark fails:
:class:`ProcessGroup` is a context manager that stops whatever it started.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypeVar, cast
from urllib.error import URLError
from urllib.request import urlopen

import structlog

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class CpuPlan:
    """Which CPUs the servers and the load generator run on; None = not pinned."""

    servers: frozenset[int] | None
    load_generator: frozenset[int] | None

    @classmethod
    def detect(cls) -> CpuPlan:
        """Servers on the first usable CPU, the load generator on the second; no pin on one CPU."""
        usable = sorted(os.sched_getaffinity(0))
        if len(usable) < 2:
            return cls(None, None)
        return cls(frozenset({usable[0]}), frozenset({usable[1]}))

    @property
    def pinned(self) -> bool:
        return self.servers is not None

    def describe(self) -> str:
        if not self.pinned:
            return "one CPU: servers and load generator NOT pinned (they share it)"
        return (
            f"servers pinned to CPU {sorted(self.servers or ())}, "
            f"load generator to CPU {sorted(self.load_generator or ())}"
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from ``/proc/<pid>/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat.rpartition(")")[2].split()  # fields[0] is field 3 (state)
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS


@dataclass
class ServerProcess:
    """One server in its own process, listening on ``port`` on loopback."""

    name: str
    argv: Sequence[str]
    port: int
    log_path: Path
    cpus: frozenset[int] | None = None
    env: dict[str, str] | None = None
    health_path: str | None = None
    _popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _log: IO[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._popen.pid

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        """Spawn the process (pinned before it runs any code, so its threads inherit the pin)."""
        cpus = self.cpus
        self._log = self.log_path.open("wb")

        def pin() -> None:
            if cpus is not None:
                os.sched_setaffinity(0, cpus)

        self._popen = subprocess.Popen(
            list(self.argv),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(self.env or {})},
            preexec_fn=pin,  # the bench parent starts no threads, so a pre-exec hook is safe
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the port accepts connections (and ``health_path`` answers 200)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._popen is not None and self._popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._popen.returncode}:\n{self.log_tail()}"
                )
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=0.5):
                pass
        except OSError:
            return False
        if self.health_path is None:
            return True
        try:
            with urlopen(self.base_url + self.health_path, timeout=2.0) as resp:  # noqa: S310
                return bool(resp.status == 200)
        except (URLError, OSError):
            return False

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def log_bytes(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM by pid, SIGKILL after ``grace`` seconds; always reaps and closes the log."""
        popen, self._popen = self._popen, None
        try:
            if popen is not None and popen.poll() is None:
                os.kill(popen.pid, signal.SIGTERM)
                try:
                    popen.wait(grace)
                except subprocess.TimeoutExpired:
                    os.kill(popen.pid, signal.SIGKILL)
                    popen.wait(grace)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None


class ProcessGroup:
    """Servers started together and stopped together (in reverse order), also on errors."""

    def __init__(self) -> None:
        self._started: list[ServerProcess] = []

    def start(self, server: ServerProcess, ready_timeout: float = 30.0) -> ServerProcess:
        self._started.append(server)
        server.start()
        server.wait_ready(ready_timeout)
        return server

    def stop(self, server: ServerProcess) -> None:
        """Stop one of the started servers now (by its pid) and forget it."""
        self._started = [started for started in self._started if started is not server]
        server.stop()

    def stop_all(self) -> None:
        while self._started:
            self._started.pop().stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()


def _call_and_send(
    func: Callable[..., object],
    args: tuple[object, ...],
    cpus: frozenset[int] | None,
    conn: Connection,
) -> None:
    try:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        conn.send(("result", func(*args)))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def quiet_logging() -> None:
    """Silence INFO lines (store migrations, reconciliation summaries) in a child process
    of the benchmark: they would land in the middle of the printed report."""
    logging.getLogger().setLevel(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def run_in_process(
    func: Callable[..., T],
    *args: object,
    cpus: frozenset[int] | None = None,
    timeout: float = 600.0,
) -> T:
    """``func(*args)`` in a fresh (spawned) process pinned to ``cpus``; its return value.

    Database work of the benchmark runs this way, so the parent never has threads
    (aiosqlite's) when it forks servers. ``func`` and its arguments must be picklable;
    the child is joined, and killed by its pid if it outlives ``timeout``.
    """
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(target=_call_and_send, args=(func, args, cpus, child_end))
    process.start()
    child_end.close()
    try:
        if not parent_end.poll(timeout):
            raise RuntimeError(f"{getattr(func, '__name__', func)} took more than {timeout:.0f}s")
        kind, payload = parent_end.recv()
        if kind == "error":
            raise RuntimeError(f"{getattr(func, '__name__', func)} failed:\n{payload}")
        return cast(T, payload)
    finally:
        parent_end.close()
        process.join(5.0)
        if process.is_alive():
            process.kill()
            process.join(5.0)
        process.close()


def python_module(module: str, *args: str) -> list[str]:
    """argv running ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
