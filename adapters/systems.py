"""The national systems, listed once: what the gateway iterates instead of naming each.

Every national system is a package ``adapters/<system>/`` whose ``__init__.py``
exports the same three names:

``Config``
    its adapter configuration class (``[upstreams.<system>.adapter]``);
``open_client(config, guard, **options)``
    an async context manager yielding the system's client on a session of its own
    (closed on exit), every call through ``guard``;
``open_sandbox(config, site)``
    an async context manager serving the system's sandbox peer at ``site``
    (stopped on exit), accepting exactly the credentials ``config`` holds (None: the
    sandbox's defaults); it yields the sandbox's base URL.

Each ``Config`` also has ``ENDPOINTS`` (the fields naming the system's address,
which production refuses on loopback or without https) and
``at_sandbox(base_url, gateway_url)`` (the same config aimed at its sandbox).

:data:`SYSTEMS` names the packages by string and this module imports no project
module, so the configuration (a leaf) may read it. Adding a national system is its
package, one line here and the gateway slice that serves it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class NationalSystem:
    """One national system: its upstream name, its package, how its sandbox is placed."""

    #: The upstream's name: its ``[upstreams.<name>]`` section, guard and readiness check.
    name: str
    #: The adapter package (``Config``, ``open_client``, ``open_sandbox``).
    package: str
    #: The ``[sandbox]`` key of the sandbox's port.
    sandbox_port_key: str
    #: What the sandbox is, in ``lienthong run``'s start-up lines.
    title: str
    #: A payment provider: built by the payments slice, only with ``[payments] enabled``.
    payment: bool = False

    def adapter(self) -> ModuleType:
        """The adapter package (imported on first use)."""
        return importlib.import_module(self.package)


@dataclass(frozen=True)
class SandboxSite:
    """Where a sandbox listens, and what it needs to know of the gateway."""

    host: str
    port: int
    #: The gateway's URL: where the payment sandboxes send callbacks and payers.
    gateway_url: str
    #: Lifetime of the OAuth2 tokens a sandbox issues, seconds.
    token_lifetime_seconds: float


#: Every national system, in start order.
SYSTEMS: tuple[NationalSystem, ...] = (
    NationalSystem(
        "population",
        "adapters.population",
        "population_port",
        "population database, SOAP; WSDL at ?wsdl",
    ),
    NationalSystem(
        "business",
        "adapters.business",
        "ngsp_port",
        "business registration, NGSP REST + OAuth2",
    ),
    NationalSystem(
        "dvcqg", "adapters.payment.dvcqg", "dvcqg_port", "national payment platform", payment=True
    ),
    NationalSystem("vnpay", "adapters.payment.vnpay", "vnpay_port", "VNPay 2.1.0", payment=True),
)


def system(name: str) -> NationalSystem:
    """The national system called ``name`` (KeyError for no such system)."""
    for candidate in SYSTEMS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)
