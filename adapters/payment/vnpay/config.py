"""Settings of the VNPay adapter (VNPay 2.1.0, as published) and of its sandbox's wire side."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from adapters.networks import NetworkList
from adapters.secrets import read_secret_file

#: The embedded default's published sandbox secret (not a secret: it only opens the sandbox).
SANDBOX_HASH_SECRET = "VNPAYSANDBOXSECRETKEY0123456789"  # noqa: S105


class VnpayConfig(BaseModel):
    """How the gateway builds VNPay pay URLs and reaches VNPay's merchant API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
    attempt_timeout: float = Field(default=15.0, gt=0)
    max_reply_bytes: int = Field(default=256 * 1024, gt=0)
    max_page_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    #: Addresses (CIDRs) VNPay's IPNs may come from; empty accepts any (the checksum still
    #: decides). A callback from elsewhere is answered 97 and raises a security event.
    callback_sources: NetworkList = ()

    def hash_secret_value(self) -> str:
        """The HMAC secret (from the file when configured). Never log it."""
        if self.hash_secret_file is not None:
            return read_secret_file(self.hash_secret_file)
        return self.hash_secret.get_secret_value()
