"""The ledger's worker queries: pending to poll, expired to close, a day to reconcile."""

from __future__ import annotations

from datetime import date, timedelta

from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus
from tests.store.conftest import new_payment
from tests.support.clock import FakeClock

S = PaymentStatus


async def test_list_pending_returns_stale_pending_only(
    ledger: PaymentLedger, clock: FakeClock
) -> None:
    """list_pending returns pending payments not updated since older_than, stalest first."""
    stale = await new_payment(ledger)
    await ledger.transition(stale.id, S.PENDING, reason="sent")
    clock.advance(600)
    fresh = await new_payment(ledger)
    await ledger.transition(fresh.id, S.PENDING, reason="sent")
    created_only = await new_payment(ledger)
    listed = await ledger.list_pending(older_than=clock() - timedelta(minutes=5))
    assert [p.id for p in listed] == [stale.id]
    everything = await ledger.list_pending(older_than=clock())
    assert [p.id for p in everything] == [stale.id, fresh.id]
    assert created_only.id not in {p.id for p in everything}


async def test_list_expired_returns_open_payments_past_expiry(
    ledger: PaymentLedger, clock: FakeClock
) -> None:
    """list_expired returns created/pending payments past expires_at, not final ones."""
    short = await new_payment(ledger, ttl=timedelta(minutes=1))
    paid = await new_payment(ledger, ttl=timedelta(minutes=1))
    await ledger.transition(paid.id, S.PAID, paid_amount=150_000, reason="t")
    await new_payment(ledger, ttl=timedelta(hours=1))
    clock.advance(120)
    assert [p.id for p in await ledger.list_expired()] == [short.id]


async def test_list_by_day_uses_vietnam_days_and_pages(
    ledger: PaymentLedger, clock: FakeClock
) -> None:
    """list_by_day yields every payment created on a Vietnam calendar day, across pages."""
    # The clock starts 2026-03-01 09:00 ICT; 16:59:59 later is 2026-03-02 01:59:59 ICT.
    day_one = []
    for _ in range(5):
        day_one.append(await new_payment(ledger))
        clock.advance(1)
    clock.advance(timedelta(hours=14, minutes=59, seconds=54))  # 23:59:59 ICT, still March 1st
    day_one.append(await new_payment(ledger))
    clock.advance(1)  # midnight ICT: March 2nd
    day_two = await new_payment(ledger)
    listed = [p.id async for p in ledger.list_by_day(date(2026, 3, 1), page_size=2)]
    assert listed == [p.id for p in day_one]
    assert [p.id async for p in ledger.list_by_day(date(2026, 3, 2))] == [day_two.id]
