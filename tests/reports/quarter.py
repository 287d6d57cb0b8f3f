"""A known quarter (2026-Q4), written through the real AuditLog and PaymentLedger, and the
figures a report of it must show, counted here from the list of what was written.

Exchanges fall across three agencies, procedures (one left out by its caller), every
verdict, refused and failed answers, citizen and business look-ups, four national
systems with failures and circuit-breaker refusals, and payments ending in every status.
A few records fall just outside the quarter (Q3's last half hour in Vietnam time, and
2027) and must not count.
"""

from __future__ import annotations

import random
import secrets
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from gateway.audit.log import AuditLog
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import Payment, PaymentIdentity, PaymentStatus
from tests.support.clock import FakeClock

ICT = timezone(timedelta(hours=7))
Q4_START = datetime(2026, 10, 1, tzinfo=ICT)
Q4_END = datetime(2027, 1, 1, tzinfo=ICT)
AGENCIES = ["000.00.01.H13", "000.00.02.H13", "000.00.07.H13"]
PROCEDURES = ["1.001612", "2.000488", ""]
VERDICT_WORDS = ["match", "match_without_diacritics", "mismatch", "not_found"]
SYSTEMS = {
    "population": "CongDan_Lookup",
    "business": "chiTietDoanhNghiep",
    "dvcqg": "query_status",
    "vnpay": "querydr",
}
UPSTREAM_OUTCOMES = ["ok", "ok", "ok", "not_found", "timeout", "fault", "circuit_open"]


def _week(moment: datetime) -> int:
    return (moment - Q4_START) // timedelta(days=7)


