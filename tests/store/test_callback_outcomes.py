"""The service's answers to verified provider results, and what they do to the payment.

Flagged, reversed and refunded money, a fraction of a dong and another merchant's
message cannot be produced by the sandboxes yet (their adapters learn to report
them in a parallel change), so these tests drive :class:`PaymentService` with a
real store and a provider reduced to the two seams used: ``parse_callback``
returns the verified result under test and ``query_status`` the status under
test (a unit seam, as for one function).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest

from adapters.payment.base import (
    CallbackOutcome,
    CallbackRejected,
    CallbackResult,
    CreatedPayment,
    PaymentOrder,
    PaymentProviders,
    ProviderAnswer,
    StatusResult,
    Transaction,
)
from adapters.payment.config import ProviderStatus
from gateway.payments.config import PaymentPollingConfig
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import Payment, PaymentStatus
from gateway.payments.service import PaymentService
from gateway.payments.worker import PendingPaymentPoller
from gateway.security import events as security_events
from gateway.store import Store
from tests.store.conftest import events_of, new_payment
from tests.support.clock import FakeClock

S = PaymentStatus
P = ProviderStatus
BILL = 150_000


class ScriptedProvider:
    """Answers with the result a test sets; records the outcome the gateway chose."""

    name = "dvcqg"

    def __init__(self) -> None:
        self.callback: CallbackResult | None = None
        self.status: StatusResult | None = None
        self.before_status: Callable[[], Awaitable[None]] | None = None
        self.outcomes: list[CallbackOutcome] = []

    async def create(self, order: PaymentOrder) -> CreatedPayment:
        raise NotImplementedError

    def parse_callback(self, method: str, query: Mapping[str, str], body: bytes) -> CallbackResult:
        assert self.callback is not None
        return self.callback

    def answer_callback(
        self,
        result_or_error: CallbackResult | CallbackRejected | None,
        *,
        outcome: CallbackOutcome,
    ) -> ProviderAnswer:
        self.outcomes.append(outcome)
        return ProviderAnswer(200, "application/json", outcome.encode())

    async def query_status(self, reference: str, *, created_at: dt.datetime) -> StatusResult:
        if self.before_status is not None:
            await self.before_status()
        assert self.status is not None
        return self.status

    async def list_transactions(self, day: dt.date) -> AsyncIterator[Transaction]:
        raise NotImplementedError
        yield  # pragma: no cover


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def service(ledger: PaymentLedger, provider: ScriptedProvider, clock: FakeClock) -> PaymentService:
    providers = PaymentProviders({"dvcqg": provider}, "dvcqg")  # type: ignore[dict-item]
    return PaymentService(ledger, providers, expiry=dt.timedelta(minutes=15), clock=clock)


async def _payment_in(ledger: PaymentLedger, state: PaymentStatus) -> Payment:
    payment = await new_payment(ledger, amount=BILL)
    await ledger.transition(payment.id, S.PENDING, reason="sent")
    if state is S.PAID:
        await ledger.apply_provider_result(payment.reference, S.PAID, BILL, "TXN-1")
    elif state is not S.PENDING:
        await ledger.transition(payment.id, state, reason="test")
    current = await ledger.get(payment.id)
    assert current is not None
    return current


async def _callback(
    service: PaymentService,
    provider: ScriptedProvider,
    payment: Payment,
    status: ProviderStatus,
    *,
    amount: int = BILL,
    whole_dong: bool = True,
    for_this_merchant: bool = True,
) -> tuple[CallbackOutcome, Payment]:
    provider.callback = CallbackResult(
        reference=payment.reference,
        provider_txn_id="TXN-1",
        status=status,
        amount=amount,
        paid_at=None,
        raw_code="x",
        verified=True,
        whole_dong=whole_dong,
        for_this_merchant=for_this_merchant,
    )
    await service.handle_callback("dvcqg", "POST", {}, b"", "127.0.0.1")
    after = await service.ledger.get(payment.id)
    assert after is not None
    return provider.outcomes[-1], after


async def _security_kinds(store: Store) -> list[str]:
    return [str(r["kind"]) for r in await store.fetch_all("SELECT kind FROM security_event_log")]


@pytest.mark.parametrize(
    ("reported", "start", "reason"),
    [
        (P.FLAGGED, S.PENDING, "flagged_by_provider"),
        (P.FLAGGED, S.PAID, "flagged_by_provider"),
        (P.REVERSED, S.PENDING, "reversed_by_provider"),
        (P.REVERSED, S.PAID, "reversed_by_provider"),
        (P.REFUNDED, S.PENDING, "refunded_by_provider"),
        (P.REFUNDED, S.PAID, "refunded_by_provider"),
        (P.PAID, S.FAILED, "paid_after_failed"),
        (P.PAID, S.CANCELLED, "paid_after_cancelled"),
        (P.PAID, S.EXPIRED, "paid_after_expired"),
    ],
)
async def test_money_at_risk_callback_goes_to_review_and_is_confirmed(
    service: PaymentService,
    provider: ScriptedProvider,
    ledger: PaymentLedger,
    store: Store,
    reported: ProviderStatus,
    start: PaymentStatus,
    reason: str,
) -> None:
    """Flagged / reversed / refunded / late paid: needs_review, one event; 'confirmed' then '02'."""
    payment = await _payment_in(ledger, start)
    outcome, after = await _callback(service, provider, payment, reported)
    again, _ = await _callback(service, provider, payment, reported)
    assert (outcome, again) == ("confirmed", "already_confirmed")
    assert (after.status, after.review_reason) == (S.NEEDS_REVIEW, reason)
    types = [e["type"] for e in await events_of(store, payment.id)]
    assert types.count("payment.needs_review") == 1
    assert len(await _security_kinds(store)) == 1


async def test_a_fraction_of_a_dong_is_answered_amount_mismatch(
    service: PaymentService, provider: ScriptedProvider, ledger: PaymentLedger, store: Store
) -> None:
    """whole_dong False (the amount rounded down equals the bill): needs_review, '04'."""
    payment = await _payment_in(ledger, S.PENDING)
    outcome, after = await _callback(service, provider, payment, P.PAID, whole_dong=False)
    assert outcome == "amount_mismatch"
    assert (after.status, after.review_reason) == (S.NEEDS_REVIEW, "amount_mismatch")
    assert await _security_kinds(store) == ["amount_mismatch"]


async def test_another_merchants_message_is_not_found(
    service: PaymentService, provider: ScriptedProvider, ledger: PaymentLedger, store: Store
) -> None:
    """for_this_merchant False: 'not_found' before any amount check, and nothing changes."""
    payment = await _payment_in(ledger, S.PENDING)
    seen: list[str] = []
    unsubscribe = security_events.subscribe(lambda kind, _fields: seen.append(kind))
    try:
        outcome, after = await _callback(
            service, provider, payment, P.PAID, amount=1, for_this_merchant=False
        )
    finally:
        unsubscribe()
    assert outcome == "not_found"
    assert seen == ["bad_callback_partner"]
    assert after.status is S.PENDING
    assert await _security_kinds(store) == []


async def test_amount_is_checked_before_already_confirmed(
    service: PaymentService, provider: ScriptedProvider, ledger: PaymentLedger
) -> None:
    """Paid here, a result with another amount: 'amount_mismatch' (VNPay's order), no change."""
    payment = await _payment_in(ledger, S.PAID)
    outcome, after = await _callback(service, provider, payment, P.PAID, amount=BILL - 1)
    assert outcome == "amount_mismatch"
    assert after.status is S.PAID


async def test_a_failed_result_with_another_amount_changes_nothing(
    service: PaymentService, provider: ScriptedProvider, ledger: PaymentLedger, store: Store
) -> None:
    """No money moved and the message disagrees with the bill: '04', still pending."""
    payment = await _payment_in(ledger, S.PENDING)
    outcome, after = await _callback(service, provider, payment, P.FAILED, amount=BILL + 5)
    assert outcome == "amount_mismatch"
    assert after.status is S.PENDING


async def test_an_unmapped_signed_result_fails_the_order_and_is_never_error(
    service: PaymentService, provider: ScriptedProvider, ledger: PaymentLedger
) -> None:
    """A signed result the adapter could not map: failed (as VNPay's reference), never '99'."""
    open_payment = await _payment_in(ledger, S.PENDING)
    paid_payment = await _payment_in(ledger, S.PAID)
    outcome, after = await _callback(service, provider, open_payment, P.UNKNOWN)
    on_paid, still = await _callback(service, provider, paid_payment, P.UNKNOWN)
    assert (outcome, after.status) == ("confirmed", S.FAILED)
    assert (on_paid, still.status) == ("already_confirmed", S.PAID)


@pytest.mark.parametrize(
    ("reported", "reason"),
    [
        (P.FLAGGED, "flagged_by_provider"),
        (P.REVERSED, "reversed_by_provider"),
        (P.REFUNDED, "refunded_by_provider"),
    ],
)
async def test_refresh_of_a_paid_payment_finds_disputed_money(
    service: PaymentService,
    provider: ScriptedProvider,
    ledger: PaymentLedger,
    reported: ProviderStatus,
    reason: str,
) -> None:
    """GET ?refresh=true on a paid payment: the provider's flagged/reversed/refunded → review."""
    payment = await _payment_in(ledger, S.PAID)
    provider.status = StatusResult(payment.reference, reported, BILL, "TXN-1", "x")
    client: Any = type("Client", (), {"id": payment.client_id})()
    after = await service.get(client, payment.id, refresh=True)
    assert (after.status, after.review_reason) == (S.NEEDS_REVIEW, reason)


@pytest.mark.parametrize(
    ("reported", "reason"),
    [
        (P.FLAGGED, "flagged_by_provider"),
        (P.REVERSED, "reversed_by_provider"),
        (P.REFUNDED, "refunded_by_provider"),
    ],
)
async def test_the_poller_moves_disputed_money_to_review(
    service: PaymentService,
    provider: ScriptedProvider,
    ledger: PaymentLedger,
    clock: FakeClock,
    reported: ProviderStatus,
    reason: str,
) -> None:
    """A stale pending payment the provider reports flagged/reversed/refunded → needs_review."""
    payment = await _payment_in(ledger, S.PENDING)
    provider.status = StatusResult(payment.reference, reported, BILL, "TXN-1", "x")
    clock.advance(300)
    poller = PendingPaymentPoller(service, ledger, PaymentPollingConfig(), clock=clock)
    report = await poller.run_once()
    after = await ledger.get(payment.id)
    assert after is not None
    assert report.changed == 1
    assert (after.status, after.review_reason) == (S.NEEDS_REVIEW, reason)


async def test_the_poller_finds_money_paid_after_a_cancel_it_raced(
    service: PaymentService,
    provider: ScriptedProvider,
    ledger: PaymentLedger,
    store: Store,
    clock: FakeClock,
) -> None:
    """The client cancels while the poller asks; the provider says paid: paid_after_cancelled."""
    payment = await _payment_in(ledger, S.PENDING)
    provider.status = StatusResult(payment.reference, P.PAID, BILL, "TXN-7", "00")

    async def client_cancels() -> None:
        await ledger.transition(payment.id, S.CANCELLED, reason="cancelled_by_client")

    provider.before_status = client_cancels
    clock.advance(300)
    poller = PendingPaymentPoller(service, ledger, PaymentPollingConfig(), clock=clock)
    await poller.run_once()
    after = await ledger.get(payment.id)
    assert after is not None
    assert (after.status, after.review_reason) == (S.NEEDS_REVIEW, "paid_after_cancelled")
    assert (after.paid_amount, after.provider_txn_id) == (BILL, "TXN-7")
    assert await _security_kinds(store) == ["late_payment"]
