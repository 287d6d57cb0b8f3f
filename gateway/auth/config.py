"""The inbound clients' configuration (``[[clients]]``): who may call, with what, and where
their events go. A config module (a leaf: stdlib and pydantic only)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

#: Operations a client's ``"*"`` does not cover: each must be granted by name
#: (``reports.read``: every agency's quarterly figures, for the city office only).
EXPLICIT_ONLY = frozenset({"reports.read"})


class WebhookTarget(BaseModel):
    """Where a client receives its events (Standard Webhooks, HMAC-SHA256)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    #: ``whsec_``-prefixed base64 secrets; two during rotation (first one signs too).
    secrets: list[SecretStr] = Field(min_length=1, max_length=2)


class ClientConfig(BaseModel):
    """One calling system. ``id`` is the ``keyid`` of its signatures and its certificate's CN."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,62}$")
    name: str = ""
    #: HMAC-SHA256 keys (the secret's UTF-8 bytes); two at once during rotation.
    secrets: list[SecretStr] = Field(default_factory=list, max_length=2)
    #: Subject CNs of client certificates (issued by the city CA) that identify this client.
    certificate_cns: list[str] = Field(default_factory=list)
    #: Operation names this client may call (route names, e.g. ``citizens.verify``).
    operations: list[str] = Field(default_factory=list)
    #: Token-bucket rate limit for this client.
    rate_per_second: float = Field(default=50.0, gt=0)
    burst: float = Field(default=100.0, gt=0)
    webhook: WebhookTarget | None = None
    #: Payment return URLs must start with one of these.
    return_url_prefixes: list[str] = Field(default_factory=list)

    @field_validator("operations")
    @classmethod
    def _known_operation_syntax(cls, v: list[str]) -> list[str]:
        for op in v:
            if not op or " " in op:
                raise ValueError(f"bad operation name {op!r}")
        return v

    def may(self, operation: str) -> bool:
        if operation in self.operations:
            return True
        return "*" in self.operations and operation not in EXPLICIT_ONLY
