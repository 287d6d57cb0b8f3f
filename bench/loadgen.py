"""The load generator: its own process (pinned apart from the servers), one aiohttp session.

The parent hands a :class:`LoadJob` to :func:`run_load`. The child process pins
itself, asks the job's :class:`RequestFactory` for every request it will send
(signing happens here, before any timing), runs a short warm-up, reports
"ready" and waits for "go" — the parent samples the servers' CPU time in
between — then runs the measured phase and sends back the latencies.

Two shapes, both bounded in count and in time:

- :class:`ClosedLoop`: ``workers`` concurrent callers, each sending its next
  request when the previous one answered (saturation throughput).
- :class:`OpenLoop`: requests started at a fixed ``rate`` whatever the answers
  (up to ``max_in_flight``). Latency is measured from each request's send, and
  also from its *scheduled* start, which shows a queue a stalled server hid
  (coordinated omission) — or a load generator that fell behind (``max_start_lag``).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Protocol

import aiohttp


@dataclass(frozen=True)
class PreparedRequest:
    """One request exactly as it goes on the wire (signed already, when the target wants it)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""


class RequestFactory(Protocol):
    """Builds a target's requests inside the load generator process (must be picklable)."""

    @property
    def expected_status(self) -> int: ...

    @property
    def expected_fields(self) -> tuple[tuple[str, str], ...]:
        """``(key, value)`` pairs an answer's JSON object must hold too (none: status only)."""
        ...

    def prepare(self, count: int) -> Sequence[PreparedRequest]:
        """``count`` requests (fewer if the factory has no more distinct ones to give)."""
        ...


@dataclass(frozen=True)
class ClosedLoop:
    """``workers`` callers back to back, for ``duration`` s or ``max_requests``, whichever first."""

    workers: int
    duration: float
    max_requests: int

    @property
    def requests_needed(self) -> int:
        return self.max_requests


@dataclass(frozen=True)
class OpenLoop:
    """``rate`` requests per second for ``duration`` seconds, started on schedule."""

    rate: float
    duration: float
    max_in_flight: int = 512

    @property
    def requests_needed(self) -> int:
        return max(1, round(self.rate * self.duration))


LoadShape = ClosedLoop | OpenLoop


@dataclass(frozen=True)
class LoadJob:
    """What the load generator sends, how, and how long each request may take."""

    factory: RequestFactory
    shape: LoadShape
    warmup_requests: int = 200
    warmup_workers: int = 8
    request_timeout: float = 30.0


@dataclass
class LoadResult:
    """The measured phase: latencies (seconds) of expected answers, and everything else counted."""

    latencies: list[float]
    errors: dict[str, int]
    elapsed: float
    #: Open loop only: latencies counted from each request's scheduled start instead of its send.
    latencies_from_schedule: list[float] = field(default_factory=list)
    #: Open loop only: how late (s) the generator started its latest request (0 if on time).
    max_start_lag: float = 0.0
    prepared: int = 0
    #: The warm-up before the measured phase: answers as expected, and everything else.
    warmup_ok: int = 0
    warmup_errors: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def sent(self) -> int:
        """Measured requests sent: the first ``sent`` of the prepared ones (a closed loop
        takes them in order and stops taking at its deadline)."""
        return self.ok + self.error_count


@dataclass
class _Tally:
    expected_status: int
    expected_fields: tuple[tuple[str, str], ...] = ()
    latencies: list[float] = field(default_factory=list)
    latencies_from_schedule: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


async def _send(
    session: aiohttp.ClientSession,
    request: PreparedRequest,
    tally: _Tally,
    scheduled: float | None = None,
) -> None:
    started = time.perf_counter()
    try:
        async with session.request(
            request.method, request.url, headers=request.headers, data=request.body or None
        ) as reply:
            body = await reply.read()
            status = reply.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.errors[type(exc).__name__] += 1
        return
    if status == tally.expected_status and not _holds(body, tally.expected_fields):
        tally.errors["unexpected answer"] += 1
    elif status == tally.expected_status:
        answered = time.perf_counter()
        tally.latencies.append(answered - started)
        if scheduled is not None:
            tally.latencies_from_schedule.append(answered - scheduled)
    else:
        tally.errors[f"HTTP {status}"] += 1


def _holds(body: bytes, fields: tuple[tuple[str, str], ...]) -> bool:
    """Whether ``body`` is a JSON object with every ``(key, value)`` of ``fields``."""
    if not fields:
        return True
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and all(answer.get(k) == v for k, v in fields)


