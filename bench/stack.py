"""The servers of a benchmark, each in its own process on loopback, and how a run is measured.

:class:`BenchStack` starts the population and NGSP sandbox peers, the minimal
proxy in front of the population peer, and the gateway (``lienthong run`` with
the rendered ``gateway.bench.toml``), all pinned to the servers' CPU.
:meth:`BenchStack.measure` runs one load job against one target and turns it
into :class:`~bench.figures.Figures`, charging each server process the CPU time
it spent during the measured phase.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Self

from bench.figures import Figures
from bench.loadgen import LoadJob, LoadShape, run_load
from bench.peer import BENCH_CONSUMER_KEY, BENCH_CONSUMER_SECRET
from bench.processes import CpuPlan, ProcessGroup, ServerProcess, free_loopback_port, python_module
from bench.settings import BenchSettings
from bench.targets import Target

GATEWAY_TEMPLATE = Path(__file__).with_name("gateway.bench.toml")
#: The load generator's identity at the gateway (dev-only values).
BENCH_CLIENT_ID = "motcua-demo"
BENCH_CLIENT_SECRET = "motcua-demo-secret-change-me"

POPULATION, NGSP, PROXY, GATEWAY = "population", "ngsp", "proxy", "gateway"


def lienthong_command() -> list[str]:
    """The installed ``lienthong`` script beside this interpreter (the venv's)."""
    script = Path(sys.executable).with_name("lienthong")
    if script.exists():
        return [str(script)]
    return python_module("gateway")


def render_gateway_config(
    directory: Path,
    *,
    gateway_port: int,
    population_port: int,
    ngsp_port: int,
    log_level: str,
    business_cache_ttl: float,
    audit_enabled: bool = True,
) -> Path:
    """Write the bench gateway config into ``directory``; returns its path."""
    text = Template(GATEWAY_TEMPLATE.read_text(encoding="utf-8")).substitute(
        gateway_port=gateway_port,
        population_port=population_port,
        ngsp_port=ngsp_port,
        log_level=log_level,
        store_path=str(directory / "bench.db"),
        pki_dir=str(directory / "pki"),
        audit_enabled="true" if audit_enabled else "false",
        business_cache_ttl=business_cache_ttl,
        ngsp_consumer_key=BENCH_CONSUMER_KEY,
        ngsp_consumer_secret=BENCH_CONSUMER_SECRET,
        client_id=BENCH_CLIENT_ID,
        client_secret=BENCH_CLIENT_SECRET,
    )
    path = directory / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


class BenchStack:
    """Every server of the benchmark, started in ``__enter__`` and stopped (by pid) on exit."""

    def __init__(self, settings: BenchSettings, cpus: CpuPlan) -> None:
        self.settings = settings
        self.cpus = cpus
        self.servers: dict[str, ServerProcess] = {}
        self.gateway_error: str | None = None
        self._group = ProcessGroup()
        self._tmp = tempfile.TemporaryDirectory(prefix="lienthong-bench-")
        self.workdir = Path(self._tmp.name)

    def _server(self, name: str, argv: list[str], port: int, health: str | None = None) -> None:
        server = ServerProcess(
            name, argv, port, self.workdir / f"{name}.log", self.cpus.servers, health_path=health
        )
        self.servers[name] = self._group.start(server, self.settings.ready_timeout)

    def start(self) -> None:
        """Peers and proxy first (they must start); then the gateway (it may not, yet)."""
        population_port = free_loopback_port()
        ngsp_port = free_loopback_port()
        self._server(POPULATION, python_module("bench.peer", POPULATION, "--port",
                                               str(population_port)), population_port)
        self._server(NGSP, python_module("bench.peer", NGSP, "--port", str(ngsp_port),
                                         "--businesses", str(self.settings.businesses)), ngsp_port)
        proxy_port = free_loopback_port()
        self._server(PROXY, python_module("bench.proxy", "--upstream",
                                          self.servers[POPULATION].base_url, "--port",
                                          str(proxy_port)), proxy_port)
        gateway_port = free_loopback_port()
        config = render_gateway_config(
            self.workdir,
            gateway_port=gateway_port,
            population_port=population_port,
            ngsp_port=ngsp_port,
            log_level=self.settings.gateway_log_level,
            business_cache_ttl=600.0,
        )
        try:
            self._server(GATEWAY, [*lienthong_command(), "run", "--config", str(config)],
                         gateway_port, health="/healthz")
        except RuntimeError as exc:
            self.gateway_error = str(exc)
            self.servers.pop(GATEWAY, None)

    def url(self, server: str) -> str:
        return self.servers[server].base_url

    @property
    def has_gateway(self) -> bool:
        return GATEWAY in self.servers

    def measure(self, scenario: str, target: Target, shape: LoadShape, mode: str) -> Figures:
        """One measured run of ``target`` with ``shape``: throughput, latency, server CPU."""
        charged = [self.servers[name] for name in target.servers]
        before: dict[str, float] = {}
        logs: dict[str, int] = {}

        def sample() -> None:
            for server in charged:
                before[server.name] = server.cpu_seconds()
                logs[server.name] = server.log_bytes()

        job = LoadJob(
            target.factory,
            shape,
            warmup_requests=self.settings.warmup_requests,
            warmup_workers=min(8, self.settings.workers),
        )
        result = run_load(job, self.cpus.load_generator, before_measuring=sample)
        cpu = {s.name: s.cpu_seconds() - before[s.name] for s in charged}
        log_growth = {s.name: s.log_bytes() - logs[s.name] for s in charged}
        return Figures.from_result(scenario, target.name, mode, result, cpu, log_growth)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        try:
            self._group.stop_all()
        finally:
            self._tmp.cleanup()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
