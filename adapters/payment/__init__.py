"""Payment providers: the national payment platform (``dvcqg``) and VNPay, with sandboxes.

The gateway talks to any provider through :class:`PaymentProvider`; each provider's
package holds its config, checksums, client and a sandbox peer that speaks the same
wire protocol on loopback and misbehaves on demand.
"""

from adapters.aliases import VIETNAM_TZ
from adapters.payment.base import (
    CallbackOutcome,
    CallbackRejected,
    CallbackResult,
    CreatedPayment,
    FeeLine,
    PaymentOrder,
    PaymentProvider,
    PaymentProviders,
    ProviderAnswer,
    ProviderStatus,
    StatusResult,
    Transaction,
)

__all__ = [
    "VIETNAM_TZ",
    "CallbackOutcome",
    "CallbackRejected",
    "CallbackResult",
    "CreatedPayment",
    "FeeLine",
    "PaymentOrder",
    "PaymentProvider",
    "PaymentProviders",
    "ProviderAnswer",
    "ProviderStatus",
    "StatusResult",
    "Transaction",
]
