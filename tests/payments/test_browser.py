"""The payer's flow in a real browser: demo page → sandbox pay page → pay → return shows paid."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from gateway.dev.demo import DemoConfig, DemoOneStop
from tests.payments.cdp import Browser, chromium_available
from tests.payments.conftest import RETURN_PREFIX, PaymentHarness
from tests.support.gateway import SECRETS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chromium_available(),
        reason="headless browser test needs /usr/bin/chromium (apt-get install -y chromium;"
        " .ci/run installs it)",
    ),
]


@pytest.fixture
def demo_socket() -> Iterator[socket.socket]:
    """The demo one-stop page's listening socket (bound first: its URL is an allowed return)."""
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


@pytest.mark.parametrize("provider", ["dvcqg", "vnpay"])
async def test_payer_pays_in_a_browser(
    harness: PaymentHarness, demo_socket: socket.socket, tmp_path: Path, provider: str
) -> None:
    """Click 'Pay the fee', press Pay at the sandbox, land on the return page showing paid."""
    port = int(demo_socket.getsockname()[1])
    config = DemoConfig(
        gateway_url=harness.gateway.url,
        client_id="motcua-demo",
        client_secret=SECRETS["motcua-demo"],
        webhook_secret=harness.receiver.secret,
        receiver_port=port,
        provider=provider,
    )
    one_stop = DemoOneStop(config, harness.session)
    runner = web.AppRunner(one_stop.app(), access_log=None)
    await runner.setup()
    await web.SockSite(runner, demo_socket).start()
    browser = await Browser.launch(tmp_path / "profile")
    try:
        await browser.navigate(config.receiver_url + "/")
        await browser.wait_for("!!document.getElementById('pay-link')")
        await browser.evaluate("document.getElementById('pay-link').click()")
        await browser.wait_for("!!document.getElementById('pay')")
        await browser.evaluate("document.getElementById('pay').click()")
        shown = await browser.wait_for("document.getElementById('payment-status')?.textContent")
        landed = await browser.evaluate("location.href")
    finally:
        await browser.close()
        await runner.cleanup()
    assert shown == "paid"
    assert landed.startswith(config.receiver_url + "/return?payment_id=pay_")
