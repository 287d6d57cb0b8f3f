"""The figures of one report, computed from the audit log and the payments table only.

Every figure is a ``GROUP BY`` in the store (SQLite's ``json_extract``,
PostgreSQL's ``->>`` over a ``::jsonb`` cast of the ``detail`` text), so a
quarter of a million-odd audited exchanges is a handful of grouped rows by the
time it reaches Python. What each figure counts:

* **Verifications**: ``inbound`` records of ``citizens.verify`` in the period, by
  ``detail.context.agency_code`` / ``procedure_code`` (empty when the caller gave
  none). Each falls in one verdict column: the ``detail.verdict`` of a 200
  (``match``, ``match_without_diacritics``, ``mismatch``, ``not_found``), or
  ``rejected`` (a 4xx answer) or ``error`` (5xx). The share answered without
  paper is ``match`` over all verifications.
* **Lookups**: ``citizens.lookup`` and ``businesses.read`` records: found (2xx),
  not found (404), refused (other 4xx), failed (5xx).
* **Payments**: payments *created* in the period, by agency, procedure and
  provider, counted by their status now. Amount collected: ``paid_amount`` (else
  ``amount``) of those ``paid``. Time to payment: ``updated_at − created_at`` of
  the ``paid`` ones (a paid payment changes no more unless it goes to review).
* **Availability** per national system (the part of an upstream exchange's
  operation before the dot): calls, calls answered (outcome ``ok`` or
  ``not_found``: the system answered) and the minutes in which its circuit
  breaker refused at least one call (outcome ``circuit_open``), per week of the
  period. The exchanges are those folded into ``inbound`` records
  (``detail.upstream``, a list; at the inbound record's time) and, from chains
  written before they were folded, the ``upstream`` records. Exchanges carry no
  agency: availability is the whole gateway's even when the report is for one
  agency.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from gateway.errors import CommandRefused
from gateway.reports.period import WEEK_US, Period
from gateway.store import Store

VERIFY = "citizens.verify"
CITIZEN_LOOKUP = "citizens.lookup"
BUSINESS_LOOKUP = "businesses.read"
#: The verdict columns of a verification, in the order of the stacked bar.
VERDICTS = ("match", "match_without_diacritics", "mismatch", "not_found", "rejected", "error")
#: Upstream outcomes that mean the national system answered.
ANSWERED = ("ok", "not_found")
CIRCUIT_OPEN = "circuit_open"
#: Payment statuses counted in their own column (``created``/``pending`` are still open).
PAYMENT_STATUSES = ("paid", "failed", "expired", "needs_review", "cancelled")
_MINUTE_US = 60_000_000

Progress = Callable[[str, int, int], None]


class NoData(CommandRefused, LookupError):
    """The period holds no audited exchange and no payment."""


@dataclass
class VerificationRow:
    """Verifications of one agency and procedure."""

    agency: str
    procedure: str
    verdicts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))

    @property
    def total(self) -> int:
        return sum(self.verdicts.values())

    @property
    def match_share(self) -> float | None:
        return self.verdicts["match"] / self.total if self.total else None


@dataclass
class LookupRow:
    """Citizen or business look-ups of one agency and procedure."""

    operation: str
    agency: str
    procedure: str
    found: int = 0
    not_found: int = 0
    refused: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.found + self.not_found + self.refused + self.failed


@dataclass
class PaymentRow:
    """Payments of one group (agency and procedure, or provider)."""

    key: tuple[str, ...]
    created: int = 0
    statuses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PAYMENT_STATUSES, 0))
    collected: int = 0
    waits_s: list[float] = field(default_factory=list, repr=False)

    @property
    def still_open(self) -> int:
        return self.created - sum(self.statuses.values())

    @property
    def median_wait_s(self) -> float | None:
        return statistics.median(self.waits_s) if self.waits_s else None


class _Calls(Protocol):
    @property
    def calls(self) -> int: ...

    @property
    def answered(self) -> int: ...


class _ShareAnswered:
    """The share of calls the system answered (a week's, or the period's)."""

    @property
    def share(self: _Calls) -> float | None:
        return self.answered / self.calls if self.calls else None


@dataclass
class WeekAvailability(_ShareAnswered):
    """One week of one national system."""

    first: date
    last: date
    calls: int = 0
    answered: int = 0
    breaker_minutes: int = 0


@dataclass
class SystemAvailability(_ShareAnswered):
    """A national system over the period, week by week."""

    system: str
    weeks: list[WeekAvailability]

    @property
    def calls(self) -> int:
        return sum(w.calls for w in self.weeks)

    @property
    def answered(self) -> int:
        return sum(w.answered for w in self.weeks)

    @property
    def breaker_minutes(self) -> int:
        return sum(w.breaker_minutes for w in self.weeks)


@dataclass
class ReportFigures:
    """Everything one report shows."""

    period: Period
    generated_at: datetime
    agency: str | None
    complete: bool
    verifications: list[VerificationRow]
    lookups: list[LookupRow]
    payments: list[PaymentRow]
    providers: list[PaymentRow]
    availability: list[SystemAvailability]

    @property
    def empty(self) -> bool:
        """Nothing of the agency's (or, for the whole city, not even an upstream call)."""
        if self.verifications or self.lookups or self.payments:
            return False
        return self.agency is not None or not any(s.calls for s in self.availability)


