"""The servers of a benchmark, each in its own process on loopback, and how a run is measured.

:class:`BenchStack` starts the population and NGSP sandbox peers, the minimal
proxy in front of the population peer, and the gateway (``lienthong run`` with
the rendered ``gateway.bench.toml``), all pinned to the servers' CPU;
:meth:`BenchStack.start_gateway` adds another gateway (a :class:`GatewayVariant`:
audit off, payments on, another store) for one scenario. :meth:`BenchStack.run`
runs one load job against one target, charging each server process the CPU time
it spent during the measured phase (:class:`Measured`; several runs pool into
one), and :meth:`BenchStack.measure` turns it into :class:`~bench.figures.Figures`.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from types import TracebackType
from typing import Self

from adapters.payment.dvcqg.config import SANDBOX_HASH_KEY
from bench.callbacks import PARTNER_CODE
from bench.figures import Figures
from bench.loadgen import LoadJob, LoadResult, LoadShape, run_load
from bench.peer import BENCH_CONSUMER_KEY, BENCH_CONSUMER_SECRET
from bench.processes import CpuPlan, ProcessGroup, ServerProcess, free_loopback_port, python_module
from bench.settings import BenchSettings
from bench.stages import StageSampler
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


@dataclass(frozen=True)
class GatewayVariant:
    """What differs between the gateways one benchmark starts: audit, store, payments."""

    #: ``[audit] enabled``.
    audit_enabled: bool = True
    #: ``[store] url``; None = a SQLite file in the gateway's own directory.
    store_url: str | None = None
    #: ``[store] schema_name`` (PostgreSQL: the run's own schema).
    schema_name: str | None = None
    #: Payments on, with the dvcqg provider; the poller and the outbox dispatcher idle.
    payments: bool = False
    #: Environment of the gateway's process on top of the bench's own (``LIENTHONG_*``
    #: overrides; ``PYTHONPATH`` to run another checkout's code: the ``compare`` scenario).
    env: tuple[tuple[str, str], ...] = ()


#: The payment section of a callback benchmark's gateway: the dvcqg provider (its
#: base URL is never called: callbacks need no outbound call), the poller and the
#: outbox dispatcher asleep for the run (their work is not what is measured).
PAYMENTS_FOR_CALLBACKS = f"""enabled = true
default_provider = "dvcqg"
expiry_seconds = 86400

[payments.polling]
pending_age_seconds = 86400
interval_seconds = 3600

[payments.webhooks]
poll_interval_seconds = 3600

