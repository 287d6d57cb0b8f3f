"""What the payment providers' configurations share: the statuses their codes map onto,
and the fields every provider's adapter config has (:class:`ProviderConfig`).

A config module (a leaf: stdlib and pydantic only, see adapters/config.py).
"""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

from adapters.config import NetworkList


class ProviderStatus(enum.StrEnum):
    """A payment's state as the provider reports it.

    Three states mean the payer's money moved but the payment is not simply paid;
    the gateway treats each as a case for people (``needs_review`` with the state
    as its reason), never as a silent ``pending`` or ``failed``:

    - ``flagged``: debited, but the provider flags the transaction as suspicious
      (VNPay ``vnp_ResponseCode`` 07, ``vnp_TransactionStatus`` 07);
    - ``reversed``: the money went back to the payer after a payment (VNPay status 04);
    - ``refunded``: a refund is in progress, sent to the bank, or was refused
      (VNPay statuses 05, 06, 09).
    """

    PAID = "paid"
    PENDING = "pending"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FLAGGED = "flagged"
    REVERSED = "reversed"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"


class ProviderConfig(BaseModel):
    """The fields every payment provider's adapter config has (``[upstreams.<name>.adapter]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Backstop timeout of one attempt; the call guard's per-try timeout is the real one.
    attempt_timeout_seconds: float = Field(default=15.0, gt=0)
    max_reply_bytes: int = Field(default=256 * 1024, gt=0)
    max_page_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    #: Addresses (CIDRs) the provider's callbacks may come from; empty accepts any (the
    #: checksum still decides). A callback from elsewhere is refused with the provider's
    #: code (the platform's 99, VNPay's 97) and raises a security event.
    callback_sources: NetworkList = ()
