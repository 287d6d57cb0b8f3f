"""What the configuration of every adapter shares: secret files, TLS material, OAuth2.

A config module (this one, ``adapters/**/config.py``, ``gateway/**/config.py``) is a
leaf: it imports nothing but the standard library, pydantic and other config modules,
so that reading a configuration loads no implementation (tests/test_architecture.py).

Secrets given as files (mounted from a secret store) are read one way everywhere:
:func:`read_secret_file` is what every ``*_file`` secret goes through. Inside
:func:`secret_files_unread` it reads nothing and answers an empty string: the
preflight (:mod:`gateway.preflight`) validates a configuration that way, so that one
missing file does not hide the others, and then checks every file itself.

The resilience policy of one upstream (:class:`UpstreamResilience`) belongs to
one national system (population, business, payment…) and holds what is shared
by all its operations (circuit breaker, bulkhead, quota, retry budget) plus one
:class:`OperationPolicy` per adapter operation (timeouts, deadline, retries)::

    [upstreams.population.resilience]
    quota = { rate_per_second = 20, burst = 40 }
    [upstreams.population.resilience.operations.TraCuuThongTinCongDan]
    per_try_timeout_seconds = 3.0
    deadline_seconds = 8.0
    safe_to_retry = true

Address lists (``[server] trusted_proxies``, each payment provider's
``callback_sources``) are :data:`NetworkList` values: a list of networks
(``"10.0.0.0/8"``) or single addresses (``"127.0.0.1"``), each checked by
:func:`ipaddress.ip_network` when the config loads (host bits allowed, so
``"10.1.2.3/8"`` means ``10.0.0.0/8``); :mod:`adapters.networks` parses and
checks addresses against them at run time.

Every model refuses unknown keys, so a typo in the TOML fails at start-up.
"""

from __future__ import annotations

import base64
import contextvars
import ipaddress
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator


