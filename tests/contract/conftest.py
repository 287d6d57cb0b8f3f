"""A gateway with every route live (citizens, businesses, payments) for the contract run.

The gateway is started by the same code ``lienthong run`` uses, on loopback port 0,
with all four sandboxes (population SOAP, NGSP REST, dvcqg, VNPay) and a webhook
receiver that verifies every delivery. One client holds every operation; its
``return_url_prefixes`` are ``http://`` and ``https://``, so the per-client return
URL rule (a 422 the document describes but cannot encode: it depends on who calls)
does not refuse the URLs the document allows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.config import load_settings
from gateway.dev.embedded import point_at_sandboxes, start_sandboxes
from gateway.server import bind_listeners, start_gateway
from gateway.webhook_signatures import new_secret
from tests.e2e.conftest import SECRETS, Gateway, Peer
from tests.payments.conftest import FAST_PAYMENTS, WebhookReceiver

CONTRACT_CLIENT = "motcua-demo"
ALL_OPERATIONS = [
    "citizens.verify",
    "citizens.lookup",
    "businesses.read",
    "payments.create",
    "payments.read",
    "payments.cancel",
]


@pytest.fixture
async def contract_gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    """The gateway, its sandboxes and a webhook receiver, stopped after the test."""
    async with AsyncExitStack() as stack:
        receiver = WebhookReceiver(secret=new_secret())
        app = web.Application()
        app.router.add_post("/webhooks", receiver.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks"
        settings = load_settings(
            None,
            environment="test",
            server={"host": "127.0.0.1", "port": 0, "tls_port": 0},
            sandbox={
                "enabled": False,
                "population_port": 0,
                "ngsp_port": 0,
                "dvcqg_port": 0,
                "vnpay_port": 0,
            },
            store={"url": f"sqlite:///{tmp_path}/gw.db"},
            payments=FAST_PAYMENTS,
            clients=[
                {
                    "id": CONTRACT_CLIENT,
                    "secrets": [SECRETS[CONTRACT_CLIENT]],
                    "operations": ALL_OPERATIONS,
                    "rate_per_second": 10000.0,
                    "burst": 10000.0,
                    "return_url_prefixes": ["http://", "https://"],
                    "webhook": {"url": receiver.url, "secrets": [receiver.secret]},
                }
            ],
        )
        bound = bind_listeners(settings)
        stack.callback(bound.close)
        gateway_url = bound.listeners.http_url
        sandboxes = await start_sandboxes(settings, stack, gateway_url=gateway_url)
        settings = point_at_sandboxes(settings, sandboxes, gateway_url=gateway_url)
        listeners = await start_gateway(settings, stack, bound=bound)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        yield Gateway(
            listeners,
            settings,
            session,
            Peer(sandboxes.base_urls["population"], session),
            Peer(sandboxes.base_urls["business"], session),
            tmp_path,
        )
