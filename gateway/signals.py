"""Waiting for the operator's stop: what every long-running lienthong process does last.

A module of its own (standard library only) so that the bench's minimal proxy
can wait the same way without importing the gateway.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


async def wait_for_stop(on_listening: Callable[[], object] | None = None) -> None:
    """Return on the first SIGINT or SIGTERM (the handlers are removed again).

    ``on_listening`` runs once the handlers are in place: a readiness notification
    sent from there cannot be answered by a SIGTERM that finds no handler yet.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        if on_listening is not None:
            on_listening()
        await stop.wait()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
