"""Where the running gateway's CPU goes, by stage: py-spy samples it from outside.

During the gateway's saturation run, ``py-spy record --nonblocking`` samples every
thread of the gateway process that is running (idle threads are not sampled, so
the samples follow CPU time, not wall time). Each sampled stack is put in the stage
of the first frame, from the leaf up, that a rule of :data:`STAGES` names; the stage's
share of the samples times the gateway's measured CPU per request gives µs per
request. A machine without py-spy (or without the right to trace) gets a note, not
a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: (stage, test on one frame "function (path:line)"), checked in this order on each frame.
Rule = Callable[[str, str], bool]


def _in(*parts: str) -> Rule:
    return lambda function, path: any(p in path for p in parts)


def _population(functions: frozenset[str]) -> Rule:
    def rule(function: str, path: str) -> bool:
        return ("adapters/population/" in path or "zeep/" in path) and function in functions

    return rule


STAGES: tuple[tuple[str, Rule], ...] = (
    (
        "population: reading the reply",
        _population(
            frozenset({"read_lookup_reply", "_parse_collection", "_read_complex", "_citizen_from"})
        ),
    ),
    (
        "population: building the envelope",
        _population(frozenset({"build_request", "render", "create_message", "template"})),
    ),
    ("hardened lxml parse and fault check", _in("population/xml_safety.py")),
    ("log lines (structlog, masking)", _in("structlog/", "gateway/logging.py")),
    ("audit records and commits", _in("gateway/audit/", "aiosqlite/", "sqlite3/")),
    ("signature check (parse, digest, nonce)", _in("gateway/auth/", "http_sf/")),
    ("resilience guard", _in("adapters/guard.py", "adapters/resilience/")),
    ("pydantic validation", _in("pydantic/", "pydantic_core/")),
    ("Prometheus", _in("prometheus_client/")),
    ("JSON", _in("gateway/jsoncodec.py", "json/")),
    (
        "aiohttp client request (and the adapter)",
        _in("aiohttp/client", "aiohttp/connector", "adapters/http.py", "adapters/population/"),
    ),
    ("aiohttp server and event loop", _in("aiohttp/", "asyncio/", "selectors.py")),
    ("the gateway's routes, verdict and middleware", _in("gateway/", "adapters/")),
)
OTHER = "other (interpreter, libraries)"


def _frames(stack: str) -> list[tuple[str, str]]:
    """``func (path:line);…`` → [(func, path)], root first."""
    frames = []
    for frame in stack.split(";"):
        function, _, rest = frame.partition(" (")
        frames.append((function, rest.rsplit(":", 1)[0]))
    return frames


def classify(stack: str) -> str:
    """The stage of one sampled stack: the first rule that names a frame, leaf first."""
    for function, path in reversed(_frames(stack)):
        for stage, rule in STAGES:
            if rule(function, path):
                return stage
    return OTHER


@dataclass
class StageProfile:
    """Samples per stage of one run (or why there are none)."""

    samples: Counter[str] = field(default_factory=Counter)
    problem: str | None = None

    @property
    def total(self) -> int:
        return sum(self.samples.values())

    def per_request_us(self, cpu_ms_per_request: float) -> list[tuple[str, float, float]]:
        """(stage, µs per request, share) in descending order."""
        total = self.total or 1
        rows = [
            (stage, cpu_ms_per_request * 1000 * n / total, n / total)
            for stage, n in self.samples.items()
        ]
        return sorted(rows, key=lambda row: -row[1])

    def table(self, cpu_ms_per_request: float) -> list[str]:
        if self.problem is not None or not self.total:
            return [f"stage table: none ({self.problem or 'no samples'})"]
        lines = [f"stage table ({self.total} samples of the gateway's running threads):"]
        lines += [
            f"  {stage:<46} {us:7.0f} µs  {share:5.1%}"
            for stage, us, share in self.per_request_us(cpu_ms_per_request)
        ]
        return lines

    def as_json(self) -> dict[str, object]:
        return {"samples": dict(self.samples), "problem": self.problem}


def parse_raw(text: str) -> Counter[str]:
    """py-spy's ``--format raw`` (collapsed stacks, ``stack count`` per line) by stage."""
    samples: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples[classify(stack)] += int(count)
    return samples


def py_spy() -> str | None:
    """The py-spy next to this interpreter, or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class StageSampler:
    """``py-spy record`` on one pid between :meth:`start` and :meth:`stop` (stopped by its pid)."""

    def __init__(self, pid: int, output: Path, rate: int = 250) -> None:
        self._pid = pid
        self._output = output
        self._rate = rate
        self._process: subprocess.Popen[bytes] | None = None
        self.profile = StageProfile()

    def start(self) -> None:
        binary = py_spy()
        if binary is None:
            self.profile.problem = "py-spy is not installed (it is in the dev lock)"
            return
        argv = [binary, "record", "--pid", str(self._pid), "--rate", str(self._rate)]
        argv += ["--format", "raw", "--nonblocking", "--output", str(self._output)]
        self._process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> StageProfile:
        process = self._process
        if process is None:
            return self.profile
        self._process = None
        if process.poll() is None:
            os.kill(process.pid, signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate()
        if not self._output.exists():
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            self.profile.problem = f"py-spy could not sample the gateway: {tail[0]}"
            return self.profile
        self.profile.samples = parse_raw(self._output.read_text(encoding="utf-8"))
        return self.profile
