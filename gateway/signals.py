"""Waiting for the operator's stop: what every long-running lienthong process does last.

A module of its own (standard library only) so that the bench's minimal proxy
can wait the same way without importing the gateway.

SIGINT and SIGTERM stop; SIGHUP (``systemctl reload``, logrotate) calls
``on_reload`` when one is given and never stops the process (without one it is
logged by the caller's choice and otherwise ignored, never the default action,
which would end the process without its clean stop).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RELOAD_SIGNAL = signal.SIGHUP


async def wait_for_stop(
    on_listening: Callable[[], object] | None = None,
    on_reload: Callable[[], object] | None = None,
) -> None:
    """Return on the first SIGINT or SIGTERM (the stop handlers are removed again).

    ``on_listening`` runs once the handlers are in place: a readiness notification
    sent from there cannot be answered by a SIGTERM that finds no handler yet.
    Each SIGHUP calls ``on_reload`` (from the event loop; a coroutine it returns is
    the caller's to schedule). The SIGHUP handler stays in place after the return,
    so that a reload asked for during the stop that follows cannot end the process.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(RELOAD_SIGNAL, on_reload or (lambda: None))
    try:
        if on_listening is not None:
            on_listening()
        await stop.wait()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
