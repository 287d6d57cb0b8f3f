"""Configuration: one TOML file, then ``LIENTHONG_*`` environment overrides, validated by pydantic.

``LIENTHONG_SERVER__PORT=9000`` overrides ``[server] port``; nested keys are
joined with ``__``. Secrets are :class:`pydantic.SecretStr` and can come from
files (``*_file`` keys) so that a real deployment keeps them out of the TOML; under
systemd, relative ``*_file`` paths name ``LoadCredential=`` credentials
(:mod:`gateway.credentials`).
:func:`production_problems` lists what a production config must not contain.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from adapters.business.config import BusinessConfig
from adapters.networks import NetworkList
from adapters.payment.dvcqg.config import DvcqgConfig
from adapters.payment.vnpay.config import VnpayConfig
from adapters.population.config import PopulationConfig
from adapters.resilience import UpstreamResilience
from gateway.audit.config import AuditConfig
from gateway.auth.clients import ClientConfig
from gateway.payments.webhooks import WebhookDispatchConfig
from gateway.security.config import SecurityConfig
from gateway.tracing import TracingConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The embedded default, shipped inside the package so that a plain ``pip install``
#: has it; ``config/gateway.toml`` is the same file, kept where operators look for it
#: (tests/test_cli.py checks that the two are equal).
DEFAULT_CONFIG = Path(__file__).resolve().with_name("default.toml")
#: Names the config file when no ``--config`` is given.
CONFIG_ENV = "LIENTHONG_CONFIG"

#: Secrets that ship in the embedded default; refused in production.
DEV_SECRETS = frozenset(
    {
        "motcua-demo-secret-change-me",
        "portal-demo-secret-change-me",
        "dvcqg-sandbox-hash-key",
        "VNPAYSANDBOXSECRETKEY0123456789",
        "whsec_bGllbnRob25nLWRlbW8td2ViaG9vay1zZWNyZXQ=",
        "ngsp-sandbox-consumer-secret",
        "ndxp-sandbox-secret",
    }
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8700, ge=0, le=65535)
    #: HTTPS with client certificates; 0 disables the TLS listener.
    tls_port: int = Field(default=8743, ge=0, le=65535)
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    signature_window_seconds: float = Field(default=300.0, gt=0)
    #: Whether the TLS listener refuses a handshake without a client certificate.
    require_client_certificate: bool = True
    #: Where signature nonces are remembered: ``memory`` (one instance, free) or
    #: ``store`` (unique rows in the database, shared by every instance).
    nonce_store: Literal["memory", "store"] = "memory"
    #: ``memory``: how many unexpired nonces are held; beyond it signed requests get 503
    #: (never a forgotten nonce, which would let a replay through). With the 300 s window,
    #: 100,000 allows about 330 signed requests a second, sustained (about 25 MB).
    max_nonces: int = Field(default=100_000, ge=1)
    #: SIGTERM: ``/readyz`` answers 503 at once and the listeners keep accepting this
    #: long (so a load balancer sees it and moves traffic), then they close.
    drain_seconds: float = Field(default=5.0, ge=0)
    #: After the listeners close, requests in flight get this long to finish.
    shutdown_timeout_seconds: float = Field(default=15.0, gt=0)
    #: A request's line and headers must arrive within this, else 408 and the connection closes.
    header_read_timeout_seconds: float = Field(default=5.0, gt=0)
    #: A request's body must arrive within this once its headers are in, else 408.
    body_read_timeout_seconds: float = Field(default=10.0, gt=0)
    #: A kept-alive connection idle between requests is closed after this. Longer than
    #: the load balancer's own upstream idle time (nginx: 60 s), so that it never reuses
    #: a connection the gateway is closing. A connection that has sent nothing yet is
    #: closed after ``header_read_timeout_seconds``.
    keepalive_timeout_seconds: float = Field(default=75.0, gt=0)
    #: Connections each listener holds at once; beyond it a new one gets 503 and is closed.
    max_connections: int = Field(default=1000, ge=1)
    #: Load balancers (CIDRs) whose ``X-Forwarded-For`` names the client; empty: none.
    #: Only a peer in this list is believed (gateway.auth.forwarded).
    trusted_proxies: NetworkList = ()


class TLSServerConfig(_Section):
    """The gateway's own TLS: its certificate and the city CA that issues client certificates."""

    cert_file: Path = Path("certs/dev/server.pem")
    key_file: Path = Path("certs/dev/server.key")
    client_ca_file: Path = Path("certs/dev/ca.pem")
    #: Generate the dev PKI under ``dev_pki_dir`` at start-up when it is missing (dev only).
    generate_dev_pki: bool = True
    dev_pki_dir: Path = Path("certs/dev")


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = True


