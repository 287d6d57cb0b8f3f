"""Bytes per nonce held by the in-memory nonce store, measured with ``tracemalloc``.

    python -m bench.nonce_memory                 3,000 signed requests a second over 300 s
    python -m bench.nonce_memory --rate 1000 --window 300

The store is filled as a gateway would fill it at that rate (each second ``rate``
fresh nonces expiring ``window`` seconds later, the clock moving on), so the
figure includes the buckets, the set's spare slots and the digests. It is the
source of the figures in docs/performance.md and docs/configuration.md.
"""

from __future__ import annotations

import argparse
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.auth.nonces import InMemoryNonceStore


@dataclass(frozen=True)
class NonceMemory:
    """What one fill held and cost."""

    held: int
    bytes_total: int

    @property
    def bytes_per_nonce(self) -> float:
        return self.bytes_total / self.held if self.held else float("nan")


def measure(rate: int = 3_000, window: int = 300, max_entries: int | None = None) -> NonceMemory:
    """Fill a store at ``rate`` a second for ``window`` seconds; the bytes it holds then."""
    now = [1_800_000_000.0]
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        store = InMemoryNonceStore(
            max_entries=max_entries or rate * window + rate, clock=lambda: now[0]
        )
        for second in range(window):
            now[0] += 1.0
            expires = now[0] + window
            for i in range(rate):
                if not store.remember_now("motcua-demo", f"{second}-{i}", expires):
                    raise RuntimeError("a fresh nonce was refused")
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return NonceMemory(held=len(store), bytes_total=after - before)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.nonce_memory", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rate", type=int, default=3_000, help="signed requests a second")
    parser.add_argument("--window", type=int, default=300, help="signature window (seconds)")
    args = parser.parse_args(argv)
    figure = measure(args.rate, args.window)
    print(
        f"in-memory nonce store: {figure.held:,} nonces held, "
        f"{figure.bytes_total / 1e6:.1f} MB, {figure.bytes_per_nonce:.1f} bytes per nonce"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
