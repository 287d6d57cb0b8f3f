"""Audit on vs off (issue #5): what appending the hash-chained audit log costs a verification.

Two fresh gateways started here, identical but for ``[audit] enabled`` (not
the stack's own gateway: it has served the other scenarios, and its caches and
detectors are warm), both pinned with the servers, each on its own SQLite file. The same signed
verification load goes to each in alternating rounds (on off, off on, …) so a
drift of the machine's speed favours neither; each side's runs are pooled into
one figure (throughput, p50/p99, gateway CPU per verification) and the report
gives the on/off ratios.
"""

from __future__ import annotations

from bench.figures import Comparison, ratio
from bench.scenario_kit import ScenarioReport, saturation, signed
from bench.stack import POPULATION, BenchStack, GatewayVariant, Measured
from bench.targets import Target, bench_citizens, verify_body
from gateway.audit.config import AuditConfig

#: The two gateways' server names.
GATEWAY_AUDIT_ON, GATEWAY_AUDIT_OFF = "gateway-audit", "gateway-noaudit"
AUDIT_ON, AUDIT_OFF = "audit on", "audit off"


def _verification_target(stack: BenchStack, server: str) -> Target:
    bodies = [verify_body(c) for c in bench_citizens()]
    factory = signed("POST", [stack.url(server) + "/v1/citizens/verify"], bodies)
    return Target("gateway", factory, (server, POPULATION))


def round_order(rounds: int) -> list[str]:
    """Which side runs when: ``on off``, then ``off on``, and so on (ABBA for two rounds)."""
    order: list[str] = []
    for index in range(rounds):
        pair = [AUDIT_ON, AUDIT_OFF]
        order += pair if index % 2 == 0 else pair[::-1]
    return order


def audit(stack: BenchStack) -> ScenarioReport:
    """Signed verifications with the audit log on and off; the on/off ratios."""
    report = ScenarioReport("audit", "Audit log on vs off (POST /v1/citizens/verify, issue #5)")
    if not stack.has_gateway:
        report.notes.append("gateway did not start: nothing measured")
        return report
    try:
        for name, enabled in ((GATEWAY_AUDIT_ON, True), (GATEWAY_AUDIT_OFF, False)):
            stack.start_gateway(name, GatewayVariant(audit_enabled=enabled))
        targets = {
            AUDIT_ON: _verification_target(stack, GATEWAY_AUDIT_ON),
            AUDIT_OFF: _verification_target(stack, GATEWAY_AUDIT_OFF),
        }
        runs: dict[str, list[Measured]] = {AUDIT_ON: [], AUDIT_OFF: []}
        rates: list[str] = []
        for side in round_order(stack.settings.audit_rounds):
            run = stack.run(targets[side], saturation(stack))
            runs[side].append(run)
            rates.append(f"{side} {run.figures(report.name, 'gateway', side).per_second:,.0f}")
    finally:
        stack.stop_server(GATEWAY_AUDIT_ON)
        stack.stop_server(GATEWAY_AUDIT_OFF)
    on = Measured.pooled(runs[AUDIT_ON]).figures(report.name, "gateway", AUDIT_ON)
    off = Measured.pooled(runs[AUDIT_OFF]).figures(report.name, "gateway", AUDIT_OFF)
    report.figures += [on, off]
    on_cpu = on.cpu_ms(GATEWAY_AUDIT_ON)
    off_cpu = off.cpu_ms(GATEWAY_AUDIT_OFF)
    report.comparisons += [
        Comparison("throughput audit on / off", ratio(on.per_second, off.per_second), "×"),
        Comparison("p50 audit on / off", ratio(on.p50_ms, off.p50_ms), "×"),
        Comparison("p99 audit on / off", ratio(on.p99_ms, off.p99_ms), "×"),
        Comparison("gateway CPU per verification audit on / off", ratio(on_cpu, off_cpu), "×"),
        Comparison("gateway CPU added by the audit log per verification", on_cpu - off_cpu, "ms"),
    ]
    rounds = stack.settings.audit_rounds
    report.notes.append(
        f"{rounds} round(s) per side in the order {' | '.join(round_order(rounds))}, pooled;"
        f" two fresh gateways, {GATEWAY_AUDIT_ON} and {GATEWAY_AUDIT_OFF} (same config"
        " otherwise, each its own SQLite file); audit durability is the default,"
        f" {AuditConfig().durability!r}"
    )
    report.notes.append(
        "each run's req/s, in order (their spread is the noise the ratios sit in): "
        + ", ".join(rates)
    )
    return report
