"""The embedded default: the sandbox national systems, started in-process on loopback.

``lienthong run`` with ``[sandbox] enabled = true`` starts each sandbox on its
configured port before the gateway, configured with the same credentials the
gateway's adapters use, so every flow works on one machine.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

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


async def start_sandboxes(settings: Settings, stack: AsyncExitStack) -> list[str]:
    """Start every sandbox inside ``stack``; returns what listens where."""
    sb = settings.sandbox
    where: list[str] = []
    pop_cfg = PopulationSandboxConfig()
    runner, base = await start_population(pop_cfg, sb.host, sb.population_port)
    stack.push_async_callback(runner.cleanup)
    where.append(f"sandbox  {base}{pop_cfg.path}  (population database, SOAP; WSDL at ?wsdl)")
    runner, base = await start_ngsp(ngsp_sandbox_config(settings), sb.host, sb.ngsp_port)
    stack.push_async_callback(runner.cleanup)
    where.append(f"sandbox  {base}  (business registration, NGSP REST + OAuth2)")
    return where
