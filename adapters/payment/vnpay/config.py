"""Settings of the VNPay adapter (VNPay 2.1.0, as published) and of its sandbox's wire side."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self
from urllib.parse import urlsplit

from pydantic import SecretStr

from adapters.config import read_secret_file
from adapters.payment.config import ProviderConfig

#: The embedded default's published sandbox secret (not a secret: it only opens the sandbox).
SANDBOX_HASH_SECRET = "VNPAYSANDBOXSECRETKEY0123456789"  # noqa: S105


class VnpayConfig(ProviderConfig):
    """How the gateway builds VNPay pay URLs and reaches VNPay's merchant API."""

    pay_url: str = "http://127.0.0.1:8702/paymentv2/vpcpay.html"
    #: The merchant web API: ``querydr`` (published) and the day list (``translist``, *inferred*).
    api_url: str = "http://127.0.0.1:8702/merchant_webapi/api/transaction"
    tmn_code: str = "LIENTHONG"
    hash_secret: SecretStr = SecretStr(SANDBOX_HASH_SECRET)
    #: When set, the hash secret is read from this file (first line) instead.
    hash_secret_file: Path | None = None
    version: str = "2.1.0"
    locale: str = "vn"
    order_type: str = "other"
    currency: str = "VND"
    #: The gateway's return endpoint (``vnp_ReturnUrl``).
    return_url: str = "http://127.0.0.1:8700/pay/return/vnpay"
    #: ``vnp_BankCode`` to preselect; empty lets the payer choose.
    bank_code: str = ""
    #: ``vnp_IpAddr`` of querydr / day-list requests (the gateway's own address).
    server_ip: str = "127.0.0.1"
    #: ``vnp_Command`` of the day list *(inferred: VNPay publishes no day-list API)*.
    list_command: str = "translist"

    #: The fields naming the system's address (production wants https, not loopback); the
    #: first is the API the gateway calls.
    ENDPOINTS: ClassVar[tuple[str, ...]] = ("api_url", "pay_url", "return_url")

    def at_sandbox(self, base_url: str, gateway_url: str | None = None) -> Self:
        """This config aimed at the VNPay sandbox serving at ``base_url`` (the paths kept);
        with ``gateway_url``, the payer returns to that gateway."""
        update = {
            "pay_url": _rebase(self.pay_url, base_url),
            "api_url": _rebase(self.api_url, base_url),
        }
        if gateway_url:
            update["return_url"] = f"{gateway_url}/pay/return/vnpay"
        return self.model_copy(update=update)

    def hash_secret_value(self) -> str:
        """The HMAC secret (from the file when configured). Never log it."""
        if self.hash_secret_file is not None:
            return read_secret_file(self.hash_secret_file)
        return self.hash_secret.get_secret_value()


def _rebase(url: str, base: str) -> str:
    """``url``'s path and query on ``base``'s scheme, host and port."""
    parts = urlsplit(url)
    return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
