"""The replay check as a scenario of ``make bench`` (``nonces``): the gateway's CPU per
signed request for each nonce store, beside the same verification with no nonce check,
and the in-memory store's bytes per nonce at 3,000 signed requests a second.

It runs :func:`bench.nonce_bench.measure_stores` in a process pinned where the load
generator runs (as the report scenario does). Issue 12's bound: on PostgreSQL the check
costs at most 0.15 ms of gateway CPU per signed request.
"""

from __future__ import annotations

import math

from bench import nonce_bench, nonce_memory
from bench.figures import Comparison, Figures
from bench.processes import quiet_logging, run_in_process
from bench.scenario_kit import ScenarioReport
from bench.stack import BenchStack

#: Issue 12: the shared (PostgreSQL) nonce check, gateway CPU per signed request.
POSTGRES_NONCE_CPU_TARGET_MS = 0.15
#: The in-memory store's fill for the bytes-per-nonce figure (a full run: 3,000/s × 300 s).
MEMORY_RATE, MEMORY_WINDOW = 3_000, 300


def quiet_measure(
    count: int, workers: int, stores: tuple[str, ...], dsn: str, memory_window: int
) -> tuple[list[nonce_bench.NonceCost], list[str], nonce_memory.NonceMemory]:
    """Both measurements with the child's INFO lines silenced."""
    quiet_logging()
    costs, notes = nonce_bench.measure_stores(count, workers, stores, dsn)
    return costs, notes, nonce_memory.measure(MEMORY_RATE, memory_window)


def nonces(stack: BenchStack) -> ScenarioReport:
    """Gateway CPU per signed request with each nonce store, and its baseline."""
    settings = stack.settings
    out = ScenarioReport("nonces", "Replay check: gateway CPU per signed request, per nonce store")
    memory_window = MEMORY_WINDOW if settings.nonce_requests >= 10_000 else 10
    costs, notes, memory = run_in_process(
        quiet_measure,
        settings.nonce_requests,
        settings.workers,
        tuple(settings.stores),
        settings.postgres_dsn,
        memory_window,
        cpus=stack.cpus.load_generator,
        timeout=1800.0,
    )
    baseline = None
    for cost in costs:
        if cost.store == "baseline":
            baseline = cost
            label = "no nonce check"
        else:
            label = cost.store
        out.figures.append(
            Figures(
                scenario="nonces",
                target="verify",
                mode=label,
                requests=cost.requests,
                errors={},
                seconds=cost.wall_s,
                per_second=cost.requests / cost.wall_s if cost.wall_s > 0 else math.nan,
                p50_ms=math.nan,
                p99_ms=math.nan,
                cpu_ms_per_request={"gateway": cost.cpu_ms},
            )
        )
        if cost.store == "baseline" or baseline is None:
            continue
        added = cost.cpu_ms - baseline.cpu_ms
        name = f"{cost.store}: nonce check CPU per signed request (store − baseline)"
        if cost.store == "postgres":
            out.comparisons.append(
                Comparison.at_most(name, added, POSTGRES_NONCE_CPU_TARGET_MS, " ms")
            )
        else:
            out.comparisons.append(Comparison(name, added, " ms"))
    out.notes += notes
    out.notes.append(
        f"in-memory store: {memory.held:,} nonces ({MEMORY_RATE:,}/s over {memory_window} s)"
        f" hold {memory.bytes_total / 1e6:.1f} MB, {memory.bytes_per_nonce:.1f} bytes a nonce"
        " (tracemalloc)"
    )
    out.notes.append(
        f"{settings.workers} concurrent verifications, in one process pinned beside the load"
        " generator; CPU = time.process_time() of that process (all its threads), each shared"
        " store's baseline run just before it; the database server's CPU is not counted"
    )
    return out
