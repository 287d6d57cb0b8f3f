"""The outbox: order per payment, disjoint claims, leases, operator requeues."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus
from gateway.payments.outbox import Outbox, OutboxStatus
from gateway.store import Store
from tests.store.conftest import OpenStore, new_payment
from tests.support.clock import FakeClock

S = PaymentStatus
LEASE = timedelta(seconds=60)


async def _payment_with_two_events(ledger: PaymentLedger) -> tuple[str, list[str]]:
    payment = await new_payment(ledger)
    first = await ledger.transition(payment.id, S.PENDING, reason="sent")
    second = await ledger.transition(payment.id, S.PAID, paid_amount=150_000, reason="paid")
    assert first.event_id
    assert second.event_id
    return payment.id, [first.event_id, second.event_id]


async def test_only_the_earliest_undelivered_event_of_a_payment_is_due(
    ledger: PaymentLedger, store: Store
) -> None:
    """Event N+1 of a payment is not claimed while event N is undelivered."""
    outbox = Outbox(store)
    _, (first, second) = await _payment_with_two_events(ledger)
    claimed = await outbox.claim_due("a", LEASE, 10)
    assert [e.id for e in claimed] == [first]
    assert await outbox.mark_delivered(first, "a")
    assert [e.id for e in await outbox.claim_due("a", LEASE, 10)] == [second]


async def test_a_dead_event_does_not_block_the_later_ones(
    ledger: PaymentLedger, store: Store
) -> None:
    """After event N is dead-lettered, N+1 is due; N+2 still waits for N+1; retry brings N back."""
    outbox = Outbox(store)
    payment_id, (first, second) = await _payment_with_two_events(ledger)
    review = await ledger.transition(payment_id, S.NEEDS_REVIEW, reason="reversed_by_provider")
    assert review.event_id
    await outbox.claim_due("a", LEASE, 10)
    assert await outbox.dead_letter(first, "a", "HTTP 500")
    assert [e.id for e in await outbox.claim_due("a", LEASE, 10)] == [second]
    assert await outbox.claim_due("b", LEASE, 10) == []  # the third waits for the second
    assert await outbox.mark_delivered(second, "a")
    assert [e.id for e in await outbox.claim_due("a", LEASE, 10)] == [review.event_id]
    assert await outbox.mark_delivered(review.event_id, "a")
    assert await outbox.retry(first)
    assert [e.id for e in await outbox.claim_due("a", LEASE, 10)] == [first]
    delivered = {e.id for e in await outbox.list_events(OutboxStatus.DELIVERED)}
    assert delivered == {second, review.event_id}


async def test_concurrent_claimers_get_disjoint_events(
    open_stores: OpenStore, clock: FakeClock
) -> None:
    """Two instances claiming at once never get the same event, and together get all."""
    stores = [await open_stores(), await open_stores()]
    ledger = PaymentLedger(stores[0], clock)
    payments = [await new_payment(ledger) for _ in range(12)]
    for p in payments:
        await ledger.transition(p.id, S.PENDING, reason="sent")
    outboxes = [Outbox(s) for s in stores]
    batches = await asyncio.gather(
        *(outboxes[i % 2].claim_due(f"claimer-{i}", LEASE, 3) for i in range(6))
    )
    ids = [e.id for batch in batches for e in batch]
    assert len(ids) == len(set(ids)) == 12


async def test_a_lease_keeps_others_off_until_it_expires(
    ledger: PaymentLedger, store: Store, clock: FakeClock
) -> None:
    """A claimed event is not claimable until its lease expires; then another may take it."""
    outbox = Outbox(store)
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, S.PENDING, reason="sent")
    (event,) = await outbox.claim_due("a", LEASE, 10)
    assert await outbox.claim_due("b", LEASE, 10) == []
    clock.advance(LEASE)
    assert [e.id for e in await outbox.claim_due("b", LEASE, 10)] == [event.id]
    assert not await outbox.mark_delivered(event.id, "a")  # a lost its lease
    assert await outbox.mark_delivered(event.id, "b")


async def test_retry_scheduling_defers_the_event(
    ledger: PaymentLedger, store: Store, clock: FakeClock
) -> None:
    """A scheduled retry is not due before its time and counts the attempt."""
    outbox = Outbox(store)
    payment = await new_payment(ledger)
    await ledger.transition(payment.id, S.PENDING, reason="sent")
    (event,) = await outbox.claim_due("a", LEASE, 10)
    assert await outbox.schedule_retry(event.id, "a", clock() + timedelta(seconds=30), "HTTP 503")
    assert await outbox.claim_due("a", LEASE, 10) == []
    clock.advance(30)
    (again,) = await outbox.claim_due("a", LEASE, 10)
    assert (again.id, again.attempts, again.last_error) == (event.id, 1, "HTTP 503")


async def test_replay_and_retry_only_from_their_states(ledger: PaymentLedger, store: Store) -> None:
    """replay needs a delivered event, retry a dead one; otherwise both refuse."""
    outbox = Outbox(store)
    payment = await new_payment(ledger)
    result = await ledger.transition(payment.id, S.PENDING, reason="sent")
    assert result.event_id
    assert not await outbox.replay(result.event_id)
    assert not await outbox.retry(result.event_id)
    await outbox.claim_due("a", LEASE, 10)
    await outbox.mark_delivered(result.event_id, "a")
    assert not await outbox.retry(result.event_id)
    assert await outbox.replay(result.event_id)
    replayed = await outbox.get(result.event_id)
    assert replayed is not None
    assert replayed.status is OutboxStatus.PENDING


async def test_stats_count_depth_and_age(
    ledger: PaymentLedger, store: Store, clock: FakeClock
) -> None:
    """stats() reports pending and dead counts and the oldest pending event's age."""
    outbox = Outbox(store)
    _, (first, _) = await _payment_with_two_events(ledger)
    clock.advance(90)
    stats = await outbox.stats()
    assert (stats.pending, stats.dead, stats.oldest_pending_age) == (2, 0, timedelta(seconds=90))
    await outbox.claim_due("a", LEASE, 10)
    await outbox.dead_letter(first, "a", "gone")
    assert (await outbox.stats()).dead == 1
