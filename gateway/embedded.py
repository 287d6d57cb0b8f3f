"""The embedded default: the sandbox national systems, started in-process on loopback.

``lienthong run`` with ``[sandbox] enabled = true`` starts each sandbox on its
configured port before the gateway, configured with the same credentials the
gateway's adapters use, so every flow works on one machine.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from adapters.business.sandbox import NgspSandboxConfig
from adapters.business.sandbox import start_sandbox as start_ngsp
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
                secret = value.get_secret_value()
                fields[name] = secret if name.endswith("_key") or name == "client_id" else value
    return NgspSandboxConfig.model_validate(fields)


@dataclass
class Sandboxes:
    """Where the started sandboxes listen."""

    population_endpoint: str
    ngsp_base_url: str

    def describe(self) -> list[str]:
        return [
            f"sandbox  {self.population_endpoint}  (population database, SOAP; WSDL at ?wsdl)",
            f"sandbox  {self.ngsp_base_url}  (business registration, NGSP REST + OAuth2)",
        ]


async def start_sandboxes(settings: Settings, stack: AsyncExitStack) -> Sandboxes:
    """Start every sandbox inside ``stack`` on its configured port (0 = any free port)."""
    sb = settings.sandbox
    pop_cfg = PopulationSandboxConfig()
    runner, pop_base = await start_population(pop_cfg, sb.host, sb.population_port)
    stack.push_async_callback(runner.cleanup)
    runner, ngsp_base = await start_ngsp(ngsp_sandbox_config(settings), sb.host, sb.ngsp_port)
    stack.push_async_callback(runner.cleanup)
    return Sandboxes(population_endpoint=pop_base + pop_cfg.path, ngsp_base_url=ngsp_base)


def point_at_sandboxes(settings: Settings, sandboxes: Sandboxes) -> Settings:
    """The settings with every adapter aimed at the started sandboxes.

    With ``[sandbox] enabled = true`` the sandboxes are the peers, whatever the
    endpoint keys say, so changing a sandbox port is all it takes.
    """
    population = settings.population.model_copy(
        update={"adapter": settings.population.adapter.model_copy(
            update={"endpoint": sandboxes.population_endpoint})}
    )
    business = settings.business
    if business.adapter is not None:
        oauth = business.adapter.oauth.model_copy(
            update={"token_url": sandboxes.ngsp_base_url + "/token"})
        business = business.model_copy(update={"adapter": business.adapter.model_copy(
            update={"base_url": sandboxes.ngsp_base_url, "oauth": oauth})})
    return settings.model_copy(update={"population": population, "business": business})
