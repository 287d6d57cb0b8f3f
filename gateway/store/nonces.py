"""Request-signature nonces as unique rows, so every instance sees every nonce."""

from __future__ import annotations

from datetime import datetime

from gateway.store.base import Clock, Transaction, to_us

_PURGE_EVERY = 128


class NonceBook:
    """Remembers nonces through a backend's transactions; purges expired rows now and then."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._since_purge = 0

    async def remember(
        self, tx: Transaction, client_id: str, nonce: str, expires_at: datetime
    ) -> bool:
        """Insert the nonce unless a live row exists; True if it is new."""
        now = to_us(self._clock())
        self._since_purge += 1
        if self._since_purge >= _PURGE_EVERY:
            self._since_purge = 0
            await self.purge(tx)
        else:
            await tx.execute(
                "DELETE FROM nonces WHERE client_id = $1 AND nonce = $2 AND expires_at <= $3",
                client_id,
                nonce,
                now,
            )
        inserted = await tx.execute(
            "INSERT INTO nonces (client_id, nonce, expires_at) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            client_id,
            nonce,
            to_us(expires_at),
        )
        return inserted == 1

    async def purge(self, tx: Transaction) -> int:
        """Delete every expired nonce."""
        return await tx.execute("DELETE FROM nonces WHERE expires_at <= $1", to_us(self._clock()))