[upstreams.dvcqg.adapter]
base_url = "http://127.0.0.1:9"
partner_code = "{PARTNER_CODE}"
hash_key = "{SANDBOX_HASH_KEY}"
"""


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def render_gateway_config(
    directory: Path,
    *,
    gateway_port: int,
    population_port: int,
    ngsp_port: int,
    log_level: str,
    business_cache_ttl: float,
    variant: GatewayVariant | None = None,
    pki_dir: Path | None = None,
) -> Path:
    """Write the bench gateway config into ``directory``; returns its path."""
    variant = variant or GatewayVariant()
    store_lines = f"url = {_toml_string(variant.store_url or f'sqlite:///{directory}/bench.db')}"
    if variant.schema_name is not None:
        store_lines += f"\nschema_name = {_toml_string(variant.schema_name)}"
    text = Template(GATEWAY_TEMPLATE.read_text(encoding="utf-8")).substitute(
        gateway_port=gateway_port,
        population_port=population_port,
        ngsp_port=ngsp_port,
        log_level=log_level,
        store_lines=store_lines,
        payments_lines=PAYMENTS_FOR_CALLBACKS if variant.payments else "enabled = false",
        pki_dir=str(pki_dir or directory / "pki"),
        audit_enabled="true" if variant.audit_enabled else "false",
        business_cache_ttl=business_cache_ttl,
        ngsp_consumer_key=BENCH_CONSUMER_KEY,
        ngsp_consumer_secret=BENCH_CONSUMER_SECRET,
        client_id=BENCH_CLIENT_ID,
        client_secret=BENCH_CLIENT_SECRET,
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass(frozen=True)
class Measured:
    """One measured run before it becomes figures: what the load generator saw, what CPU cost."""

    result: LoadResult
    cpu_seconds: dict[str, float]
    log_bytes: dict[str, int]

    @classmethod
    def pooled(cls, runs: Sequence[Measured]) -> Measured:
        """Several runs of one target as one (latencies pooled, counts and times summed)."""
        latencies = [lat for run in runs for lat in run.result.latencies]
        errors: Counter[str] = Counter()
        cpu: Counter[str] = Counter()
        logs: Counter[str] = Counter()
        for run in runs:
            errors.update(run.result.errors)
            cpu.update(run.cpu_seconds)
            logs.update(run.log_bytes)
        result = LoadResult(
            latencies,
            dict(errors),
            sum(run.result.elapsed for run in runs),
            prepared=sum(run.result.prepared for run in runs),
        )
        return cls(result, dict(cpu), dict(logs))

    def figures(self, scenario: str, target: str, mode: str) -> Figures:
        return Figures.from_result(
            scenario, target, mode, self.result, self.cpu_seconds, self.log_bytes
        )


class BenchStack:
    """Every server of the benchmark, started in ``__enter__`` and stopped (by pid) on exit."""

    def __init__(self, settings: BenchSettings, cpus: CpuPlan) -> None:
        self.settings = settings
        self.cpus = cpus
        self.servers: dict[str, ServerProcess] = {}
        self.gateway_error: str | None = None
        #: Figures one scenario leaves for another of the same run (the proxy's CPU).
        self.baselines: dict[str, float] = {}
        self._ports = (0, 0)
        self._group = ProcessGroup()
        self._tmp = tempfile.TemporaryDirectory(prefix="lienthong-bench-")
        self.workdir = Path(self._tmp.name)

    def _server(
        self,
        name: str,
        argv: list[str],
        port: int,
        health: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        server = ServerProcess(
            name,
            argv,
            port,
            self.workdir / f"{name}.log",
            self.cpus.servers,
            env=env,
            health_path=health,
        )
        self.servers[name] = server  # registered first, so a failed start is stopped too
        self._group.start(server, self.settings.ready_timeout)

    def start(self) -> None:
        """Peers and proxy first (they must start); then the gateway (it may not, yet)."""
        population_port = free_loopback_port()
        ngsp_port = free_loopback_port()
        self._server(
            POPULATION,
            python_module("bench.peer", POPULATION, "--port", str(population_port)),
            population_port,
        )
        self._server(
            NGSP,
            python_module(
                "bench.peer",
                NGSP,
                "--port",
                str(ngsp_port),
                "--businesses",
                str(self.settings.businesses),
            ),
            ngsp_port,
        )
        proxy_port = free_loopback_port()
        self._server(
            PROXY,
            python_module(
                "bench.proxy",
                "--upstream",
                self.servers[POPULATION].base_url,
                "--port",
                str(proxy_port),
            ),
            proxy_port,
        )
        self._ports = (population_port, ngsp_port)
        try:
            self.start_gateway(GATEWAY, GatewayVariant())
        except RuntimeError as exc:
            self.gateway_error = str(exc)

    def start_gateway(self, name: str, variant: GatewayVariant) -> ServerProcess:
        """Another ``lienthong run`` (pinned with the servers) named ``name``, configured by
        ``variant``; RuntimeError (with its log's tail) when it does not become healthy."""
        population_port, ngsp_port = self._ports
        gateway_port = free_loopback_port()
        config = render_gateway_config(
            self.workdir / name,
            gateway_port=gateway_port,
            population_port=population_port,
            ngsp_port=ngsp_port,
            log_level=self.settings.gateway_log_level,
            business_cache_ttl=600.0,
            variant=variant,
            pki_dir=self.workdir / "pki",
        )
        try:
            self._server(
                name,
                [*lienthong_command(), "run", "--config", str(config)],
                gateway_port,
                health="/healthz",
                env=dict(variant.env) or None,
            )
        except RuntimeError:
            self.stop_server(name)
            raise
        return self.servers[name]

    def stop_server(self, name: str) -> None:
        """Stop one server by its pid (SIGTERM, then SIGKILL) before the stack ends."""
        server = self.servers.pop(name, None)
        if server is not None:
            self._group.stop(server)

    def url(self, server: str) -> str:
        return self.servers[server].base_url

    @property
    def has_gateway(self) -> bool:
        return GATEWAY in self.servers

    def run(
        self, target: Target, shape: LoadShape, sampler: StageSampler | None = None
    ) -> Measured:
        """One measured run of ``target`` with ``shape``: the load result and each server's CPU.

        ``sampler`` (py-spy on one server) samples the measured phase only.
        """
        charged = [self.servers[name] for name in target.servers]
        before: dict[str, float] = {}
        logs: dict[str, int] = {}

        def sample() -> None:
            for server in charged:
                before[server.name] = server.cpu_seconds()
                logs[server.name] = server.log_bytes()
            if sampler is not None:
                sampler.start()

        job = LoadJob(
            target.factory,
            shape,
            warmup_requests=self.settings.warmup_requests,
            warmup_workers=min(8, self.settings.workers),
        )
        try:
            result = run_load(job, self.cpus.load_generator, before_measuring=sample)
        finally:
            if sampler is not None:
                sampler.stop()
        cpu = {s.name: s.cpu_seconds() - before[s.name] for s in charged}
        log_growth = {s.name: s.log_bytes() - logs[s.name] for s in charged}
        return Measured(result, cpu, log_growth)

    def measure(self, scenario: str, target: Target, shape: LoadShape, mode: str) -> Figures:
        """One measured run of ``target`` with ``shape``: throughput, latency, server CPU."""
        return self.run(target, shape).figures(scenario, target.name, mode)

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
