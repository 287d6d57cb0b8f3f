"""VNPay 2.1.0: signed pay URLs, GET IPNs, ``querydr`` (HMAC-SHA512)."""

from adapters.payment.vnpay.client import VnpayProvider
from adapters.payment.vnpay.config import VnpayConfig

__all__ = ["VnpayConfig", "VnpayProvider"]
