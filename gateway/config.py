"""Configuration: one TOML file, then ``LIENTHONG_*`` environment overrides, validated by pydantic.

``LIENTHONG_SERVER__PORT=9000`` overrides ``[server] port``; nested keys are
joined with ``__`` (``LIENTHONG_UPSTREAMS__POPULATION__ADAPTER__ENDPOINT``). Secrets
are :class:`pydantic.SecretStr` and can come from files (``*_file`` keys) so that a
real deployment keeps them out of the TOML.

Every national system has the same shape, ``[upstreams.<system>]`` with its
``adapter`` table (the system package's ``Config``) and its ``resilience`` table
(:class:`adapters.config.UpstreamResilience`): one :class:`Upstream` section per
system of :data:`adapters.systems.SYSTEMS`, built from that list. Durations are
``*_seconds`` (day-scale retention periods, set by policy in days, are ``*_days``). A
key of an older shape is refused with a line naming its new key (:func:`moved_keys`),
never ignored.

Systemd credentials: a unit with
``LoadCredential=vnpay-hash-secret:/etc/lienthong/credentials/vnpay``
gives the service a private, read-only copy of that file in the directory named by
``$CREDENTIALS_DIRECTORY``. When that variable is set, every *relative* path given for
a key ending in ``_file`` (in the TOML file or an environment override) is read from
that directory instead of the working directory::

    [upstreams.vnpay.adapter]
    hash_secret_file = "vnpay-hash-secret"      # $CREDENTIALS_DIRECTORY/vnpay-hash-secret

Absolute paths are left alone, and without ``$CREDENTIALS_DIRECTORY`` nothing
changes. Defaults are never rewritten: only keys the configuration sets.

:func:`production_problems` lists what a production config must not contain.

A config module: it imports nothing but the standard library, pydantic, other
config modules and the list of national systems (each system's ``Config`` through
its package, which loads only its config module; tests/test_architecture.py), so
that reading a configuration loads no implementation.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from adapters.config import NetworkList, UpstreamResilience
from adapters.systems import SYSTEMS, NationalSystem
from gateway.audit.config import AuditConfig
from gateway.auth.config import ClientConfig
from gateway.errors import CommandRefused
from gateway.payments.config import PaymentsSection
from gateway.security.config import SecurityConfig

CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"


def credentials_directory() -> Path | None:
    """systemd's credentials directory for this service, if it was started with one."""
    given = os.environ.get(CREDENTIALS_ENV, "")
    return Path(given) if given and Path(given).is_absolute() else None


def _resolved(value: Any, directory: Path) -> Any:
    if isinstance(value, str | PurePath) and str(value) and not Path(value).is_absolute():
        return str(directory / value)
    return value


