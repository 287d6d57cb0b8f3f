"""Telling systemd how the service is doing: the ``sd_notify`` protocol, standard library only.

With ``Type=notify`` systemd starts the gateway with ``$NOTIFY_SOCKET`` naming a
Unix datagram socket, and considers it started only when it receives
``READY=1`` there; ``STOPPING=1`` tells it a stop has begun; ``RELOADING=1``
(with ``MONOTONIC_USEC``, as ``sd_notify(3)`` asks) that a reload has begun,
after which ``READY=1`` again says it is done. Each message is one
datagram of newline-separated ``KEY=value`` assignments (``sd_notify(3)``). A
name starting with ``@`` is an abstract socket (a leading NUL byte on the wire).

Without ``$NOTIFY_SOCKET`` (not started by systemd) :func:`notify` does nothing,
so the same code runs under ``make run``, in tests and as a service.
"""

from __future__ import annotations

import os
import socket
import time

import structlog

_log = structlog.get_logger("gateway.sdnotify")


def _address(name: str) -> str | bytes | None:
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    if name.startswith("/"):
        return name
    return None  # vsock and other families are not used by the service manager we ship for


def notify(*assignments: str) -> bool:
    """Send ``KEY=value`` assignments to the service manager; True if a datagram was sent.

    A manager that is gone or a socket that refuses is logged and ignored: a
    notification must never stop the gateway from serving or from stopping.
    """
    name = os.environ.get("NOTIFY_SOCKET", "")
    if not name:
        return False
    address = _address(name)
    if address is None:
        _log.warning("sdnotify.unsupported_socket", notify_socket=name)
        return False
    message = "\n".join(assignments).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
    except OSError as exc:
        _log.warning("sdnotify.failed", notify_socket=name, error=type(exc).__name__)
        return False
    return True


def ready(status: str) -> bool:
    """All listeners are up and serving (``READY=1``), with a human status line."""
    return notify("READY=1", f"STATUS={status}")


def stopping() -> bool:
    """A stop has begun (``STOPPING=1``): systemd waits for the exit, not for readiness."""
    return notify("STOPPING=1", "STATUS=stopping")


def reloading() -> bool:
    """A reload (SIGHUP) has begun (``RELOADING=1``); :func:`ready` again when it is done."""
    usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading")
