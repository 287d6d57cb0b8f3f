"""Settings of the national payment platform adapter (and of its sandbox's wire side).

The platform's field names and checksum orders are fixed (see protocols.md); the
message type codes, result codes, paths and the pay-URL field are not public and
are settings here *(inferred)*.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from adapters.config import read_secret_file
from adapters.payment.config import ProviderConfig, ProviderStatus

#: The embedded default's published sandbox key (not a secret: it only opens the sandbox).
SANDBOX_HASH_KEY = "dvcqg-sandbox-hash-key"


class DvcqgMessageTypes(BaseModel):
    """``LoaiBanTin`` of each message *(inferred)*."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    create: str = "TaoGiaoDich"
    callback: str = "KetQuaGiaoDich"
    query: str = "TraCuuGiaoDich"
    day_list: str = "DoiSoatGiaoDich"


class DvcqgResultCodes(BaseModel):
    """``MaLoi`` of a transaction result (callback, status query) *(inferred except 00)*."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    paid: str = "00"
    pending: str = "01"
    cancelled: str = "02"
    failed: str = "03"
    not_found: str = "04"

    @functools.cached_property
    def _table(self) -> dict[str, ProviderStatus]:
        """Code → status, built once (a day list asks a million times)."""
        return {
            self.paid: ProviderStatus.PAID,
            self.pending: ProviderStatus.PENDING,
            self.cancelled: ProviderStatus.CANCELLED,
            self.failed: ProviderStatus.FAILED,
            self.not_found: ProviderStatus.UNKNOWN,
        }

    def status_of(self, code: str) -> ProviderStatus:
        """The status a result code means; a code not configured here is ``unknown``.

        Never ``failed`` for a code nobody listed: it might mean money that moved.
        A status query or reconciliation changes nothing on ``unknown``; a signed
        callback carrying it is handled as a failure by the gateway (as VNPay's
        reference handles any code but success), and a later ``paid`` then moves
        the payment to review.
        """
        return self._table.get(code, ProviderStatus.UNKNOWN)

    def code_of(self, status: ProviderStatus) -> str:
        table = {
            ProviderStatus.PAID: self.paid,
            ProviderStatus.PENDING: self.pending,
            ProviderStatus.CANCELLED: self.cancelled,
            ProviderStatus.UNKNOWN: self.not_found,
        }
        return table.get(status, self.failed)


class DvcqgPaths(BaseModel):
    """Paths of the platform's endpoints under ``base_url`` *(inferred)*."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    create: str = "/api/thanhtoan/taogiaodich"
    query: str = "/api/thanhtoan/tracuu"
    day_list: str = "/api/thanhtoan/doisoat"


class DvcqgConfig(ProviderConfig):
    """How the gateway reaches the national payment platform."""

    base_url: str = "http://127.0.0.1:8701"
    paths: DvcqgPaths = Field(default_factory=DvcqgPaths)
    partner_code: str = "LIENTHONG"  # MaDoiTac
    hash_key: SecretStr = SecretStr(SANDBOX_HASH_KEY)
    #: When set, the hash key is read from this file (first line) instead.
    hash_key_file: Path | None = None
    version: str = "1.0"  # PhienBan
    message_types: DvcqgMessageTypes = Field(default_factory=DvcqgMessageTypes)
    result_codes: DvcqgResultCodes = Field(default_factory=DvcqgResultCodes)
    payment_type: str = "1"  # LoaiHinhThanhToan
    channel: str = "1"  # MaKenhThanhToan
    device: str = "1"  # MaThietBi
    language: str = "vi"  # NgonNgu
    bank_code: str = ""  # MaNganHang (empty: the payer chooses on the platform's page)
    #: Field of the create reply that carries the pay URL *(inferred)*.
    pay_url_field: str = "UrlThanhToan"

    #: The fields naming the system's address (production wants https, not loopback); the
    #: first is the API the gateway calls.
    ENDPOINTS: ClassVar[tuple[str, ...]] = ("base_url",)

    def at_sandbox(self, base_url: str, gateway_url: str | None = None) -> Self:
        """This config aimed at the platform sandbox serving at ``base_url``."""
        return self.model_copy(update={"base_url": base_url})

    def hash_key_value(self) -> str:
        """The shared hash key (from the file when configured). Never log it."""
        if self.hash_key_file is not None:
            return read_secret_file(self.hash_key_file)
        return self.hash_key.get_secret_value()
