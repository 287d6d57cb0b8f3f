"""What the request path needs of a security monitor, and the null one.

The request path (the volume middleware, the citizen routes) always does
``request.app[SECURITY_MONITOR]`` and calls it: it never asks whether a monitor is
there (X-Road's ``NullLogManager``). The security slice installs the real
:class:`gateway.security.detectors.SecurityMonitor` when the app starts; an app built
without that slice (a unit test mounting one slice's routes) installs a
:class:`NullSecurityMonitor`, which observes nothing and raises no alert.
"""

from __future__ import annotations

from typing import Protocol


class SecurityObserver(Protocol):
    """The part of :class:`gateway.security.detectors.SecurityMonitor` requests feed."""

    def observe_verification(self, client_id: str, id_digest: str, verdict: str) -> None: ...

    def observe_request(self, client_id: str) -> None: ...


class NullSecurityMonitor:
    """A security monitor that observes nothing (no security slice in this app)."""

    def observe_verification(self, client_id: str, id_digest: str, verdict: str) -> None:
        """Nothing is observed."""

    def observe_request(self, client_id: str) -> None:
        """Nothing is observed."""
