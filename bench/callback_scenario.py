"""Payment callbacks (issue #4): durably processed callbacks per second, beside a bare insert loop.

For each store (SQLite, then PostgreSQL when reachable), in one run:

1. setup, not timed: a fresh store (a SQLite file; a PostgreSQL schema of its
   own) with ``warmup + max_requests`` pending dvcqg payments;
2. the baseline: a bare loop of single-row INSERT + COMMIT on the same
   database through the same store layer, in a process pinned where the
   gateway runs (:func:`bench.callback_store.insert_baseline`);
3. a gateway with payments on, on that store; the load generator sends each
   payment its valid signed ``paid`` callback (and redeliveries, when asked),
   every answer must be ``MaLoi`` 00; callbacks/s, p50/p99, gateway CPU per
   callback;
4. afterwards, with the gateway stopped: every payment called back is paid
   exactly once with one outbox event; the others are untouched.

A callback is "durably processed" when its answer is sent: the payment's
conditional update and its outbox row are committed (and, the audit log on,
the callback's audit record). The outbox dispatcher and the poller sleep
through the run: webhook delivery is not part of this figure.
"""

from __future__ import annotations

from pathlib import Path

from adapters.payment.base import provider_timestamp, vietnam_now
from bench.callback_store import (
    LedgerCheck,
    check_ledger,
    drop_schema,
    insert_baseline,
    new_schema_name,
    seed_pending_payments,
)
from bench.callbacks import CALLBACK_PATH, DvcqgCallbacks
from bench.figures import Check, Comparison, Figures, ratio
from bench.loadgen import LoadResult
from bench.processes import run_in_process
from bench.scenario_kit import ScenarioReport, saturation
from bench.stack import BENCH_CLIENT_ID, BenchStack, GatewayVariant
from bench.targets import Target
from gateway.store import StoreConfig

BASELINE = "insert"


def store_config(stack: BenchStack, backend: str) -> StoreConfig:
    """The store one backend's run uses: a new SQLite file, or a new PostgreSQL schema."""
    if backend == "sqlite":
        directory = stack.workdir / "callbacks-sqlite"
        directory.mkdir(parents=True, exist_ok=True)
        return StoreConfig(url=f"sqlite:///{Path(directory, 'callbacks.db')}")
    return StoreConfig(
        url=stack.settings.postgres_dsn, schema_name=new_schema_name("bench_callbacks")
    )


def callbacks(stack: BenchStack) -> ScenarioReport:
    """Signed dvcqg callbacks through the gateway vs a bare insert loop, per store."""
    report = ScenarioReport(
        "callbacks",
        "Payment callbacks durably processed (POST /callbacks/dvcqg, issue #4)",
        unit="per s",
    )
    for backend in stack.settings.stores:
        try:
            _one_store(stack, report, backend)
        except RuntimeError as exc:  # a child process, the gateway or the load generator failed
            report.checks.append(Check(f"{backend}: the run ended normally", False, str(exc)))
    share = stack.settings.callback_duplicate_share
    report.notes += [
        "gateway rows: callbacks/s answered MaLoi 00 (each committed with its outbox row and"
        " audit record); insert rows: rows/s of a bare loop, single-row INSERT + COMMIT, one"
        " connection, through the same store layer and durability settings",
        f"redeliveries: {share:.0%} of the callbacks repeat the one sent just before",
        "the outbox dispatcher and the poller sleep through the run (webhook delivery is"
        " not in the figure); PostgreSQL's own server processes are neither pinned nor charged",
    ]
    return report


def _one_store(stack: BenchStack, report: ScenarioReport, backend: str) -> None:
    settings = stack.settings
    config = store_config(stack, backend)
    count = settings.warmup_requests + settings.max_requests
    problem, bills = run_in_process(seed_pending_payments, config, count, BENCH_CLIENT_ID)
    if problem is not None:
        report.notes.append(f"{backend}: skipped, the database is not reachable ({problem})")
        return
    dropped = config.schema_name is None
    try:
        baseline = run_in_process(
            insert_baseline,
            config,
            settings.max_requests,
            settings.duration,
            cpus=stack.cpus.servers,
        )
        insert = Figures.from_result(
            report.name,
            BASELINE,
            backend,
            LoadResult(baseline.latencies, {}, baseline.elapsed),
            {"insert-loop": baseline.cpu_seconds},
            {},
        )
        report.figures.append(insert)
        name = f"gateway-{backend}"
        try:
            stack.start_gateway(
                name,
                GatewayVariant(store_url=config.url, schema_name=config.schema_name, payments=True),
            )
        except RuntimeError as exc:
            report.notes.append(f"{backend}: the payments gateway did not start: {exc}")
            return
        factory = DvcqgCallbacks(
            stack.url(name) + CALLBACK_PATH,
            bills,
            provider_timestamp(vietnam_now()),
            settings.callback_duplicate_share,
        )
        try:
            measured = stack.run(Target("gateway", factory, (name,)), saturation(stack))
        finally:
            stack.stop_server(name)
        gateway = measured.figures(report.name, "gateway", backend)
        report.figures.append(gateway)
        result = measured.result
        plan = factory.plan(count)
        sent = plan[: min(len(plan), settings.warmup_requests) + result.sent]
        called_back = frozenset(bills[i].reference for i in sent)
        clean = not result.errors and not result.warmup_errors
        check = run_in_process(check_ledger, config, called_back, clean, not dropped, timeout=300.0)
        dropped = True
        report.checks += _checks(backend, check, len(called_back), len(sent), len(bills), clean)
        report.comparisons += [
            Comparison(
                f"{backend}: callbacks/s ÷ bare inserts/s",
                ratio(gateway.per_second, insert.per_second),
                "×",
            ),
            Comparison(
                f"{backend}: gateway CPU per callback ÷ insert-loop CPU per row",
                ratio(gateway.cpu_ms(name), insert.cpu_ms("insert-loop")),
                "×",
            ),
        ]
    finally:
        if not dropped:
            run_in_process(drop_schema, config, timeout=60.0)


def _checks(
    backend: str, check: LedgerCheck, called_back: int, sent: int, bills: int, clean: bool
) -> list[Check]:
    redeliveries = sent - called_back
    detail = (
        f"{check.paid_once:,} paid with one payment.paid event each, {check.untouched:,}"
        f" untouched pending, {check.outbox_events:,} outbox events; {called_back:,} payments"
        f" called back ({redeliveries:,} redeliveries) of {bills:,}"
    )
    if check.wrong:
        detail += "; wrong: " + "; ".join(check.wrong)
    checks = [
        Check(
            f"{backend}: every payment called back is paid exactly once, no other changed",
            not check.wrong,
            detail,
        ),
        Check(
            f"{backend}: one outbox event per paid payment",
            check.outbox_events == check.paid_once,
            f"{check.outbox_events:,} events, {check.paid_once:,} paid",
        ),
    ]
    if clean:
        checks.append(
            Check(
                f"{backend}: paid payments = payments called back",
                check.paid_once == called_back,
                f"{check.paid_once:,} paid, {called_back:,} called back",
            )
        )
    return checks