def _json_text(dialect: str, path: str) -> str:
    """The SQL for one text field of ``detail`` (``path`` like ``context.agency_code``)."""
    if dialect == "sqlite":
        return f"json_extract(detail, '$.{path}')"
    *parents, leaf = path.split(".")
    chain = "".join(f" -> '{p}'" for p in parents)
    return f"((detail::jsonb){chain} ->> '{leaf}')"


def _upstream_system(dialect: str) -> str:
    if dialect == "sqlite":
        return "substr(operation, 1, instr(operation || '.', '.') - 1)"
    return "split_part(operation, '.', 1)"


def _records(kind: str) -> str:
    """``FROM`` the audit records of ``kind`` in the period (``$1``/``$2``: its bounds in µs)."""
    return f" FROM audit_records WHERE time_us >= $1 AND time_us < $2 AND kind = '{kind}'"


def _exchanges(dialect: str, mentioning: str | None = None) -> str:
    """Every upstream exchange of the period as ``(operation, outcome, time_us)``: folded
    into ``inbound`` records (``detail.upstream``) and older chains' ``upstream`` records;
    only the records whose text holds ``mentioning``, when given (a cheap filter before
    the JSON is read)."""
    inbound = (
        "a.time_us >= $1 AND a.time_us < $2 AND a.kind = 'inbound'"
        """ AND a.detail LIKE '%"upstream"%'"""
        + (f" AND a.detail LIKE '%{mentioning}%'" if mentioning else "")
    )
    if dialect == "sqlite":
        folded = (
            "SELECT json_extract(u.value, '$.operation') AS operation,"  # noqa: S608 (fixed text)
            " json_extract(u.value, '$.outcome') AS outcome, a.time_us"
            " FROM audit_records a, json_each(a.detail, '$.upstream') u"
            f" WHERE {inbound}"
        )
    else:
        folded = (
            "SELECT u.value ->> 'operation' AS operation, u.value ->> 'outcome' AS outcome,"  # noqa: S608
            " a.time_us FROM audit_records a"
            " CROSS JOIN LATERAL jsonb_array_elements((a.detail::jsonb) -> 'upstream') u"
            f" WHERE {inbound}"
        )
    return (
        f"({folded} UNION ALL SELECT operation, outcome, time_us{_records('upstream')})"
        " AS exchanges"
    )


def inbound_sql(dialect: str) -> str:
    """Inbound records of the three operations, grouped (``$1``/``$2``: the period in µs).

    The ``fields`` column is a JSON array ``[agency, procedure, verdict]``: on SQLite one
    ``json_extract`` with three paths parses each ``detail`` once (SQLite before 3.45
    keeps no parse cache: three calls would parse it three times)."""
    if dialect == "sqlite":
        fields = (
            "json_extract(detail, '$.context.agency_code', '$.context.procedure_code', '$.verdict')"
        )
    else:
        parts = ", ".join(
            _json_text(dialect, p) for p in ("context.agency_code", "context.procedure_code")
        )
        fields = f"json_build_array({parts}, {_json_text(dialect, 'verdict')})::text"
    return (
        f"SELECT operation, {fields} AS fields, status, COUNT(*) AS n"
        + _records("inbound")
        + f" AND operation IN ('{VERIFY}', '{CITIZEN_LOOKUP}', '{BUSINESS_LOOKUP}')"
        " GROUP BY 1, 2, 3"
    )


def upstream_sql(dialect: str) -> str:
    system = _upstream_system(dialect)
    return (
        f"SELECT {system} AS system, (time_us - $1) / {WEEK_US} AS week,"  # noqa: S608
        f" outcome, COUNT(*) AS n FROM {_exchanges(dialect)} GROUP BY 1, 2, 3"
    )


def breaker_sql(dialect: str) -> str:
    system = _upstream_system(dialect)
    return (
        f"SELECT DISTINCT {system} AS system, time_us / {_MINUTE_US} AS minute"  # noqa: S608
        f" FROM {_exchanges(dialect, CIRCUIT_OPEN)} WHERE outcome = '{CIRCUIT_OPEN}'"
    )


PAYMENTS_SQL = (
    "SELECT agency_code, procedure_code, provider, status, COUNT(*) AS n,"
    " SUM(CASE WHEN status = 'paid' THEN COALESCE(paid_amount, amount) ELSE 0 END) AS collected"
    " FROM payments WHERE created_at >= $1 AND created_at < $2 GROUP BY 1, 2, 3, 4"
)
WAITS_SQL = (
    "SELECT agency_code, procedure_code, provider, updated_at - created_at AS waited"
    " FROM payments WHERE created_at >= $1 AND created_at < $2 AND status = 'paid'"
)


