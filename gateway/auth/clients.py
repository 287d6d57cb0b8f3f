"""The gateway's clients (the one-stop system, the portal) and what each may do."""

from __future__ import annotations

from gateway.auth.config import ClientConfig


def signing_keys(client: ClientConfig) -> tuple[bytes, ...]:
    """A client's HMAC keys: its secrets' UTF-8 bytes."""
    return tuple(s.get_secret_value().encode() for s in client.secrets)


_UNKNOWN: tuple[None, tuple[bytes, ...]] = (None, ())


class ClientRegistry:
    """Look up clients by id or by certificate CN; :meth:`replace` swaps them all (a reload)."""

    def __init__(self, clients: list[ClientConfig]) -> None:
        self.replace(clients)

    def replace(self, clients: list[ClientConfig]) -> None:
        """From now on, these clients (each lookup sees the old set or the new, never a mix)."""
        by_id = {c.id: c for c in clients}
        by_cn = {cn: c for c in clients for cn in (c.certificate_cns or [c.id])}
        keys = {c.id: (c, signing_keys(c)) for c in by_id.values()}
        self._by_id, self._by_cn, self._keys = by_id, by_cn, keys

    def by_id(self, client_id: str) -> ClientConfig | None:
        return self._by_id.get(client_id)

    def with_keys(self, client_id: str) -> tuple[ClientConfig | None, tuple[bytes, ...]]:
        """The client and its HMAC keys, encoded once when the clients were set."""
        return self._keys.get(client_id, _UNKNOWN)

    def by_certificate_cn(self, cn: str) -> ClientConfig | None:
        return self._by_cn.get(cn)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_id.values())