def resolve_credential_files(data: Any, directory: Path) -> Any:
    """Raw settings (dicts and lists) with each relative ``*_file`` value under ``directory``."""
    if isinstance(data, dict):
        return {
            key: _resolved(value, directory)
            if isinstance(key, str) and key.endswith("_file")
            else resolve_credential_files(value, directory)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [resolve_credential_files(item, directory) for item in data]
    return data


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


#: How an ISO 8601 duration of the old webhook keys reads in seconds.
_ISO_NOTE = 'a number of seconds now, not an ISO 8601 duration ("PT5S" is 5)'

#: Keys of an older shape and where each went (``*`` matches any one key; ``{0}`` is
#: what the first ``*`` matched). A path is translated through the rules of its
#: parents first, so a renamed key inside a moved table is reported at its new place.
MOVED: tuple[tuple[str, str, str], ...] = (
    ("population.adapter", "upstreams.population.adapter", ""),
    ("population.resilience", "upstreams.population.resilience", ""),
    ("business.adapter", "upstreams.business.adapter", ""),
    ("business.resilience", "upstreams.business.resilience", ""),
    ("business.cache_ttl_seconds", "businesses.cache_ttl_seconds", ""),
    ("payments.dvcqg", "upstreams.dvcqg.adapter", ""),
    ("payments.vnpay", "upstreams.vnpay.adapter", ""),
    ("payments.resilience.*", "upstreams.{0}.resilience", ""),
    ("payments.expiry_minutes", "payments.expiry_seconds", "in seconds (15 minutes = 900)"),
    *(
        (f"payments.webhooks.{old}", f"payments.webhooks.{old}_seconds", _ISO_NOTE)
        for old in ("max_age", "backoff_initial", "backoff_max", "lease", "attempt_timeout")
    ),
    ("payments.webhooks.poll_interval", "payments.webhooks.poll_interval_seconds", _ISO_NOTE),
    *(
        (
            f"upstreams.*.resilience.{old_table}.{old}",
            f"upstreams.{{0}}.resilience.{new_table}.{old}_seconds",
            "",
        )
        for old_table, new_table in (
            ("default_operation", "default_operation"),
            ("operations.*", "operations.{1}"),
        )
        for old in ("per_try_timeout", "deadline", "backoff_initial", "backoff_max")
    ),
    (
        "upstreams.*.resilience.bulkhead.max_wait",
        "upstreams.{0}.resilience.bulkhead.max_wait_seconds",
        "",
    ),
    *(
        (
            f"upstreams.{p}.adapter.attempt_timeout",
            f"upstreams.{p}.adapter.attempt_timeout_seconds",
            "",
        )
        for p in ("dvcqg", "vnpay")
    ),
    *(
        (
            f"upstreams.business.adapter.oauth.{old}",
            f"upstreams.business.adapter.oauth.{old}_seconds",
            "",
        )
        for old in ("refresh_margin", "default_expires_in")
    ),
)


class MovedKeysError(CommandRefused):
    """Keys of an older configuration shape; each line names the key and its new place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _match(pattern: tuple[str, ...], path: tuple[str, ...]) -> list[str] | None:
    if len(pattern) != len(path):
        return None
    captured = []
    for want, got in zip(pattern, path, strict=True):
        if want == "*":
            captured.append(got)
        elif want != got:
            return None
    return captured


def _translate(path: tuple[str, ...]) -> tuple[tuple[str, ...], str] | None:
    """The new path of a key that moved (and the rule's note), or None if it did not."""
    for old, new, note in MOVED:
        captured = _match(tuple(old.split(".")), path)
        if captured is not None:
            return tuple(new.format(*captured).split(".")), note
    return None


def _table(path: tuple[str, ...], is_table: bool) -> str:
    """``[a.b]`` for a table, ``[a] b`` for a key."""
    if is_table or len(path) == 1:
        return f"[{'.'.join(path)}]"
    return f"[{'.'.join(path[:-1])}] {path[-1]}"


def _env_name(path: tuple[str, ...]) -> str:
    return "LIENTHONG_" + "__".join(path).upper()


def _walk_moves(tree: Mapping[str, Any], old: tuple[str, ...], new: tuple[str, ...]) -> list[str]:
    """One line per moved key or table in ``tree``, outermost first."""
    found = []
    for key, value in tree.items():
        if not isinstance(key, str):
            continue
        moved = _translate((*new, key))
        child_new = moved[0] if moved else (*new, key)
        if moved:
            is_table = isinstance(value, Mapping)
            line = f"{'.'.join((*old, key))}: {_table((*old, key), is_table)} moved to"
            line += f" {_table(child_new, is_table)}" + (f", {moved[1]}" if moved[1] else "")
            found.append(line)
        if isinstance(value, Mapping):
            found += _walk_moves(value, (*old, key), child_new)
    return found


def _new_path(path: tuple[str, ...]) -> tuple[str, ...]:
    """``path`` with every move of it and of its parents applied."""
    new: tuple[str, ...] = ()
    for key in path:
        moved = _translate((*new, key))
        new = moved[0] if moved else (*new, key)
    return new


def moved_keys(data: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """One line per key of an older shape in ``data`` (the file) and ``environ``.

    ``population.adapter: [population.adapter] moved to [upstreams.population.adapter]``;
    a variable naming an old key is named with the variable to set instead. (A variable
    of a section that still exists, such as a JSON ``LIENTHONG_PAYMENTS__WEBHOOKS``, is
    already merged into ``data`` by pydantic-settings.)
    """
    problems = _walk_moves(data, (), ())
    for name in sorted(environ):
        if not name.upper().startswith("LIENTHONG_"):
            continue
        path = tuple(name[len("LIENTHONG_") :].lower().split("__"))
        new = _new_path(path)
        if new != path:  # a variable of the old shape: pydantic-settings would not read it
            problems.append(
                f"{'.'.join(path)}: {name} names a key of the old shape;"
                f" set {_env_name(new)} instead"
            )
    return problems


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
    #: 1,000,000 allows about 3,300 signed requests a second, sustained (about 81 MB).
    max_nonces: int = Field(default=1_000_000, ge=1)
    #: ``store``: how often expired nonce rows are deleted, in the background.
    nonce_purge_interval_seconds: float = Field(default=60.0, gt=0)
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


class Upstream(_Section):
    """``[upstreams.<system>]``: one national system, the same shape for each.

    ``adapter`` is the system package's ``Config`` (:mod:`adapters.systems`); a system
    whose ``adapter`` has no default (the business registry) is left out without its
    ``adapter`` table (None).
    """

    adapter: Any = None
    resilience: UpstreamResilience = Field(default_factory=UpstreamResilience)


def _upstream(system: NationalSystem) -> type[Upstream]:
    """The ``[upstreams.<system>]`` model: ``adapter`` typed as the package's ``Config``."""
    config = system.adapter().Config  # importing the package loads only its config module
    try:
        config()
        default: Any = Field(default_factory=config)
    except ValidationError:
        default = None  # no usable default: the system is off until configured
    return create_model(
        f"{system.name.title()}Upstream",
        __base__=Upstream,
        __doc__=f"``[upstreams.{system.name}]``: {system.title}.",
        adapter=(config | None, default),
    )


class UpstreamsSection(_Section):
    """``[upstreams]``: every national system of :data:`adapters.systems.SYSTEMS`, one
    ``[upstreams.<system>]`` (:class:`Upstream`) each."""

    def section(self, name: str) -> Upstream:
        """The ``[upstreams.<name>]`` section of national system ``name`` (KeyError for none)."""
        if name not in type(self).model_fields:
            raise KeyError(name)
        section: Upstream = getattr(self, name)
        return section

    def sections(self) -> dict[str, Upstream]:
        """Every national system's ``[upstreams.<name>]`` section, by name."""
        return {name: self.section(name) for name in type(self).model_fields}


if TYPE_CHECKING:
    Upstreams = UpstreamsSection
else:
    _SECTIONS = {system.name: _upstream(system) for system in SYSTEMS}
    #: ``[upstreams]`` with one field per national system, from the one list of them.
    Upstreams = create_model(
        "Upstreams",
        __base__=UpstreamsSection,
        __doc__=UpstreamsSection.__doc__,
        **{name: (model, Field(default_factory=model)) for name, model in _SECTIONS.items()},
    )


class BusinessesSection(_Section):
    """``[businesses]``: the business service's own settings."""

    #: How long a business record read from the registry is served from the cache.
    cache_ttl_seconds: float = Field(default=600.0, ge=0)


class TracingConfig(_Section):
    """``[tracing]``: optional export of spans over OTLP/HTTP (propagation is always on)."""

    #: OTLP/HTTP traces endpoint (``http://127.0.0.1:4318/v1/traces``); unset: no export.
    otlp_endpoint: str | None = None
    #: ``service.name`` of the exported spans.
    service_name: str = "lienthong"
    #: Per-export request timeout.
    otlp_timeout_seconds: float = Field(default=5.0, gt=0, le=60)


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
    upstreams: Upstreams = Field(default_factory=Upstreams)
    businesses: BusinessesSection = Field(default_factory=BusinessesSection)
    payments: PaymentsSection = Field(default_factory=PaymentsSection)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    tracing: TracingConfig = Field(default_factory=TracingConfig)
    clients: list[ClientConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _no_moved_keys(cls, data: Any) -> Any:
        """A key of an older shape (file or environment) stops here, naming its new key."""
        problems = moved_keys(data if isinstance(data, dict) else {}, os.environ)
        if problems:
            raise MovedKeysError(problems)
        return data

    @model_validator(mode="before")
    @classmethod
    def _credentials_from_systemd(cls, data: Any) -> Any:
        """Relative ``*_file`` paths name systemd credentials (see the module docstring)."""
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


class ConfigError(CommandRefused):
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
    except MovedKeysError as exc:
        raise ConfigError(path, exc.problems) from exc
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
    endpoints: dict[str, str | None] = {}
    for system in SYSTEMS:
        section = settings.upstreams.section(system.name)
        if system.payment and (section.adapter is None or not settings.payments.enabled):
            continue  # a payment provider left out, or payments off, needs no address
        for field in system.adapter().Config.ENDPOINTS:
            endpoints[f"upstreams.{system.name}.adapter.{field}"] = getattr(
                section.adapter, field, None
            )
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