async def _closed_loop(
    session: aiohttp.ClientSession,
    requests: Sequence[PreparedRequest],
    workers: int,
    duration: float,
    tally: _Tally,
) -> float:
    pending = iter(requests)
    start = time.perf_counter()
    deadline = start + duration

    async def worker() -> None:
        for request in pending:
            if time.perf_counter() >= deadline:
                return
            await _send(session, request, tally)

    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - start


async def _open_loop(
    session: aiohttp.ClientSession,
    requests: Sequence[PreparedRequest],
    shape: OpenLoop,
    tally: _Tally,
) -> tuple[float, float]:
    interval = 1.0 / shape.rate
    in_flight = asyncio.Semaphore(shape.max_in_flight)
    tasks: set[asyncio.Task[None]] = set()
    max_lag = 0.0

    async def one(request: PreparedRequest, scheduled: float) -> None:
        try:
            await _send(session, request, tally, scheduled)
        finally:
            in_flight.release()

    start = time.perf_counter()
    for index, request in enumerate(requests):
        scheduled = start + index * interval
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await in_flight.acquire()
        max_lag = max(max_lag, time.perf_counter() - scheduled)
        task = asyncio.create_task(one(request, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return time.perf_counter() - start, max_lag


async def _generate(job: LoadJob, conn: Connection) -> LoadResult:
    shape = job.shape
    requests = job.factory.prepare(job.warmup_requests + shape.requests_needed)
    warmup, measured = requests[: job.warmup_requests], requests[job.warmup_requests :]
    pool = shape.workers if isinstance(shape, ClosedLoop) else shape.max_in_flight
    connector = aiohttp.TCPConnector(limit=max(pool, job.warmup_workers), force_close=False)
    timeout = aiohttp.ClientTimeout(total=job.request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        expected = (job.factory.expected_status, job.factory.expected_fields)
        warm = _Tally(*expected)
        await _closed_loop(session, warmup, job.warmup_workers, 60.0, warm)
        conn.send(("ready", {"warmup_errors": dict(warm.errors), "warmup_ok": len(warm.latencies)}))
        conn.recv()  # "go": the parent has sampled the servers' CPU time
        tally = _Tally(*expected)
        lag = 0.0
        if isinstance(shape, ClosedLoop):
            elapsed = await _closed_loop(session, measured, shape.workers, shape.duration, tally)
        else:
            elapsed, lag = await _open_loop(session, measured, shape, tally)
    return LoadResult(
        tally.latencies,
        dict(tally.errors),
        elapsed,
        tally.latencies_from_schedule,
        lag,
        len(measured),
    )


def _child_main(job: LoadJob, cpus: frozenset[int] | None, conn: Connection) -> None:
    try:
        if cpus is not None:
            os.sched_setaffinity(0, cpus)
        result = asyncio.run(_generate(job, conn))
        conn.send(("result", result))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class LoadGeneratorFailed(RuntimeError):
    """The load generator process failed or did not answer in time."""


def _receive(conn: Connection, timeout: float, expected: str) -> object:
    if not conn.poll(timeout):
        raise LoadGeneratorFailed(f"no {expected!r} from the load generator within {timeout:.0f}s")
    kind, payload = conn.recv()
    if kind == "error":
        raise LoadGeneratorFailed(f"the load generator failed:\n{payload}")
    if kind != expected:
        raise LoadGeneratorFailed(f"expected {expected!r} from the load generator, got {kind!r}")
    return payload


def run_load(
    job: LoadJob,
    cpus: frozenset[int] | None,
    *,
    before_measuring: Callable[[], None] = lambda: None,
    prepare_timeout: float = 180.0,
) -> LoadResult:
    """Run ``job`` in a fresh load generator process; ``before_measuring`` runs just before "go".

    The process is always joined; if it outlives its bounds it is killed by its pid.
    """
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    process = context.Process(
        target=_child_main, args=(job, cpus, child_end), name="bench-load-generator"
    )
    process.start()
    child_end.close()
    try:
        warmup = _receive(parent_end, prepare_timeout, "ready")
        before_measuring()
        parent_end.send("go")
        bound = job.shape.duration + job.request_timeout + 30.0
        result = _receive(parent_end, bound, "result")
        assert isinstance(result, LoadResult)
        assert isinstance(warmup, dict)
        result.warmup_ok = int(warmup["warmup_ok"])
        result.warmup_errors = dict(warmup["warmup_errors"])
        return result
    finally:
        parent_end.close()
        process.join(5.0)
        if process.is_alive():
            process.kill()
            process.join(5.0)
        process.close()
