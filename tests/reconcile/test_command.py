"""The CLI entry, its progress bar, and failures that leave no report behind."""

from __future__ import annotations

import asyncio
import io
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from adapters.errors import AdapterError
from adapters.guard import Unguarded
from adapters.http import make_session
from adapters.payment.dvcqg.client import DvcqgProvider
from adapters.payment.dvcqg.config import DvcqgConfig
from adapters.payment.vnpay.config import VnpayConfig
from adapters.resilience import UpstreamResilience
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus
from gateway.payments.reconcile import (
    EXIT_COMPLETED,
    EXIT_FAILED,
    TerminalProgress,
    reconcile,
    reconcile_command,
    report_stem,
)
from gateway.store import Store, StoreConfig
from tests.reconcile.conftest import DAY, ProviderPeer, new_payment
from tests.support.clock import FakeClock


def settings_for(store_config: StoreConfig, **providers: Any) -> Any:
    """Settings shaped like the gateway's: ``store`` and ``upstreams.<name>``."""
    upstreams = SimpleNamespace(
        **{
            name: SimpleNamespace(adapter=providers.get(name), resilience=UpstreamResilience())
            for name in ("dvcqg", "vnpay")
        }
    )
    store = SimpleNamespace(url=store_config.url, pool_size=2, schema_name=store_config.schema_name)
    return SimpleNamespace(store=store, upstreams=upstreams)


def peer_config(peer: ProviderPeer) -> Any:
    if peer.name == "dvcqg":
        return DvcqgConfig(base_url=peer.url)
    return VnpayConfig(
        pay_url=f"{peer.url}/paymentv2/vpcpay.html",
        api_url=f"{peer.url}/merchant_webapi/api/transaction",
    )


def test_progress_bar_draws_rows_per_second_and_phases() -> None:
    """The bar shows the store phase as a count, then a filled bar with rows/s."""
    out = io.StringIO()
    bar = TerminalProgress(out, width=10, interval=0.0, clock=FakeClock(0.0, tick=1.0).monotonic)
    bar(1000, None)
    bar(0, 1000)
    bar(500, 1000)
    bar(1000, 1000)
    bar.close()
    text = out.getvalue()
    assert "\rreading store 1,000 rows 1,000 rows/s\n" in text
    assert "[#####-----] 500/~1,000 500 rows/s" in text
    assert "[##########] 1,000/~1,000" in text
    assert text.endswith("\n")


def test_progress_bar_redraws_at_most_every_interval() -> None:
    """Calls closer together than the interval draw nothing."""
    out = io.StringIO()
    bar = TerminalProgress(out, interval=5.0, clock=FakeClock(0.0, tick=1.0).monotonic)
    for done in range(1, 5):
        bar(done, 10)
    assert out.getvalue().count("\r") == 1


async def test_command_runs_from_settings_and_prints_summary(
    ledger: PaymentLedger, store_config: StoreConfig, peer: ProviderPeer, tmp_path: Path
) -> None:
    """reconcile_command builds store and provider from settings, exits 0, writes both files."""
    payment = await new_payment(ledger, peer.name)
    await peer.register(payment)
    await peer.settle(payment.reference)
    settings = settings_for(store_config, **{peer.name: peer_config(peer)})
    out = io.StringIO()
    reports = tmp_path / "reports"
    status = await _in_thread(reconcile_command, settings, peer.name, DAY, reports, stream=out)
    assert status == EXIT_COMPLETED
    assert "paid at provider only 1 (fixed this run: 1)" in out.getvalue()
    assert "\r" not in out.getvalue()  # not a terminal: no bar
    stem = report_stem(peer.name, DAY)
    assert sorted(os.listdir(reports)) == [f"{stem}.csv", f"{stem}.json"]
    fixed = await ledger.get(payment.id)
    assert fixed is not None
    assert fixed.status is PaymentStatus.PAID


async def test_command_fails_with_2_for_an_unconfigured_provider(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    """A provider the settings leave out is a failure (exit 2), not a guess at an address."""
    out = io.StringIO()
    status = await _in_thread(
        reconcile_command, settings_for(store_config), "vnpay", DAY, tmp_path, stream=out
    )
    assert status == EXIT_FAILED
    assert "not configured" in out.getvalue()


async def test_command_fails_with_2_when_the_provider_is_unreachable(
    store_config: StoreConfig, tmp_path: Path
) -> None:
    """An unreachable provider ends the run with exit 2 and no report file."""
    settings = settings_for(store_config, dvcqg=DvcqgConfig(base_url="http://127.0.0.1:9"))
    out = io.StringIO()
    status = await _in_thread(reconcile_command, settings, "dvcqg", DAY, tmp_path / "r", stream=out)
    assert status == EXIT_FAILED
    assert "failed" in out.getvalue()
    assert os.listdir(tmp_path / "r") == []


async def test_provider_failure_mid_list_leaves_no_report(
    ledger: PaymentLedger, store: Store, peer: ProviderPeer, tmp_path: Path
) -> None:
    """When the list cannot be read, the error propagates and no partial files remain."""
    session = make_session()
    broken = DvcqgProvider(DvcqgConfig(base_url="http://127.0.0.1:9"), session, Unguarded())
    try:
        with pytest.raises(AdapterError):
            await reconcile(ledger, broken, DAY, out_dir=tmp_path / "r", store=store)
    finally:
        await session.close()
    assert os.listdir(tmp_path / "r") == []


async def _in_thread(func: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking entry (it calls asyncio.run) off this test's event loop."""
    return await asyncio.to_thread(func, *args, **kwargs)
