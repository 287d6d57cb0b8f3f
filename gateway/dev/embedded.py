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
from dataclasses import dataclass
from urllib.parse import urlsplit

from adapters.business.sandbox import NgspSandboxConfig
from adapters.business.sandbox import start_sandbox as start_ngsp
from adapters.payment.dvcqg.sandbox import DvcqgSandboxConfig
from adapters.payment.dvcqg.sandbox import start_sandbox as start_dvcqg
from adapters.payment.vnpay.sandbox import VnpaySandboxConfig
from adapters.payment.vnpay.sandbox import start_sandbox as start_vnpay
from adapters.population.sandbox import start_sandbox as start_population
from adapters.population.sandbox_config import PopulationSandboxConfig
from gateway.config import Settings


def ngsp_sandbox_config(settings: Settings) -> NgspSandboxConfig:
    """An NGSP sandbox that accepts exactly the credentials the gateway is configured with."""
    fields: dict[str, object] = {"token_lifetime_seconds": settings.sandbox.token_lifetime_seconds}
    adapter = settings.business.adapter
    if adapter is not None:
        oauth = adapter.oauth
        for name in ("consumer_key", "consumer_secret", "client_id", "client_secret"):
            value = getattr(oauth, name, None)
            if value is not None:
                fields[name] = value.get_secret_value()
    return NgspSandboxConfig.model_validate(fields)


def dvcqg_sandbox_config(settings: Settings, gateway_url: str) -> DvcqgSandboxConfig:
    """A payment-platform sandbox with the gateway's partner code and key, calling it back."""
    protocol = settings.payments.dvcqg
    fields: dict[str, object] = {
        "callback_url": f"{gateway_url}/callbacks/dvcqg",
        "return_url": f"{gateway_url}/pay/return/dvcqg",
    }
    if protocol is not None:
        fields["protocol"] = protocol
    return DvcqgSandboxConfig.model_validate(fields)


def vnpay_sandbox_config(settings: Settings, gateway_url: str) -> VnpaySandboxConfig:
    """A VNPay sandbox with the gateway's TmnCode and secret, sending IPNs to the gateway."""
    protocol = settings.payments.vnpay
    fields: dict[str, object] = {
        "callback_url": f"{gateway_url}/callbacks/vnpay",
        "return_url": f"{gateway_url}/pay/return/vnpay",
    }
    if protocol is not None:
        fields["protocol"] = protocol
    return VnpaySandboxConfig.model_validate(fields)


@dataclass
class Sandboxes:
    """Where the started sandboxes listen."""

    population_endpoint: str
    ngsp_base_url: str
    dvcqg_base_url: str | None = None
    vnpay_base_url: str | None = None

    def describe(self) -> list[str]:
        lines = [
            f"sandbox  {self.population_endpoint}  (population database, SOAP; WSDL at ?wsdl)",
            f"sandbox  {self.ngsp_base_url}  (business registration, NGSP REST + OAuth2)",
        ]
        if self.dvcqg_base_url:
            lines.append(f"sandbox  {self.dvcqg_base_url}  (national payment platform)")
        if self.vnpay_base_url:
            lines.append(f"sandbox  {self.vnpay_base_url}  (VNPay 2.1.0)")
        return lines


def _default_gateway_url(settings: Settings) -> str:
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 (comparing, not binding)
        host = "127.0.0.1"
    return f"http://{host}:{settings.server.port}"


async def start_sandboxes(
    settings: Settings, stack: AsyncExitStack, *, gateway_url: str | None = None
) -> Sandboxes:
    """Start every sandbox inside ``stack`` on its configured port (0 = any free port).

    ``gateway_url`` is where the payment sandboxes send callbacks and payers
    (default: the configured server host and port).
    """
    sb = settings.sandbox
    pop_cfg = PopulationSandboxConfig()
    runner, pop_base = await start_population(pop_cfg, sb.host, sb.population_port)
    stack.push_async_callback(runner.cleanup)
    runner, ngsp_base = await start_ngsp(ngsp_sandbox_config(settings), sb.host, sb.ngsp_port)
    stack.push_async_callback(runner.cleanup)
    sandboxes = Sandboxes(population_endpoint=pop_base + pop_cfg.path, ngsp_base_url=ngsp_base)
    payments = settings.payments
    if not payments.enabled:
        return sandboxes
    target = gateway_url or _default_gateway_url(settings)
    if payments.dvcqg is not None:
        runner, sandboxes.dvcqg_base_url = await start_dvcqg(
            dvcqg_sandbox_config(settings, target), sb.host, sb.dvcqg_port
        )
        stack.push_async_callback(runner.cleanup)
    if payments.vnpay is not None:
        runner, sandboxes.vnpay_base_url = await start_vnpay(
            vnpay_sandbox_config(settings, target), sb.host, sb.vnpay_port
        )
        stack.push_async_callback(runner.cleanup)
    return sandboxes


def _rebase(url: str, base: str) -> str:
    """``url``'s path and query on ``base``'s scheme, host and port."""
    parts = urlsplit(url)
    return base.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def point_at_sandboxes(
    settings: Settings, sandboxes: Sandboxes, *, gateway_url: str | None = None
) -> Settings:
    """The settings with every adapter aimed at the started sandboxes.

    With ``[sandbox] enabled = true`` the sandboxes are the peers, whatever the
    endpoint keys say, so changing a sandbox port is all it takes. With
    ``gateway_url``, VNPay's return URL points at that gateway too.
    """
    population = settings.population.model_copy(
        update={
            "adapter": settings.population.adapter.model_copy(
                update={"endpoint": sandboxes.population_endpoint}
            )
        }
    )
    business = settings.business
    if business.adapter is not None:
        oauth = business.adapter.oauth.model_copy(
            update={"token_url": sandboxes.ngsp_base_url + "/token"}
        )
        business = business.model_copy(
            update={
                "adapter": business.adapter.model_copy(
                    update={"base_url": sandboxes.ngsp_base_url, "oauth": oauth}
                )
            }
        )
    payments = settings.payments
    updates: dict[str, object] = {}
    if payments.dvcqg is not None and sandboxes.dvcqg_base_url:
        updates["dvcqg"] = payments.dvcqg.model_copy(update={"base_url": sandboxes.dvcqg_base_url})
    if payments.vnpay is not None and sandboxes.vnpay_base_url:
        vnpay_update = {
            "pay_url": _rebase(payments.vnpay.pay_url, sandboxes.vnpay_base_url),
            "api_url": _rebase(payments.vnpay.api_url, sandboxes.vnpay_base_url),
        }
        if gateway_url:
            vnpay_update["return_url"] = f"{gateway_url}/pay/return/vnpay"
        updates["vnpay"] = payments.vnpay.model_copy(update=vnpay_update)
    payments = payments.model_copy(update=updates)
    return settings.model_copy(
        update={"population": population, "business": business, "payments": payments}
    )