class StoreSection(_Section):
    url: str = "sqlite:///var/lienthong.db"
    pool_size: int = Field(default=10, ge=1, le=200)
    #: PostgreSQL only: keep every table in this schema (tests isolate themselves with it).
    schema_name: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")


class SandboxConfig(_Section):
    """The sandbox national systems, started in-process on loopback by ``lienthong run``."""

    enabled: bool = False
    host: str = "127.0.0.1"
    population_port: int = Field(default=8701, ge=0, le=65535)
    ngsp_port: int = Field(default=8702, ge=0, le=65535)
    dvcqg_port: int = Field(default=8703, ge=0, le=65535)
    vnpay_port: int = Field(default=8704, ge=0, le=65535)
    #: Lifetime of NGSP sandbox tokens, seconds.
    token_lifetime_seconds: float = 3600.0


class PopulationSection(_Section):
    adapter: PopulationConfig = Field(default_factory=PopulationConfig)
    resilience: UpstreamResilience = Field(default_factory=UpstreamResilience)


class BusinessSection(_Section):
    adapter: BusinessConfig | None = None
    resilience: UpstreamResilience = Field(default_factory=UpstreamResilience)
    cache_ttl_seconds: float = Field(default=600.0, ge=0)


class PaymentPollingConfig(_Section):
    """The worker that recovers lost callbacks by asking the provider, and expires payments."""

    #: A payment left pending this long without news is queried for the first time.
    pending_age_seconds: float = Field(default=120.0, ge=0)
    #: Then again after this long, doubling each time up to ``backoff_max_seconds``.
    backoff_initial_seconds: float = Field(default=60.0, gt=0)
    backoff_max_seconds: float = Field(default=900.0, gt=0)
    #: How often the worker wakes up.
    interval_seconds: float = Field(default=5.0, gt=0)
    #: Payments handled per wake-up (each query is one upstream call).
    batch_size: int = Field(default=50, ge=1, le=1000)
    #: Past expiry, how long the last query may keep failing before the payment expires anyway.
    expiry_query_grace_seconds: float = Field(default=3600.0, ge=0)


