"""Configuration of client authentication, limits and the TLS listener."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PUBLIC_PATHS = (
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/callbacks/",
    "/pay/return/",
)


class AuthSettings(BaseModel):
    """How inbound requests are authenticated and bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Signed requests older than this (by ``created``) are refused; nonces are kept as long.
    signature_window_seconds: float = Field(default=300.0, gt=0)
    #: How far in the future ``created`` may be (client clocks run fast).
    future_skew_seconds: float = Field(default=5.0, ge=0)
    #: Larger request bodies get 413 before they are read.
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    #: Path prefixes that skip authentication and authorization.
    public_paths: tuple[str, ...] = DEFAULT_PUBLIC_PATHS
    #: Bound on unexpired nonces held in memory (single instance).
    nonce_store_max_entries: int = Field(default=1_000_000, gt=0)


class TlsListenerSettings(BaseModel):
    """The HTTPS listener where clients authenticate with certificates from the city CA."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8743
    cert_file: Path = Path("certs/dev/server.pem")
    key_file: Path = Path("certs/dev/server.key")
    client_ca_file: Path = Path("certs/dev/ca.pem")
    #: True: the handshake refuses clients without a certificate. False: they may sign instead.
    require_client_cert: bool = True
