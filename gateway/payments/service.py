"""The payment flow: create, read, cancel, provider callbacks and the payer's return.

:class:`PaymentService` sits between the routes and the ledger/providers:

- **create** validates the body, binds it to the ``Idempotency-Key`` (SHA-256 of
  the canonical body), writes the payment (``created``) with its key in one
  transaction, asks the provider for a pay URL *outside* that transaction, then
  moves the payment to ``pending`` with the URL. If the provider call fails the
  payment honestly stays ``created`` (nothing known to be registered; the same
  key retries the provider with the same reference) and the answer is the
  upstream problem; if the provider *refused* the order (a client-side fault
  code), the payment moves to ``failed``. A ``created`` payment nobody retries
  expires like any other.
- **callbacks** are verified by the provider's adapter, then applied by the
  ledger's conditional update; the answer is in the provider's own format. A
  callback that fails verification changes nothing and raises a security event.
  The answer follows the order of VNPay's reference code: ``rejected`` (bad
  checksum or shape) → ``not_found`` (unknown order, another provider's, or
  another merchant's) → ``amount_mismatch`` (not the billed amount, or a fraction
  of a dong) → ``already_confirmed`` (nothing left to change) → ``confirmed``.
  ``error`` is only ever the gateway's own failure (the route answers it).
- **the payer's return** never decides a state: it shows the stored state (after
  asking the provider when the payment is still open).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from adapters.errors import AdapterError, UpstreamFault
from adapters.networks import Network
from adapters.payment.base import (
    CallbackOutcome,
    CallbackRejected,
    CallbackResult,
    FeeLine,
    PaymentOrder,
    PaymentProvider,
    PaymentProviders,
    ProviderAnswer,
)
from adapters.payment.config import ProviderStatus
from gateway.auth.config import ClientConfig
from gateway.errors import PaymentNotCancellable, PaymentNotFound
from gateway.payments.ledger import PaymentLedger, Reported, TransitionResult
from gateway.payments.model import DisputedMoney, Payment, PaymentIdentity, PaymentStatus
from gateway.payments.requests import PaymentRequest
from gateway.security import events as security_events
from gateway.security.callbacks import check_callback_source
from gateway.security.events import SecurityEventKind
from gateway.store import utc_now

_log = structlog.get_logger("payments.service")

#: What a provider's status means for the ledger (``unknown`` changes nothing).
LEDGER_STATUS: dict[ProviderStatus, Reported] = {
    ProviderStatus.PAID: PaymentStatus.PAID,
    ProviderStatus.PENDING: PaymentStatus.PENDING,
    ProviderStatus.FAILED: PaymentStatus.FAILED,
    ProviderStatus.CANCELLED: PaymentStatus.CANCELLED,
    ProviderStatus.FLAGGED: DisputedMoney.FLAGGED,
    ProviderStatus.REVERSED: DisputedMoney.REVERSED,
    ProviderStatus.REFUNDED: DisputedMoney.REFUNDED,
}
OPEN: frozenset[PaymentStatus] = frozenset({PaymentStatus.CREATED, PaymentStatus.PENDING})
#: Reports that say the payer's money moved: applied even when the amount is wrong.
_MONEY_MOVED: frozenset[Reported] = frozenset({PaymentStatus.PAID, *DisputedMoney})

#: Security event kind per kind of rejected callback.
_REJECTION_EVENTS = {
    "bad_checksum": SecurityEventKind.BAD_CALLBACK_CHECKSUM,
    "wrong_partner": SecurityEventKind.BAD_CALLBACK_PARTNER,
    "malformed": SecurityEventKind.MALFORMED_CALLBACK,
}


def payment_to_json(payment: Payment) -> dict[str, object]:
    """The API's view of a payment (``POST /v1/payments``, ``GET /v1/payments/{id}``)."""
    return {
        "payment_id": payment.id,
        "status": str(payment.status),
        "amount": payment.amount,
        "provider": payment.provider,
        "pay_url": payment.pay_url,
        "expires_at": payment.expires_at.isoformat().replace("+00:00", "Z"),
        "review_reason": payment.review_reason,
    }


