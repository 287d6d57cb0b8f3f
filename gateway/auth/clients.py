"""The gateway's clients (the one-stop system, the portal) and what each may do."""

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


class ClientRegistry:
    """Look up clients by id or by certificate CN; :meth:`replace` swaps them all (a reload)."""

    def __init__(self, clients: list[ClientConfig]) -> None:
        self.replace(clients)

    def replace(self, clients: list[ClientConfig]) -> None:
        """From now on, these clients (each lookup sees the old set or the new, never a mix)."""
        by_id = {c.id: c for c in clients}
        by_cn = {cn: c for c in clients for cn in (c.certificate_cns or [c.id])}
        self._by_id, self._by_cn = by_id, by_cn

    def by_id(self, client_id: str) -> ClientConfig | None:
        return self._by_id.get(client_id)

    def by_certificate_cn(self, cn: str) -> ClientConfig | None:
        return self._by_cn.get(cn)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())
