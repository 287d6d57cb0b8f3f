"""``lienthong payments purge-personal-data``: on demand, on both stores, one line out."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.dev.pki import init_dev_pki
from gateway.payments.ledger import PaymentLedger
from gateway.payments.model import PaymentStatus
from gateway.store import StoreConfig, open_store
from tests.store.conftest import PAYER_NAME, new_payment
from tests.support.clock import FakeClock

#: Long before any run of the suite, and long after: around "now" whatever the wall clock says.
LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FAR_AHEAD = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _config(tmp_path: Path, store: StoreConfig, *, audited: bool = True) -> Path:
    pki = tmp_path / "pki"
    if audited:
        init_dev_pki(pki, clients=["motcua-demo"])
    schema = f'schema_name = "{store.schema_name}"\n' if store.schema_name else ""
    path = tmp_path / "gateway.toml"
    path.write_text(
        'environment = "test"\n'
        f'[store]\nurl = "{store.url}"\n{schema}'
        "[payments]\npersonal_data_retention_days = 30\n"
        f"[audit]\nenabled = {'true' if audited else 'false'}\n"
        f'signing_key_file = "{pki / "audit-signing.key"}"\n'
        f'archive_dir = "{tmp_path / "archive"}"\n',
        encoding="utf-8",
    )
    return path


async def _payments(store_config: StoreConfig) -> dict[str, str]:
    """One payment final long ago, one still open from long ago, one final in the far future."""
    clock = FakeClock(LONG_AGO)
    store = await open_store(store_config, clock=clock)
    try:
        ledger = PaymentLedger(store, clock)
        old_final = await new_payment(ledger)
        await ledger.transition(old_final.id, PaymentStatus.PAID, paid_amount=150_000, reason="t")
        old_open = await new_payment(ledger, ttl=dt.timedelta(days=365 * 200))
        clock.now = FAR_AHEAD
        recent = await new_payment(ledger)
        await ledger.transition(recent.id, PaymentStatus.FAILED, reason="t")
        return {"old_final": old_final.id, "old_open": old_open.id, "recent": recent.id}
    finally:
        await store.close()


async def _names(store_config: StoreConfig) -> dict[str, str | None]:
    store = await open_store(store_config)
    try:
        rows = await store.fetch_all("SELECT id, payer_name FROM payments")
        return {r["id"]: r["payer_name"] for r in rows}
    finally:
        await store.close()


async def _run(argv: list[str]) -> int:
    """Run the CLI in a worker thread (it runs its own event loop)."""
    return await asyncio.to_thread(main, argv)


async def test_purge_erases_only_what_is_due_and_says_so(
    store_config: StoreConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Final past the retention: erased; open or recently final: kept; one line each run."""
    ids = await _payments(store_config)
    config = _config(tmp_path, store_config)
    capsys.readouterr()
    first = await _run(["payments", "purge-personal-data", "--config", str(config)])
    first_out = capsys.readouterr().out
    second = await _run(["payments", "purge-personal-data", "--config", str(config)])
    second_out = capsys.readouterr().out
    names = await _names(store_config)
    assert (first, second) == (0, 0)
    assert first_out == (
        "erased the payer's name and personal id of 1 payment(s) final for more than 30 day(s);"
        " 3 older row(s) given their id digest and masked id\n"  # the ledger had no key
    )
    assert second_out == (
        "erased the payer's name and personal id of 0 payment(s) final for more than 30 day(s)\n"
    )
    assert names == {ids["old_final"]: None, ids["old_open"]: PAYER_NAME, ids["recent"]: PAYER_NAME}


async def test_unreachable_store_is_one_line_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store that cannot be opened: exit 1 and one line on stderr naming the command."""
    closed = StoreConfig(url="postgresql://postgres@127.0.0.1:1/nothing")
    config = _config(tmp_path, closed, audited=False)
    status = await _run(["payments", "purge-personal-data", "--config", str(config)])
    err = capsys.readouterr().err
    ours = [line for line in err.splitlines() if line.startswith("lienthong ")]
    assert status == 1
    assert len(ours) == 1
    assert ours[0].startswith("lienthong payments purge-personal-data: failed: cannot connect")
    assert "Traceback" not in err


def test_help_says_what_is_erased_and_when(capsys: pytest.CaptureFixture[str]) -> None:
    """``--help`` names the retention setting, what stays, and what is left alone."""
    with pytest.raises(SystemExit) as exited:
        main(["payments", "purge-personal-data", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert exited.value.code == 0
    assert "personal_data_retention_days" in out
    assert "masked id and its keyed digest stay" in out
    assert "--config" in out
