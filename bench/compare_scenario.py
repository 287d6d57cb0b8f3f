"""This tree's gateway against another one: what a change costs, measured side by side.

On a shared VM the same gateway measured twice, minutes apart, differs by 10 to
20 % in CPU per request, which is the size of most optimisations. So the
``compare`` scenario (run only when asked for: ``--scenario compare``) starts
two fresh gateways in the same stack, A from this tree and B from another
checkout (``--compare-source``, put first on B's ``PYTHONPATH``) and/or with
other settings (``--compare-env KEY=VALUE``), both pinned with the servers and
calling the same population peer. The same signed verification load goes to
each in alternating rounds (A B, B A, …), at a fixed rate or at saturation;
each side's runs are pooled and the report gives A/B ratios and every run's
CPU per request, whose spread is the noise the ratios sit in.

B runs this tree's bench config with the other tree's code: a checkout whose
settings differ (a key it does not know) fails to start, with its log's tail.
"""

from __future__ import annotations

import os

from bench.figures import Check, Comparison, ratio
from bench.loadgen import LoadShape, OpenLoop
from bench.scenario_kit import ScenarioReport, saturation, signed
from bench.settings import BenchSettings
from bench.stack import POPULATION, BenchStack, GatewayVariant, Measured
from bench.targets import Target, bench_citizens, verify_body

GATEWAY_A, GATEWAY_B = "gateway-a", "gateway-b"
SIDE_A, SIDE_B = "A", "B"


def baseline_env(settings: BenchSettings) -> dict[str, str]:
    """B's environment on top of the bench's: its source tree first on PYTHONPATH, overrides."""
    env = dict(settings.compare_env)
    if settings.compare_source is not None:
        source = settings.compare_source.resolve()
        if not (source / "gateway" / "__init__.py").is_file():
            raise ValueError(f"{source} is not a checkout of this repository (no gateway/)")
        inherited = os.environ.get("PYTHONPATH")
        env["PYTHONPATH"] = str(source) + (os.pathsep + inherited if inherited else "")
    return env


def describe_b(settings: BenchSettings) -> str:
    parts = []
    if settings.compare_source is not None:
        parts.append(f"code from {settings.compare_source}")
    parts += [f"{key}={value}" for key, value in sorted(settings.compare_env.items())]
    return ", ".join(parts)


def round_order(rounds: int) -> list[str]:
    """A B, then B A, and so on: a drift of the machine's speed favours neither side."""
    order: list[str] = []
    for index in range(rounds):
        order += [SIDE_A, SIDE_B] if index % 2 == 0 else [SIDE_B, SIDE_A]
    return order


def _target(stack: BenchStack, server: str) -> Target:
    bodies = [verify_body(c) for c in bench_citizens()]
    factory = signed("POST", [stack.url(server) + "/v1/citizens/verify"], bodies)
    return Target("gateway", factory, (server, POPULATION))


def _shape(stack: BenchStack) -> tuple[LoadShape, str]:
    rate = stack.settings.compare_rate
    if rate is None:
        return saturation(stack), "saturation"
    duration = min(stack.settings.duration, stack.settings.max_requests / rate)
    return OpenLoop(rate=rate, duration=duration), f"fixed {rate:g}/s"


def compare(stack: BenchStack) -> ScenarioReport:
    """Signed verifications through gateway A (this tree) and B (the other); the A/B ratios."""
    settings = stack.settings
    report = ScenarioReport("compare", "This tree (A) against another gateway (B), side by side")
    if settings.compare_source is None and not settings.compare_env:
        report.checks.append(
            Check(
                "compare: something to compare with",
                False,
                "give --compare-source PATH (another checkout) and/or --compare-env KEY=VALUE",
            )
        )
        return report
    shape, mode = _shape(stack)
    runs: dict[str, list[Measured]] = {SIDE_A: [], SIDE_B: []}
    try:
        stack.start_gateway(GATEWAY_A, GatewayVariant())
        stack.start_gateway(
            GATEWAY_B, GatewayVariant(env=tuple(sorted(baseline_env(settings).items())))
        )
        targets = {SIDE_A: _target(stack, GATEWAY_A), SIDE_B: _target(stack, GATEWAY_B)}
        for side in round_order(settings.compare_rounds):
            runs[side].append(stack.run(targets[side], shape))
    finally:
        stack.stop_server(GATEWAY_A)
        stack.stop_server(GATEWAY_B)
    servers = {SIDE_A: GATEWAY_A, SIDE_B: GATEWAY_B}
    pooled = {
        side: Measured.pooled(runs[side]).figures(report.name, "gateway", f"{side} {mode}")
        for side in (SIDE_A, SIDE_B)
    }
    a, b = pooled[SIDE_A], pooled[SIDE_B]
    report.figures += [a, b]
    a_cpu, b_cpu = a.cpu_ms(GATEWAY_A), b.cpu_ms(GATEWAY_B)
    report.comparisons += [
        Comparison("gateway CPU per verification A / B", ratio(a_cpu, b_cpu), "×"),
        Comparison("gateway CPU per verification A − B", a_cpu - b_cpu, "ms"),
        Comparison("throughput A / B", ratio(a.per_second, b.per_second), "×"),
        Comparison("p50 A / B", ratio(a.p50_ms, b.p50_ms), "×"),
        Comparison("p99 A / B", ratio(a.p99_ms, b.p99_ms), "×"),
    ]
    report.notes.append(f"A = this tree; B = {describe_b(settings)}")
    for side in (SIDE_A, SIDE_B):
        each = [
            run.figures(report.name, "gateway", side).cpu_ms(servers[side]) for run in runs[side]
        ]
        report.notes.append(
            f"{side}: gateway CPU ms per verification in each run, in order: "
            + ", ".join(f"{cpu:.3f}" for cpu in each)
        )
    return report


__all__ = ["baseline_env", "compare", "round_order"]