@dataclass
class Expected:
    """What the report of 2026-Q4 must say, counted from what was written."""

    verifications: dict[tuple[str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    lookups: dict[tuple[str, str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    payments: dict[tuple[str, str], Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )
    providers: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    collected: Counter[tuple[str, ...]] = field(default_factory=Counter)
    waits: dict[tuple[str, ...], list[float]] = field(default_factory=lambda: defaultdict(list))
    calls: Counter[tuple[str, int]] = field(default_factory=Counter)
    answered: Counter[tuple[str, int]] = field(default_factory=Counter)
    breaker_minutes: dict[tuple[str, int], set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def median(self, key: tuple[str, ...]) -> float | None:
        return statistics.median(self.waits[key]) if self.waits.get(key) else None


def _moment(rng: random.Random) -> datetime:
    """A time inside Q4 (Vietnam time), to the second."""
    seconds = rng.randrange(int((Q4_END - Q4_START).total_seconds()))
    return (Q4_START + timedelta(seconds=seconds)).astimezone(UTC)


def _context(agency: str, procedure: str) -> dict[str, Any]:
    ctx: dict[str, Any] = {"agency_code": agency, "purpose": "giải quyết hồ sơ"}
    if procedure:
        ctx["procedure_code"] = procedure
    ctx["officer_masked"] = "079*******12"
    return ctx


async def write_quarter(
    log: AuditLog, ledger: PaymentLedger, clock: FakeClock, *, seed: int = 14
) -> Expected:
    """Write the quarter; return what its report must show."""
    rng = random.Random(seed)
    exp = Expected()
    inbound: list[tuple[datetime, dict[str, Any], bool]] = []
    for _ in range(160):
        agency, procedure = rng.choice(AGENCIES), rng.choice(PROCEDURES)
        roll = rng.random()
        if roll < 0.8:
            status, word = 200, rng.choice([*VERDICT_WORDS, "match", "match"])
        elif roll < 0.9:
            status, word = 422, "rejected"
        else:
            status, word = 503, "error"
        detail: dict[str, Any] = {"method": "POST", "context": _context(agency, procedure)}
        if status == 200:
            detail["verdict"] = word
        when = _moment(rng)
        inbound.append((when, {"operation": "citizens.verify", "status": status, **detail}, True))
        exp.verifications[(agency, procedure)][word] += 1
    for _ in range(80):
        agency, procedure = rng.choice(AGENCIES), rng.choice(PROCEDURES)
        op = rng.choice(["citizens.lookup", "businesses.read"])
        status = rng.choice([200, 200, 200, 404, 422, 502])
        column = {200: "found", 404: "not_found", 422: "refused", 502: "failed"}[status]
        detail = {"method": "GET", "context": _context(agency, procedure)}
        inbound.append((_moment(rng), {"operation": op, "status": status, **detail}, True))
        exp.lookups[(op, agency, procedure)][column] += 1
    # outside the quarter: the last half hour of Q3 in Vietnam time, and January 2027
    for when in (Q4_START - timedelta(minutes=30), Q4_END + timedelta(hours=1)):
        detail = {"method": "POST", "context": _context(AGENCIES[0], PROCEDURES[0])}
        inbound.append(
            (
                when.astimezone(UTC),
                {"operation": "citizens.verify", "status": 200, "verdict": "match", **detail},
                False,
            )
        )
    # the first minutes of the quarter count (00:10 ICT on 1 October is 17:10 UTC the day before)
    first = (Q4_START + timedelta(minutes=10)).astimezone(UTC)
    detail = {"method": "POST", "context": _context(AGENCIES[1], PROCEDURES[1]), "verdict": "match"}
    inbound.append((first, {"operation": "citizens.verify", "status": 200, **detail}, True))
    exp.verifications[(AGENCIES[1], PROCEDURES[1])]["match"] += 1

    upstream: list[tuple[datetime, str, str]] = []
    for _ in range(200):
        system = rng.choice(list(SYSTEMS))
        outcome = rng.choice(UPSTREAM_OUTCOMES)
        upstream.append((_moment(rng), system, outcome))
    # a burst of breaker refusals: 5 within one minute, then 3 more over the next 2 minutes
    burst = datetime(2026, 11, 12, 3, 0, 5, tzinfo=UTC)
    for offset in (0, 4, 9, 30, 55, 61, 75, 130):
        upstream.append((burst + timedelta(seconds=offset), "population", "circuit_open"))
    for when, system, outcome in upstream:
        key = (system, _week(when))
        exp.calls[key] += 1
        if outcome in ("ok", "not_found"):
            exp.answered[key] += 1
        if outcome == "circuit_open":
            exp.breaker_minutes[key].add(int(when.timestamp()) // 60)

    events: list[tuple[datetime, str, Any]] = [(w, "inbound", (d, c)) for w, d, c in inbound]
    events += [(w, "upstream", (s, o)) for w, s, o in upstream]
    events.sort(key=lambda e: e[0])
    folded = False
    for when, kind, data in events:
        clock.now = when
        if kind == "inbound":
            detail, _counted = data
            record = dict(detail)
            operation, status = record.pop("operation"), record.pop("status")
            await log.append(
                kind="inbound",
                operation=operation,
                outcome="ok" if status < 400 else ("rejected" if status < 500 else "error"),
                client_id="motcua",
                status=status,
                request_id=secrets.token_hex(8),
                detail=record,
            )
        elif folded := not folded:  # every other exchange folded into its inbound record
            system, outcome = data
            exchange = {"operation": f"{system}.{SYSTEMS[system]}", "outcome": outcome}
            await log.append(
                kind="inbound",
                operation="payments.read",  # an operation the report counts no figure of
                outcome="ok",
                client_id="motcua",
                status=200,
                request_id=secrets.token_hex(8),
                detail={"method": "GET", "upstream": [{**exchange, "attempts": 1}]},
            )
        else:  # as chains written before issue 13 hold it: a record of its own
            system, outcome = data
            await log.append(
                kind="upstream",
                operation=f"{system}.{SYSTEMS[system]}",
                outcome=outcome,
                client_id="motcua",
                request_id=secrets.token_hex(8),
                detail={"inbound_operation": "citizens.verify", "attempts": 1},
            )

    ends = ["paid"] * 5 + ["failed", "expired", "needs_review", "cancelled", "pending"]
    for n in range(60):
        agency, procedure = rng.choice(AGENCIES), rng.choice(PROCEDURES[:2])
        provider = rng.choice(["dvcqg", "vnpay"])
        amount = rng.choice([50_000, 150_000, 1_250_000, 2_000_000])
        end = rng.choice(ends)
        created = _moment(rng)
        if n == 0:  # created in Q3: not counted
            created = (Q4_START - timedelta(hours=2)).astimezone(UTC)
        clock.now = created
        payment, _ = await ledger.create(
            "motcua", f"key-{n}", "fp", _bill(agency, procedure, provider, amount)
        )
        wait = rng.choice([60, 120, 300, 900, 3600, 5400])
        clock.now = created + timedelta(seconds=wait // 2)
        await ledger.transition(payment.id, PaymentStatus.PENDING, reason="pay_url")
        if end != "pending":
            clock.now = created + timedelta(seconds=wait)
            await ledger.transition(
                payment.id,
                PaymentStatus(end),
                reason="amount_mismatch" if end == "needs_review" else "callback",
                paid_amount=amount if end == "paid" else None,
            )
        if n == 0:
            continue
        for key, counter in (
            ((agency, procedure), exp.payments[(agency, procedure)]),
            ((provider,), exp.providers[provider]),
        ):
            counter["created"] += 1
            counter[end] += 1
            if end == "paid":
                exp.collected[key] += amount
                exp.waits[key].append(float(wait))
    await log.flush()
    return exp


def _bill(agency: str, procedure: str, provider: str, amount: int) -> Any:
    def build(identity: PaymentIdentity) -> Payment:
        return Payment(
            id=identity.id,
            reference=identity.reference,
            client_id="motcua",
            provider=provider,
            status=PaymentStatus.CREATED,
            amount=amount,
            currency="VND",
            dossier_code="000.00.01.H13-261001-0001",
            procedure_code=procedure,
            agency_code=agency,
            fee_lines=[{"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP01", "SoTien": amount}],
            return_url="http://127.0.0.1:8080/return",
            created_at=identity.created_at,
            updated_at=identity.created_at,
            expires_at=identity.created_at + timedelta(days=1),
        )

    return build
