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

import pytest
from aiohttp import web

from gateway.config import load_settings
from gateway.webhook_signatures import new_secret
from tests.payments.conftest import FAST_PAYMENTS, WebhookReceiver
from tests.support.gateway import SECRETS, Gateway, embedded_gateway, serve

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
        receiver.url = await serve(app, stack) + "/webhooks"
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
        gateway, _ = await embedded_gateway(stack, settings, tmp_path)
        yield gateway