def _valid_networks(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR network") from None
    return values


#: A configured list of CIDR networks or addresses (empty: none).
NetworkList = Annotated[tuple[str, ...], AfterValidator(_valid_networks)]

_UNREAD: contextvars.ContextVar[bool] = contextvars.ContextVar("secret_files_unread", default=False)


@contextmanager
def secret_files_unread() -> Iterator[None]:
    """Within this block, :func:`read_secret_file` answers ``""`` without opening the file."""
    token = _UNREAD.set(True)
    try:
        yield
    finally:
        _UNREAD.reset(token)


def read_secret_file(path: Path) -> str:
    """The file's text without surrounding whitespace; ``ValueError`` naming the path if unreadable.

    A ``ValueError`` (not an ``OSError``) so that pydantic reports it against
    the config key that named the file.
    """
    if _UNREAD.get():
        return ""
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class TLSFiles:
    """TLS material for an upstream: CA bundle to trust, optional client certificate."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify: bool = True
    #: SHA-256 of the peer's certificate (hex, colons allowed). When set, the peer must
    #: present exactly that certificate: the pin replaces CA verification.
    pinned_sha256: str | None = None

    def fingerprint(self) -> bytes | None:
        if not self.pinned_sha256:
            return None
        return bytes.fromhex(self.pinned_sha256.replace(":", ""))


class LgspAccessToken(BaseModel):
    """The fields of the ``lgspaccesstoken`` header some provincial LGSPs demand."""

    model_config = ConfigDict(extra="forbid")

    access_key: SecretStr  # AccessKey
    secret_key: SecretStr  # SecretKey
    app_name: str  # AppName
    partner_code: str  # PartnerCode
    partner_code_cus: str = ""  # PartnerCodeCus

    def header_value(self) -> str:
        """base64 of the JSON object the LGSP expects, keys spelled as the LGSP spells them."""
        payload = {
            "AccessKey": self.access_key.get_secret_value(),
            "SecretKey": self.secret_key.get_secret_value(),
            "AppName": self.app_name,
            "PartnerCode": self.partner_code,
            "PartnerCodeCus": self.partner_code_cus,
        }
        return base64.b64encode(json.dumps(payload, ensure_ascii=False).encode()).decode("ascii")


def _secret(value: SecretStr | None, file: Path | None) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if file is not None:
        return read_secret_file(file)
    return None


class OAuthConfig(BaseModel):
    """How to obtain a client-credentials token. Each secret may be given inline or as a file."""

    model_config = ConfigDict(extra="forbid")

    style: Literal["ngsp", "lgsp"] = "ngsp"
    token_url: str
    # NGSP: Basic consumer key / secret
    consumer_key: SecretStr | None = None
    consumer_key_file: Path | None = None
    consumer_secret: SecretStr | None = None
    consumer_secret_file: Path | None = None
    # LGSP: form client id / secret
    client_id: SecretStr | None = None
    client_id_file: Path | None = None
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    lgsp_access_token: LgspAccessToken | None = None
    scope: str | None = None
    #: Refresh this many seconds before ``expires_in`` runs out (at most half the lifetime).
    refresh_margin_seconds: float = Field(default=60.0, ge=0)
    #: Used when the token reply carries no ``expires_in``.
    default_expires_in_seconds: float = Field(default=300.0, gt=0)
    #: Deadline of one token request.
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_reply_bytes: int = Field(default=64 * 1024, gt=0)

    @model_validator(mode="after")
    def _credentials_for_style(self) -> OAuthConfig:
        if self.style == "ngsp":
            pairs = {
                "consumer_key": (self.consumer_key, self.consumer_key_file),
                "consumer_secret": (self.consumer_secret, self.consumer_secret_file),
            }
        else:
            pairs = {
                "client_id": (self.client_id, self.client_id_file),
                "client_secret": (self.client_secret, self.client_secret_file),
            }
        for name, (value, file) in pairs.items():
            if (value is None) == (file is None):
                raise ValueError(f"{self.style} needs exactly one of {name} or {name}_file")
        return self

    def credentials(self) -> tuple[str, str]:
        """The (key/id, secret) pair of the configured style, files read now."""
        if self.style == "ngsp":
            key = _secret(self.consumer_key, self.consumer_key_file)
            secret = _secret(self.consumer_secret, self.consumer_secret_file)
        else:
            key = _secret(self.client_id, self.client_id_file)
            secret = _secret(self.client_secret, self.client_secret_file)
        if not key or not secret:
            raise ValueError(f"{self.style} credentials are empty")
        return key, secret


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OperationPolicy(_Strict):
    """Timeouts and retries of one adapter operation (all durations in seconds).

    Retries happen only when ``safe_to_retry`` (a lookup, a status query; never a
    payment creation), with full-jitter exponential backoff capped at
    ``backoff_max_seconds``, and only while the whole call fits in ``deadline_seconds``.
    """

    per_try_timeout_seconds: float = Field(default=5.0, gt=0)
    deadline_seconds: float = Field(default=15.0, gt=0)
    safe_to_retry: bool = False
    max_attempts: int = Field(default=3, ge=1)
    backoff_initial_seconds: float = Field(default=0.2, gt=0)
    backoff_max_seconds: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _backoff_cap_covers_initial(self) -> OperationPolicy:
        if self.backoff_max_seconds < self.backoff_initial_seconds:
            raise ValueError("backoff_max_seconds must be at least backoff_initial_seconds")
        return self


class BreakerConfig(_Strict):
    """Open when at least ``failure_rate`` of the calls in the last ``window_seconds`` failed.

    The rate is judged only once the window holds ``min_calls`` calls. The breaker
    stays open ``open_seconds``, then lets ``half_open_max_calls`` probes through;
    if all succeed it closes, if one fails it opens again.
    """

    window_seconds: float = Field(default=30.0, gt=0)
    min_calls: int = Field(default=10, ge=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    open_seconds: float = Field(default=30.0, gt=0)
    half_open_max_calls: int = Field(default=3, ge=1)


class BulkheadConfig(_Strict):
    """At most ``max_concurrent`` calls in flight; a caller waits at most ``max_wait_seconds``."""

    max_concurrent: int = Field(default=20, ge=1)
    max_wait_seconds: float = Field(default=1.0, ge=0)


class QuotaConfig(_Strict):
    """The national system's rate limit for the whole city (token bucket)."""

    rate_per_second: float = Field(default=20.0, gt=0)
    burst: float = Field(default=40.0, gt=0)


class RetryBudgetConfig(_Strict):
    """Retries allowed in a window: ``ratio`` × calls + ``min_retries_per_second`` × window."""

    ratio: float = Field(default=0.2, ge=0)
    min_retries_per_second: float = Field(default=1.0, ge=0)
    window_seconds: float = Field(default=10.0, gt=0)


class UpstreamResilience(_Strict):
    """Everything the guard of one upstream needs."""

    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    bulkhead: BulkheadConfig = Field(default_factory=BulkheadConfig)
    quota: QuotaConfig = Field(default_factory=QuotaConfig)
    retry_budget: RetryBudgetConfig = Field(default_factory=RetryBudgetConfig)
    default_operation: OperationPolicy = Field(default_factory=OperationPolicy)
    operations: dict[str, OperationPolicy] = Field(default_factory=dict)

    def policy_for(self, operation: str) -> OperationPolicy:
        """The operation's own policy, or the upstream's default one."""
        return self.operations.get(operation, self.default_operation)
