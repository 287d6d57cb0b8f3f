"""The embedded default: the sandbox national systems, started in-process on loopback.

``lienthong run`` with ``[sandbox] enabled = true`` starts each sandbox on its
configured port before the gateway, configured with the same credentials the
gateway's adapters use, so every flow works on one machine.

The payment sandboxes call the gateway back (callbacks, the payer's return), so
they need the gateway's URL: ``lienthong run`` binds the gateway's socket first
(:func:`gateway.server.bind_listeners`), starts the sandboxes with that URL, then
starts the gateway on the bound socket.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from adapters.systems import SYSTEMS, SandboxSite
from gateway.config import Settings


@dataclass
class Sandboxes:
    """Where the started sandboxes listen: each national system's base URL, by name."""

    base_urls: dict[str, str] = field(default_factory=dict)

    def describe(self) -> list[str]:
        return [
            f"sandbox  {self.base_urls[s.name]}  ({s.title})"
            for s in SYSTEMS
            if s.name in self.base_urls
        ]


def _default_gateway_url(settings: Settings) -> str:
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (comparing, not binding)
        host = "127.0.0.1"
    return f"http://{host}:{settings.server.port}"


async def start_sandboxes(
    settings: Settings, stack: AsyncExitStack, *, gateway_url: str | None = None
) -> Sandboxes:
    """Start every sandbox inside ``stack`` on its configured port (0 = any free port).

    Each national system's sandbox accepts the credentials its adapter is configured
    with; a payment provider's only with ``[payments] enabled`` and its adapter
    configured. ``gateway_url`` is where the payment sandboxes send callbacks and payers
    (default: the configured server host and port).
    """
    sb = settings.sandbox
    target = gateway_url or _default_gateway_url(settings)
    sandboxes = Sandboxes()
    for system in SYSTEMS:
        adapter = settings.upstreams.section(system.name).adapter
        if system.payment and (adapter is None or not settings.payments.enabled):
            continue
        site = SandboxSite(
            sb.host, getattr(sb, system.sandbox_port_key), target, sb.token_lifetime_seconds
        )
        opened = system.adapter().open_sandbox(adapter, site)
        sandboxes.base_urls[system.name] = await stack.enter_async_context(opened)
    return sandboxes


def point_at_sandboxes(
    settings: Settings, sandboxes: Sandboxes, *, gateway_url: str | None = None
) -> Settings:
    """The settings with every configured adapter aimed at its started sandbox.

    With ``[sandbox] enabled = true`` the sandboxes are the peers, whatever the
    endpoint keys say, so changing a sandbox port is all it takes. With
    ``gateway_url``, VNPay's return URL points at that gateway too.
    """
    upstreams = settings.upstreams
    updates: dict[str, object] = {}
    for name, base_url in sandboxes.base_urls.items():
        section = upstreams.section(name)
        if section.adapter is not None:
            adapter = section.adapter.at_sandbox(base_url, gateway_url)
            updates[name] = section.model_copy(update={"adapter": adapter})
    return settings.model_copy(update={"upstreams": upstreams.model_copy(update=updates)})