def _status_column(status: int | None) -> str:
    if status is not None and status < 400:
        return "ok"
    if status == 404:
        return "not_found"
    return "rejected" if status is not None and status < 500 else "error"


async def compute(
    store: Store,
    period: Period,
    now: datetime,
    *,
    agency: str | None = None,
    progress: Progress | None = None,
) -> ReportFigures:
    """All the figures of ``period`` (only ``agency``'s, when given). Raises :class:`NoData`."""
    dialect = store.dialect.name
    span = (period.start_us, period.end_us)
    steps = 5

    def step(name: str, done: int) -> None:
        if progress is not None:
            progress(name, done, steps)

    step("inbound", 0)
    verifications: dict[tuple[str, str], VerificationRow] = {}
    lookups: dict[tuple[str, str, str], LookupRow] = {}
    for row in await store.fetch_all(inbound_sql(dialect), *span):
        agency_code, procedure_code, verdict = json.loads(row["fields"])
        key = (str(agency_code or ""), str(procedure_code or ""))
        if agency is not None and key[0] != agency:
            continue
        n, column = int(row["n"]), _status_column(row["status"])
        if row["operation"] == VERIFY:
            v = verifications.setdefault(key, VerificationRow(*key))
            word = verdict if column == "ok" else column
            if word not in v.verdicts:  # a 2xx without a verdict (not written by this build)
                word = "error" if column in ("ok", "not_found") else column
            v.verdicts[str(word)] += n
        else:
            lk = lookups.setdefault(
                (str(row["operation"]), *key), LookupRow(str(row["operation"]), *key)
            )
            if column == "ok":
                lk.found += n
            elif column == "not_found":
                lk.not_found += n
            elif column == "rejected":
                lk.refused += n
            else:
                lk.failed += n

    step("upstream", 1)
    weeks = period.weeks()
    systems: dict[str, SystemAvailability] = {}

    def system(name: str) -> SystemAvailability:
        if name not in systems:
            systems[name] = SystemAvailability(name, [WeekAvailability(*w) for w in weeks])
        return systems[name]

    for row in await store.fetch_all(upstream_sql(dialect), *span):
        week = system(str(row["system"])).weeks[min(int(row["week"]), len(weeks) - 1)]
        week.calls += int(row["n"])
        if row["outcome"] in ANSWERED:
            week.answered += int(row["n"])

    step("breaker", 2)
    for row in await store.fetch_all(breaker_sql(dialect), *span):
        index = (int(row["minute"]) * _MINUTE_US - period.start_us) // WEEK_US
        system(str(row["system"])).weeks[max(0, min(index, len(weeks) - 1))].breaker_minutes += 1

    step("payments", 3)
    by_procedure: dict[tuple[str, ...], PaymentRow] = {}
    by_provider: dict[tuple[str, ...], PaymentRow] = {}
    for row in await store.fetch_all(PAYMENTS_SQL, *span):
        if agency is not None and row["agency_code"] != agency:
            continue
        n = int(row["n"])
        groups: tuple[tuple[dict[tuple[str, ...], PaymentRow], tuple[str, ...]], ...] = (
            (by_procedure, (str(row["agency_code"]), str(row["procedure_code"]))),
            (by_provider, (str(row["provider"]),)),
        )
        for rows, group in groups:
            target = rows.setdefault(group, PaymentRow(group))
            target.created += n
            if row["status"] in target.statuses:
                target.statuses[str(row["status"])] += n
            target.collected += int(row["collected"] or 0)

    step("waits", 4)
    for row in await store.fetch_all(WAITS_SQL, *span):
        if agency is not None and row["agency_code"] != agency:
            continue
        waited = int(row["waited"]) / 1_000_000
        by_procedure[(str(row["agency_code"]), str(row["procedure_code"]))].waits_s.append(waited)
        by_provider[(str(row["provider"]),)].waits_s.append(waited)
    step("done", 5)

    figures = ReportFigures(
        period=period,
        generated_at=now,
        agency=agency,
        complete=period.is_complete(now),
        verifications=[verifications[k] for k in sorted(verifications)],
        lookups=[lookups[k] for k in sorted(lookups)],
        payments=[by_procedure[k] for k in sorted(by_procedure)],
        providers=[by_provider[k] for k in sorted(by_provider)],
        availability=[systems[k] for k in sorted(systems)],
    )
    if figures.empty:
        raise NoData(period.name)
    return figures


def totals(rows: list[PaymentRow]) -> PaymentRow:
    """The sum of payment rows (the median over all their waits)."""
    out = PaymentRow(("",))
    for r in rows:
        out.created += r.created
        for s in PAYMENT_STATUSES:
            out.statuses[s] += r.statuses[s]
        out.collected += r.collected
        out.waits_s.extend(r.waits_s)
    return out


def verification_totals(rows: list[VerificationRow]) -> VerificationRow:
    out = VerificationRow("", "")
    for r in rows:
        for k, v in r.verdicts.items():
            out.verdicts[k] += v
    return out
