"""How the gateway reaches its database: one URL, a pool size, a busy timeout."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StoreConfig(BaseModel):
    """Where the store lives.

    ``url`` is ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
    ``postgresql://user@host:port/db``. ``schema`` (PostgreSQL only) puts every
    table in that schema, created if missing (tests give each run its own).
    """

    model_config = ConfigDict(extra="forbid")

    url: str = "sqlite:///var/lienthong.db"
    pool_size: int = Field(default=10, ge=1, le=200)
    #: How long a writer waits for a lock held by another connection before failing.
    busy_timeout_s: float = Field(default=5.0, gt=0)
    schema_name: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgres``, from the URL scheme."""
        scheme = self.url.split(":", 1)[0].lower()
        if scheme == "sqlite":
            return "sqlite"
        if scheme in ("postgresql", "postgres"):
            return "postgres"
        raise ValueError(f"unsupported store URL scheme {scheme!r}")