class PaymentsSection(_Section):
    """Online fee payment (issue #4): providers, expiry, polling and webhook delivery."""

    enabled: bool = True
    default_provider: Literal["dvcqg", "vnpay"] = "dvcqg"
    #: Minutes a payment stays payable (fractions allowed: tests use seconds).
    expiry_minutes: float = Field(default=15.0, gt=0, le=7 * 24 * 60)
    #: Days a payment stays final before the payer's name and clear id are erased
    #: (the masked id and its keyed digest stay; see gateway.payments.personal_data).
    personal_data_retention_days: int = Field(default=30, ge=0, le=3650)
    polling: PaymentPollingConfig = Field(default_factory=PaymentPollingConfig)
    webhooks: WebhookDispatchConfig = Field(default_factory=WebhookDispatchConfig)
    #: The national payment platform; None leaves it out.
    dvcqg: DvcqgConfig | None = Field(default_factory=DvcqgConfig)
    #: VNPay; None leaves it out.
    vnpay: VnpayConfig | None = Field(default_factory=VnpayConfig)
    #: The resilience policy of each provider (keyed by provider name).
    resilience: dict[str, UpstreamResilience] = Field(default_factory=dict)

    def resilience_for(self, provider: str) -> UpstreamResilience:
        return self.resilience.get(provider) or UpstreamResilience()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LIENTHONG_", env_nested_delimiter="__", extra="forbid"
    )

    environment: Literal["development", "test", "production"] = "development"
    instance_id: str = "lienthong-1"
    server: ServerConfig = Field(default_factory=ServerConfig)
    tls: TLSServerConfig = Field(default_factory=TLSServerConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    store: StoreSection = Field(default_factory=StoreSection)
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    population: PopulationSection = Field(default_factory=PopulationSection)
    business: BusinessSection = Field(default_factory=BusinessSection)
    payments: PaymentsSection = Field(default_factory=PaymentsSection)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    clients: list[ClientConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _credentials_from_systemd(cls, data: Any) -> Any:
        """Relative ``*_file`` paths name systemd credentials (:mod:`gateway.credentials`)."""
        from gateway.credentials import credentials_directory, resolve_credential_files

        directory = credentials_directory()
        return data if directory is None else resolve_credential_files(data, directory)

    @model_validator(mode="after")
    def _audit_key_from_the_dev_pki(self) -> Settings:
        """With a generated dev PKI, the audit signing key is the one it generates."""
        if self.tls.generate_dev_pki and "signing_key_file" not in self.audit.model_fields_set:
            self.audit.signing_key_file = self.tls.dev_pki_dir / "audit-signing.key"
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (passed as init kwargs by load_settings).
        return (env_settings, init_settings)


class ConfigError(Exception):
    """A config file that does not validate; ``str()`` names the file and each bad key."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(errors))
        self.path = path
        self.errors = errors


def _format_errors(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_input=False, include_url=False):
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        out.append(f"{key}: {err['msg']}")
    return out


def config_path(path: Path | None = None) -> Path:
    """The file to read: ``path``, else ``$LIENTHONG_CONFIG``, else the embedded default."""
    if path is not None:
        return path
    named = os.environ.get(CONFIG_ENV, "")
    return Path(named) if named else DEFAULT_CONFIG


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read ``path`` (see :func:`config_path`), apply the environment, validate."""
    path = config_path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(path, ["file not found"]) from exc
    except OSError as exc:
        raise ConfigError(path, [f"cannot read: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(path, [f"not UTF-8: {exc}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [f"not valid TOML: {exc}"]) from exc
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(path, _format_errors(exc)) from exc


def _is_loopback_url(url: str | None) -> bool:
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _walk_secrets(value: Any, path: str) -> list[tuple[str, str]]:
    from pydantic import SecretStr

    found: list[tuple[str, str]] = []
    if isinstance(value, SecretStr):
        found.append((path, value.get_secret_value()))
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            if getattr(value, f"{name}_file", None) is not None:
                continue  # the secret comes from its file; the inline value is unused
            found += _walk_secrets(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, dict):
        for k, v in value.items():
            found += _walk_secrets(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found += _walk_secrets(v, f"{path}[{i}]")
    elif isinstance(value, str) and value in DEV_SECRETS:
        found.append((path, value))
    return found


def production_problems(settings: Settings) -> list[str]:
    """What makes ``settings`` unfit for production (empty when it is fit)."""
    if settings.environment != "production":
        return []
    problems: list[str] = []
    if settings.sandbox.enabled:
        problems.append("sandbox.enabled: sandbox peers are not allowed in production")
    if settings.tls.generate_dev_pki:
        problems.append("tls.generate_dev_pki: the dev PKI is not allowed in production")
    for path, secret in _walk_secrets(settings, ""):
        if secret in DEV_SECRETS or "change-me" in secret:
            problems.append(f"{path}: a dev-only secret is not allowed in production")
    endpoints = {
        "population.adapter.endpoint": settings.population.adapter.endpoint,
        "business.adapter.base_url": (
            settings.business.adapter.base_url if settings.business.adapter else None
        ),
    }
    payments = settings.payments
    if payments.enabled and payments.dvcqg is not None:
        endpoints["payments.dvcqg.base_url"] = payments.dvcqg.base_url
    if payments.enabled and payments.vnpay is not None:
        endpoints["payments.vnpay.pay_url"] = payments.vnpay.pay_url
        endpoints["payments.vnpay.api_url"] = payments.vnpay.api_url
        endpoints["payments.vnpay.return_url"] = payments.vnpay.return_url
    for client in settings.clients:
        if client.webhook is not None and _is_loopback_url(client.webhook.url):
            problems.append(
                f"clients[{client.id}].webhook.url: a loopback (demo) receiver"
                " is not allowed in production"
            )
        for prefix in client.return_url_prefixes:
            if _is_loopback_url(prefix):
                problems.append(
                    f"clients[{client.id}].return_url_prefixes: a loopback (demo) return URL"
                    " is not allowed in production"
                )
    for key, url in endpoints.items():
        if url is None:
            problems.append(f"{key}: required in production")
        elif _is_loopback_url(str(url)):
            problems.append(f"{key}: a loopback (sandbox) endpoint is not allowed in production")
        elif not str(url).startswith("https://"):
            problems.append(f"{key}: production endpoints must use https")
    if settings.store.url.startswith("sqlite") and settings.environment == "production":
        pass  # a single-instance deployment may run on SQLite; not an error
    return problems
