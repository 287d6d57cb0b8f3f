"""How one deployment reaches the population database: endpoint, WSDL, NDXP headers, WS-Security.

Every field that protocols.md marks *(inferred)* is a setting here, not a constant
in the client. Secrets are :class:`~pydantic.SecretStr` and may be given inline or
read from a file (``*_file``), so deployments can mount them from a secret store.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from adapters.config import TLSFiles, read_secret_file

#: The WSDL shipped with this package (parsed once at start-up, never fetched).
SHIPPED_WSDL = Path(__file__).with_name("dancu.wsdl")
#: Where the sandbox serves the SOAP endpoint (and its WSDL, at ``?wsdl``).
SANDBOX_PATH = "/dancu/ws"


def _secrets_from_files(model: BaseModel, *names: str) -> None:
    """Each secret ``name`` not given inline read from its ``<name>_file``, when that is set."""
    for name in names:
        path = getattr(model, f"{name}_file")
        if path is not None and getattr(model, name) is None:
            object.__setattr__(model, name, SecretStr(read_secret_file(path)))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestDefaults(_Frozen):
    """Values every look-up carries unless the query says otherwise."""

    service_code: str = "DVC0001"  # MaDVC
    integration_code: str = "LIENTHONG"  # MaTichHop
    officer_id: str = "000000000000"  # MaCanBo
    agency_code: str = "000.00.00.H00"  # MaDonVi
    account: str = "lienthong"  # TaiKhoan
    phone: str = "0000000000"  # SoDienThoai


class NdxpHeaders(_Frozen):
    """The NDXP (X-Road) header set; each part is sent only when configured.

    ``Authorization: Basic base64(user:sha256hex(url + user + timestamp + secret))``
    is sent when both ``basic_user`` and a secret are set; ``Timestamp`` (epoch ms)
    accompanies it, or is sent alone when ``send_timestamp`` is on.
    """

    x_road_client: str | None = None  # <instance>/<memberClass>/<memberCode>/<subsystem>
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    basic_user: str | None = None
    basic_secret: SecretStr | None = None
    basic_secret_file: Path | None = None
    send_timestamp: bool = False

    @model_validator(mode="after")
    def _load_secret_files(self) -> Self:
        _secrets_from_files(self, "api_key", "basic_secret")
        return self

    @property
    def signs_basic(self) -> bool:
        return self.basic_user is not None and self.basic_secret is not None


class UsernameTokenSettings(_Frozen):
    """WS-Security UsernameToken (PasswordText, or PasswordDigest with nonce and created)."""

    username: str
    password: SecretStr | None = None
    password_file: Path | None = None
    digest: bool = False

    @model_validator(mode="after")
    def _load_password_file(self) -> Self:
        _secrets_from_files(self, "password")
        if self.password is None:
            raise ValueError("a UsernameToken needs password or password_file")
        return self


class X509SigningSettings(_Frozen):
    """WS-Security X.509 signature over the Body and the wsu:Timestamp, RSA-SHA256 / SHA-256."""

    cert_file: Path
    key_file: Path
    key_password: SecretStr | None = None


class WsSecuritySettings(_Frozen):
    """Which WS-Security parts this deployment adds to each envelope."""

    username_token: UsernameTokenSettings | None = None
    signing: X509SigningSettings | None = None
    #: Add a wsu:Timestamp (always added, and signed, when signing is on).
    timestamp: bool = False
    timestamp_ttl_seconds: int = Field(default=300, gt=0)

    @property
    def enabled(self) -> bool:
        return self.username_token is not None or self.signing is not None or self.timestamp


class PopulationConfig(_Frozen):
    """Everything the population adapter needs to reach one NDXP endpoint."""

    upstream_name: str = "population"
    endpoint: str | None = None  # e.g. the sandbox's http://127.0.0.1:<port>/dancu/ws
    wsdl_path: Path = SHIPPED_WSDL
    max_reply_bytes: int = Field(default=2 * 1024 * 1024, gt=0)
    #: Send HoVaTen folded (no accents, Đ→D, no spaces or punctuation, upper case).
    fold_name_in_request: bool = False
    #: How envelopes are built and replies read: ``compiled`` (templates and a reader derived
    #: at start-up from zeep's parsed schema, proven equal to zeep) or ``zeep`` (zeep itself).
    codec: Literal["compiled", "zeep"] = "compiled"
    defaults: RequestDefaults = RequestDefaults()
    ndxp: NdxpHeaders = NdxpHeaders()
    ws_security: WsSecuritySettings = WsSecuritySettings()
    tls: TLSFiles | None = None

    #: The fields naming the system's address (production wants https, not loopback); the
    #: first is the API the gateway calls.
    ENDPOINTS: ClassVar[tuple[str, ...]] = ("endpoint",)

    def at_sandbox(self, base_url: str, gateway_url: str | None = None) -> Self:
        """This config aimed at the sandbox serving at ``base_url``."""
        return self.model_copy(update={"endpoint": base_url + SANDBOX_PATH})

    def require_endpoint(self) -> str:
        """The endpoint URL, or a clear configuration error if none was given."""
        if not self.endpoint:
            raise ValueError("population.endpoint is not configured")
        return self.endpoint
