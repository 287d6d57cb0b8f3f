"""Configuration of the business registration adapter (NGSP REST, OAuth2)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field

from adapters.config import OAuthConfig, TLSFiles


class BusinessTLS(BaseModel):
    """TLS material for the NGSP endpoint; ``verify=False`` is for a loopback sandbox only."""

    model_config = ConfigDict(extra="forbid")

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify: bool = True

    def files(self) -> TLSFiles:
        return TLSFiles(
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
            verify=self.verify,
        )


class BusinessConfig(BaseModel):
    """Where the national business registration service is and how to reach it."""

    model_config = ConfigDict(extra="forbid")

    #: Base URL the service path ``apiCSDLDKDN/1.0/chiTietDoanhNghiep`` is appended to.
    base_url: str
    oauth: OAuthConfig
    lookup_path: str = "apiCSDLDKDN/1.0/chiTietDoanhNghiep"
    max_reply_bytes: int = Field(default=256 * 1024, gt=0)
    #: A safety-net deadline of one HTTP exchange; the resilience guard sets the real ones.
    timeout_seconds: float = Field(default=30.0, gt=0)
    tls: BusinessTLS | None = None

    #: The fields naming the system's address (production wants https, not loopback); the
    #: first is the API the gateway calls.
    ENDPOINTS: ClassVar[tuple[str, ...]] = ("base_url",)

    def at_sandbox(self, base_url: str, gateway_url: str | None = None) -> Self:
        """This config aimed at the NGSP sandbox serving at ``base_url`` (its token too)."""
        oauth = self.oauth.model_copy(update={"token_url": base_url + "/token"})
        return self.model_copy(update={"base_url": base_url, "oauth": oauth})

    @property
    def lookup_url(self) -> str:
        return self.base_url.rstrip("/") + "/" + self.lookup_path.lstrip("/")
