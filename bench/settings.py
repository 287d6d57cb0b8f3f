"""What one benchmark run does: sizes, durations, logging level, where figures go."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BenchSettings(BaseModel):
    """The knobs of one ``python -m bench`` run (``--quick`` shrinks them for the smoke test)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Concurrent callers of a closed-loop (saturation) run.
    workers: int = Field(default=32, ge=1)
    #: Seconds of each measured run (closed loop: at most; open loop: exactly).
    duration: float = Field(default=8.0, gt=0)
    #: Upper bound on the requests of one closed-loop run (the loop stops at whichever first).
    max_requests: int = Field(default=30_000, ge=1)
    #: Requests sent (and not measured) before each run, so pools and caches are warm.
    warmup_requests: int = Field(default=200, ge=0)
    #: Open-loop rate as a fraction of the gateway's saturation throughput.
    half_saturation: float = Field(default=0.5, gt=0, le=1)
    #: Fixed-rate runs at that rate (each: the gateway, then the population sandbox directly).
    half_saturation_runs: int = Field(default=5, ge=1)
    #: The gateway's logging level; INFO is the production default and part of the real cost.
    gateway_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: Businesses the NGSP peer holds (a cold-cache run asks each one once).
    businesses: int = Field(default=40_000, ge=10)
    #: Which scenarios to run, in order (``reconcile`` takes minutes at its full size:
    #: ``--reconcile`` adds it).
    scenarios: tuple[str, ...] = (
        "verification",
        "business",
        "audit",
        "callbacks",
        "report",
        "nonces",
        "idle",
        "cluster",
    )
    #: Audit on/off: rounds of (on, off), the order alternating (on off, off on, …) so that
    #: a drift of the machine's speed during the run does not favour either side.
    audit_rounds: int = Field(default=2, ge=1)
    #: Payment callbacks and reconciliation: which stores (PostgreSQL is skipped, with the
    #: reason, when unreachable).
    stores: tuple[Literal["sqlite", "postgres"], ...] = ("sqlite", "postgres")
    #: Share of callbacks that are redeliveries of the one sent just before (0: none).
    callback_duplicate_share: float = Field(default=0.0, ge=0, lt=1)
    #: The PostgreSQL server of the callback and reconciliation scenarios (a fresh schema each,
    #: dropped afterwards); ``LIENTHONG_BENCH_POSTGRES_DSN`` overrides it.
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    #: Reconciliation: provider rows (and payments) per backend.
    reconcile_count: int = Field(default=1_000_000, ge=1)
    #: The quarterly report: audit records seeded per backend (issue 14's bound is for 1M).
    report_count: int = Field(default=1_000_000, ge=1)
    #: ``compare`` (run only when asked for): the other gateway's source tree, put first on
    #: its ``PYTHONPATH`` (another checkout of this repository, e.g. a ``git worktree`` of
    #: the commit before a change) …
    compare_source: Path | None = None
    #: … and/or environment overrides for it (``LIENTHONG_AUDIT__MAX_DELAY_SECONDS=0``).
    compare_env: dict[str, str] = Field(default_factory=dict)
    #: ``compare``: verifications per second of each run (None: the saturation loop) …
    compare_rate: float | None = Field(default=None, gt=0)
    #: … and runs per side, alternating (A B, B A, …).
    compare_rounds: int = Field(default=4, ge=1)
    #: The nonce scenario: signed requests verified per store (and per baseline).
    nonce_requests: int = Field(default=20_000, ge=1)
    #: Where ``bench-<timestamp>.json`` is written.
    output_dir: Path = Path("var")
    #: Seconds any server has to become ready.
    ready_timeout: float = Field(default=60.0, gt=0)

    @classmethod
    def quick(cls, **overrides: object) -> BenchSettings:
        """A tiny bounded run: a couple of hundred requests per target, a few workers, every
        scenario (reconciliation of a couple of thousand rows, some duplicate callbacks)."""
        values: dict[str, object] = {
            "workers": 8,
            "duration": 10.0,
            "max_requests": 200,
            "warmup_requests": 20,
            "businesses": 600,
            "scenarios": (
                "verification",
                "business",
                "audit",
                "callbacks",
                "reconcile",
                "report",
                "nonces",
                "idle",
            ),
            "audit_rounds": 1,
            "half_saturation_runs": 1,
            "callback_duplicate_share": 0.2,
            "reconcile_count": 2_000,
            "report_count": 2_000,
            "nonce_requests": 300,
        }
        values.update(overrides)
        return cls.model_validate(values)
