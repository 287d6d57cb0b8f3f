"""The operation's outcome, noted for the request's one access line.

Inside an inbound request, a service does not log its own outcome line: it notes the
outcome's event name and fields here (:func:`note_outcome`), and the access line
(:mod:`gateway.http.access_log`) carries them, the event name as its ``event``. Outside a
request (operator commands, the poller, tests calling a service directly) nothing
collects, :func:`note_outcome` returns False and the caller logs the line itself.
A leaf module: services import it without importing the HTTP edge.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    """What the operation said about itself: an event name, its fields (verdicts …) and
    the line's level (``warning`` for a request that failed upstream)."""

    event: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    warning: bool = False


_current: contextvars.ContextVar[Outcome | None] = contextvars.ContextVar(
    "lienthong_request_outcome", default=None
)


def collect_outcome() -> tuple[Outcome, contextvars.Token[Outcome | None]]:
    """Start collecting the current request's outcome; reset with the token when done."""
    outcome = Outcome()
    return outcome, _current.set(outcome)


def end_outcome(token: contextvars.Token[Outcome | None]) -> None:
    _current.reset(token)


def note_outcome(event: str, *, warning: bool = False, **fields: Any) -> bool:
    """Note the operation's outcome for the access line; False outside a request (log it)."""
    outcome = _current.get()
    if outcome is None:
        return False
    outcome.event = event
    outcome.fields.update(fields)
    outcome.warning = outcome.warning or warning
    return True
