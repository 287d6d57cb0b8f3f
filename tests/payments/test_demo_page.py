"""`lienthong demo --serve`: the demo page bills its dossier once, whatever the reloads."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from aiohttp import web

from gateway.dev.demo import DemoConfig, DemoOneStop
from gateway.store import open_store
from tests.payments.conftest import RETURN_PREFIX, PaymentHarness
from tests.support.gateway import SECRETS


@pytest.fixture
def demo_socket() -> Iterator[socket.socket]:
    """The demo page's listening socket (bound first: its URL is an allowed return)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture
def return_url_prefixes(demo_socket: socket.socket) -> list[str]:
    """The demo page's origin is an allowed return URL."""
    return [RETURN_PREFIX, f"http://127.0.0.1:{demo_socket.getsockname()[1]}/"]


async def test_reloading_the_demo_page_does_not_bill_again(
    harness: PaymentHarness, demo_socket: socket.socket
) -> None:
    """Three loads of the page: one payment, the same pay link each time."""
    config = DemoConfig(
        gateway_url=harness.gateway.url,
        client_id="motcua-demo",
        client_secret=SECRETS["motcua-demo"],
        webhook_secret=harness.receiver.secret,
        receiver_port=int(demo_socket.getsockname()[1]),
        provider="dvcqg",
    )
    one_stop = DemoOneStop(config, harness.session)
    runner = web.AppRunner(one_stop.app(), access_log=None)
    await runner.setup()
    await web.SockSite(runner, demo_socket).start()
    try:
        links = []
        for _ in range(3):
            async with harness.session.get(config.receiver_url + "/") as page:
                assert page.status == 200
                found = re.search(r"id='pay-link' href='([^']+)'", await page.text())
                assert found is not None
                links.append(found.group(1))
    finally:
        await runner.cleanup()
    assert len(set(links)) == 1
    store = await open_store(harness.store_config)
    try:
        rows = await store.fetch_all("SELECT id FROM payments")
    finally:
        await store.close()
    assert len(rows) == 1
