"""What the payment providers' configurations share: the statuses their codes map onto.

A config module (a leaf: stdlib and pydantic only, see adapters/config.py).
"""

from __future__ import annotations

import enum


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