def describe(dossier_code: str) -> str:
    """The order description the payer sees at the provider (no personal data)."""
    return f"Thanh toan phi, le phi ho so {dossier_code}"


@dataclass(frozen=True)
class CreatedResult:
    """A create's answer: the payment as it is now, and whether the key was seen before."""

    payment: Payment
    replayed: bool


@dataclass(frozen=True)
class PayerReturn:
    """Where the payer's browser goes: a redirect to the client's page, or a page of ours."""

    payment: Payment | None
    redirect_to: str | None
    message: str


class PaymentService:
    """Creates, reads and cancels payments; handles callbacks, returns and status queries."""

    def __init__(
        self,
        ledger: PaymentLedger,
        providers: PaymentProviders,
        *,
        expiry: dt.timedelta,
        clock: Callable[[], dt.datetime] = utc_now,
        callback_sources: Mapping[str, tuple[Network, ...]] | None = None,
    ) -> None:
        self.ledger = ledger
        self.providers = providers
        #: Per provider, the networks its callbacks may come from (absent or empty: any).
        self.callback_sources = dict(callback_sources or {})
        self._expiry = expiry
        self._clock = clock

    # -- create -----------------------------------------------------------------------------

    async def create(
        self,
        client: ClientConfig,
        idempotency_key: str,
        request: PaymentRequest,
        *,
        client_ip: str,
    ) -> CreatedResult:
        """Create (or replay) the payment and register it with its provider."""
        provider_name = request.provider or self.providers.default

        def build(identity: PaymentIdentity) -> Payment:
            return Payment(
                id=identity.id,
                reference=identity.reference,
                client_id=client.id,
                provider=provider_name,
                status=PaymentStatus.CREATED,
                amount=request.total,
                currency="VND",
                dossier_code=request.dossier_code,
                procedure_code=request.procedure_code,
                agency_code=request.agency_code,
                fee_lines=[line.model_dump(mode="json") for line in request.fee_lines],
                return_url=request.return_url,
                created_at=identity.created_at,
                updated_at=identity.created_at,
                expires_at=identity.created_at + self._expiry,
                payer_name=request.payer.full_name,
                payer_id_number=request.payer.id_number,
            )

        payment, replayed = await self.ledger.create(
            client.id, idempotency_key, request.fingerprint(), build
        )
        if payment.status is PaymentStatus.CREATED and self._clock() < payment.expires_at:
            payment = await self._register(payment, client_ip)
        return CreatedResult(payment, replayed)

    async def _register(self, payment: Payment, client_ip: str) -> Payment:
        provider = self.providers.get(payment.provider)
        try:
            created = await provider.create(self._order(payment, client_ip))
        except UpstreamFault as exc:
            if not exc.retryable:  # a client-side fault: the provider refused the order
                await self.ledger.transition(
                    payment.id,
                    PaymentStatus.FAILED,
                    expected_from={PaymentStatus.CREATED},
                    reason="provider_refused",
                )
            raise
        result = await self.ledger.transition(
            payment.id,
            PaymentStatus.PENDING,
            expected_from={PaymentStatus.CREATED},
            pay_url=created.pay_url,
            provider_txn_id=created.provider_reference,
            reason="provider_created",
        )
        return result.payment

    @staticmethod
    def _order(payment: Payment, client_ip: str) -> PaymentOrder:
        return PaymentOrder(
            reference=payment.reference,
            amount=payment.amount,
            description=describe(payment.dossier_code),
            dossier_code=payment.dossier_code,
            procedure_code=payment.procedure_code,
            agency_code=payment.agency_code,
            agency_name=payment.agency_code,
            payer_name=payment.payer_name or "",
            payer_id_number=payment.payer_id_number or "",
            return_url=payment.return_url,
            client_ip=client_ip,
            created_at=payment.created_at,
            expires_at=payment.expires_at,
            fee_lines=tuple(
                FeeLine(
                    kind=line["kind"],
                    code=str(line["code"]),
                    name=str(line["name"]),
                    amount=int(line["amount"]),
                )
                for line in payment.fee_lines
            ),
        )

    # -- read, refresh, cancel --------------------------------------------------------------

    async def get(self, client: ClientConfig, payment_id: str, *, refresh: bool = False) -> Payment:
        """The client's own payment (404 for anyone else's); ``refresh`` asks the provider first.

        A refresh asks about every payment not already under review: an open one
        may have been paid, a failed, cancelled or expired one paid late, a paid
        one reversed or refunded (each of the last three goes to needs_review).
        """
        payment = await self._owned(client, payment_id)
        if refresh and payment.status is not PaymentStatus.NEEDS_REVIEW:
            payment = await self.refresh(payment)
        return payment

    async def _owned(self, client: ClientConfig, payment_id: str) -> Payment:
        payment = await self.ledger.get(payment_id)
        if payment is None or payment.client_id != client.id:
            raise PaymentNotFound(payment_id)
        return payment

    async def refresh(self, payment: Payment, *, reason: str = "status_query") -> Payment:
        """Ask the provider about ``payment`` and apply what it says; the payment as it is now."""
        provider = self.providers.get(payment.provider)
        status = await provider.query_status(payment.reference, created_at=payment.created_at)
        target = LEDGER_STATUS.get(status.status)
        if target is None:
            return payment  # the provider does not know it (yet)
        if target is PaymentStatus.PAID and status.amount is None:
            return payment
        if target is payment.status:
            return payment  # no news
        result = await self.ledger.apply_provider_result(
            payment.reference, target, status.amount, status.provider_txn_id, reason=reason
        )
        return result.payment

    async def cancel(self, client: ClientConfig, payment_id: str) -> Payment:
        """Cancel while open: 409 ``payment-not-cancellable`` once final or under review.

        An open payment is first checked with its provider (best effort), so a
        payment the payer has just paid is reported paid instead of cancelled.
        """
        payment = await self._owned(client, payment_id)
        if payment.status in OPEN and payment.pay_url:
            try:
                payment = await self.refresh(payment, reason="cancel_check")
            except AdapterError as exc:
                _log.info("payment.cancel_check_failed", payment_id=payment.id, error=exc.detail)
        if payment.status in OPEN:
            result = await self.ledger.transition(
                payment.id,
                PaymentStatus.CANCELLED,
                expected_from=OPEN,
                reason="cancelled_by_client",
            )
            if result.applied:
                return result.payment
            payment = result.payment
        raise PaymentNotCancellable(
            f"the payment is {payment.status} and can no longer be cancelled",
            status=payment.status,
        )

    # -- provider callbacks -----------------------------------------------------------------

    def provider(self, name: str) -> PaymentProvider | None:
        """The configured provider called ``name``, or None."""
        try:
            return self.providers.get(name)
        except KeyError:
            return None

    async def handle_callback(
        self,
        provider_name: str,
        method: str,
        query: Mapping[str, str],
        body: bytes,
        remote: str | None,
    ) -> ProviderAnswer:
        """Verify, apply, answer in the provider's format (``provider_name`` must exist).

        ``remote`` is the sender's address (gateway.auth.forwarded): outside the
        provider's ``callback_sources`` the callback is refused unread.
        """
        provider = self.providers.get(provider_name)
        if not check_callback_source(
            provider_name, remote, self.callback_sources.get(provider_name, ())
        ):
            return provider.answer_callback(None, outcome="rejected")
        try:
            result = provider.parse_callback(method, query, body)
        except CallbackRejected as exc:
            security_events.emit(
                _REJECTION_EVENTS.get(exc.kind, SecurityEventKind.BAD_CALLBACK),
                provider=provider_name,
                reason=exc.reason,
                remote=remote,
            )
            return provider.answer_callback(exc, outcome="rejected")
        outcome = await self._apply_callback(provider_name, result)
        _log.info(
            "payment.callback",
            provider=provider_name,
            reference=result.reference,
            reported=str(result.status),
            outcome=outcome,
        )
        return provider.answer_callback(result, outcome=outcome)

    async def _apply_callback(self, provider_name: str, result: CallbackResult) -> CallbackOutcome:
        """Apply a verified callback; the outcome in the order of VNPay's reference code."""
        if not result.for_this_merchant:
            # Correctly signed, but for another merchant: not an order of ours (VNPay 01),
            # and the same security event as a partner the adapter refuses outright.
            security_events.emit(
                _REJECTION_EVENTS["wrong_partner"],
                provider=provider_name,
                reason="message for another merchant",
                reference=result.reference,
            )
            return "not_found"
        payment = await self.ledger.get_by_reference(result.reference)
        if payment is None or payment.provider != provider_name:
            return "not_found"
        # A signed result the adapter could not map is a failure, as in VNPay's reference
        # code (anything but success fails the order); a paid payment stays paid.
        target = LEDGER_STATUS.get(result.status, PaymentStatus.FAILED)
        billed = result.whole_dong and result.amount == payment.amount
        if not billed and target not in _MONEY_MOVED:
            # No money moved, and the message disagrees with the bill: change nothing.
            security_events.emit(
                SecurityEventKind.AMOUNT_MISMATCH,
                payment_id=payment.id,
                reference=payment.reference,
                reported=str(target),
                billed=payment.amount,
                paid=result.amount,
                whole_dong=result.whole_dong,
                source="callback",
            )
            return "amount_mismatch"
        try:
            applied: TransitionResult = await self.ledger.apply_provider_result(
                result.reference,
                target,
                result.amount,
                result.provider_txn_id,
                reason="callback",
                whole_dong=result.whole_dong,
                known=payment,
            )
        except PaymentNotFound:
            return "not_found"
        if not billed:
            return "amount_mismatch"
        if applied.applied or applied.payment.status in OPEN:
            return "confirmed"
        return "already_confirmed"

    # -- the payer's return -----------------------------------------------------------------

    async def payer_return(
        self, provider_name: str, query: Mapping[str, str], remote: str | None
    ) -> PayerReturn:
        """Where to send the payer: never changes a state from the return's own content."""
        provider = self.providers.get(provider_name)
        try:
            result = provider.parse_callback("GET", query, b"")
        except CallbackRejected as exc:
            security_events.emit(
                (
                    SecurityEventKind.BAD_RETURN_CHECKSUM
                    if exc.kind == "bad_checksum"
                    else SecurityEventKind.MALFORMED_RETURN
                ),
                provider=provider_name,
                reason=exc.reason,
                remote=remote,
            )
            return PayerReturn(None, None, "The payment result could not be verified.")
        payment = await self.ledger.get_by_reference(result.reference)
        if payment is None or payment.provider != provider_name:
            return PayerReturn(None, None, "No such payment.")
        if payment.status in OPEN:
            try:
                payment = await self.refresh(payment, reason="payer_return")
            except AdapterError as exc:
                _log.info("payment.return_query_failed", payment_id=payment.id, error=exc.detail)
        return PayerReturn(payment, with_status(payment), f"Payment {payment.status}.")


def with_status(payment: Payment) -> str | None:
    """The client's return URL with ``payment_id`` and ``status`` added (None if it has none)."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    if not payment.return_url:
        return None
    parts = urlsplit(payment.return_url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("payment_id", "status")
    ]
    query += [("payment_id", payment.id), ("status", str(payment.status))]
    return urlunsplit(parts._replace(query=urlencode(query)))
