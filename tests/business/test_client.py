"""The business client against the NGSP sandbox: field mapping, not-found, each misbehaviour."""

from __future__ import annotations

import datetime as dt

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters.business.models import BusinessRecord
from adapters.errors import (
    UpstreamBadReply,
    UpstreamConnectionError,
    UpstreamFault,
    UpstreamTimeout,
)
from adapters.observability import collect_exchanges
from tests.business.conftest import Sandbox, SandboxFactory, make_client


async def lookup(sandbox: Sandbox, session: aiohttp.ClientSession, code: str) -> BusinessRecord:
    client, _ = make_client(sandbox, session)
    record = await client.get(code)
    assert record is not None
    return record


async def test_every_field_is_mapped(ngsp: Sandbox, session: aiohttp.ClientSession) -> None:
    """Each NGSP field lands in its record field (NINH KIỀU, representatives as an array)."""
    record = await lookup(ngsp, session, "1801234562")
    assert record == BusinessRecord(
        tax_code="1801234562",
        name="CÔNG TY TNHH THƯƠNG MẠI DỊCH VỤ NINH KIỀU",
        short_name="NINH KIEU TMDV CO., LTD",
        foreign_name="NINH KIEU TRADING SERVICE COMPANY LIMITED",
        enterprise_type="Công ty trách nhiệm hữu hạn hai thành viên trở lên",
        status_text="Đang hoạt động",
        status_code="active",
        founding_date=dt.date(2015, 3, 20),
        head_office_address="Số 12 đường Hai Bà Trưng, phường Tân An, quận Ninh Kiều, "
        "thành phố Cần Thơ",
        representatives=["Nguyễn Văn Minh", "Trần Thị Thu Hà"],
        charter_capital=5_000_000_000,
        enterprise_id="1801234562",
    )


async def test_single_representative_object_becomes_a_list(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """Representatives sent as one object (CÁI RĂNG) map to a one-element list."""
    record = await lookup(ngsp, session, "1800998879")
    assert record.name == "CÔNG TY CỔ PHẦN THỦY SẢN CÁI RĂNG"
    assert record.representatives == ["Lê Hoàng Phúc"]
    assert record.founding_date == dt.date(2008, 11, 20)  # dd/MM/yyyy
    assert record.charter_capital == 12_500_000_000  # "12.500.000.000"


@pytest.mark.parametrize(
    ("code", "status_code", "status_text"),
    [
        ("1801234562", "active", "Đang hoạt động"),
        ("1800000120", "suspended", "Tạm ngừng kinh doanh"),
        ("1800000113", "dissolved", "Đã giải thể"),
        ("1800000138", "other", "Không hoạt động tại địa chỉ đã đăng ký"),
    ],
)
async def test_each_status_maps_to_its_code(
    ngsp: Sandbox, session: aiohttp.ClientSession, code: str, status_code: str, status_text: str
) -> None:
    """The national status text is kept and mapped to active/suspended/dissolved/other."""
    record = await lookup(ngsp, session, code)
    assert (record.status_code, record.status_text) == (status_code, status_text)


async def test_branch_code_is_sent_and_mapped(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """A branch (1800000113-001) is found, active while its parent is dissolved."""
    record = await lookup(ngsp, session, "1800000113-001")
    assert record.tax_code == "1800000113-001"
    assert record.is_branch
    assert record.name == "CHI NHÁNH CÔNG TY TNHH XÂY DỰNG PHONG ĐIỀN TẠI BÌNH THỦY"
    assert record.status_code == "active"
    assert record.representatives == ["Võ Thị Ngọc Hân"]
    assert record.founding_date == dt.date(2010, 1, 1)  # /Date(ms+0700)/
    assert record.charter_capital is None
    assert ngsp.state.stats.lookups_by_msdn["1800000113001"] == 1


async def test_missing_optional_fields_are_none(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """A reply with only NAME and the tax code maps, optional fields None, no representatives."""
    record = await lookup(ngsp, session, "1800000145")
    assert record.name == "HỘ KINH DOANH TẠP HÓA THỐT NỐT"
    assert record.representatives == []
    assert record.status_code == "other"
    assert record.status_text is None
    assert (record.short_name, record.foreign_name, record.head_office_address) == (
        None,
        None,
        None,
    )
    assert (record.founding_date, record.charter_capital, record.enterprise_id) == (
        None,
        None,
        None,
    )


async def test_generated_businesses_are_all_mappable(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """The ~100 generated businesses all map (names, addresses, representatives present)."""
    client, _ = make_client(ngsp, session)
    codes = [c for c in ngsp.state.businesses if not c.startswith("1800000")]
    assert len(codes) >= 100
    for code in codes:
        record = await client.get(code)
        assert record is not None
        assert record.head_office_address
        assert "Cần Thơ" in record.head_office_address
        assert record.representatives


@pytest.mark.parametrize("style", ["empty", "404"])
async def test_unknown_tax_code_is_none(
    start_ngsp: SandboxFactory, session: aiohttp.ClientSession, style: str
) -> None:
    """Not found — 200 with Data null, or HTTP 404 — is None and recorded as not_found."""
    sandbox = await start_ngsp(not_found_style=style)
    client, _ = make_client(sandbox, session)
    exchanges = collect_exchanges()
    assert await client.get("0100233488") is None
    assert [e.outcome for e in exchanges] == ["not_found"]


async def test_one_exchange_recorded_per_call(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """A call that needed a token refresh and a retry is still one recorded exchange."""
    client, _ = make_client(ngsp, session)
    await client.get("1801234562")
    await ngsp.revoke_tokens(session)
    exchanges = collect_exchanges()
    await client.get("1801234562")
    assert len(exchanges) == 1
    assert exchanges[0].outcome == "ok"
    assert exchanges[0].upstream == "business"
    assert exchanges[0].bytes_in > 0


async def test_server_errors_are_server_side_faults(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """A 503 from the lookup → UpstreamFault counted against the upstream, retryable."""
    await ngsp.misbehave(session, error_rate=1.0)
    client, _ = make_client(ngsp, session)
    exchanges = collect_exchanges()
    with pytest.raises(UpstreamFault) as caught:
        await client.get("1801234562")
    assert caught.value.code == "http-503"
    assert caught.value.retryable
    assert caught.value.counts_as_failure
    assert [e.outcome for e in exchanges] == ["fault"]


async def test_malformed_json_is_a_bad_reply(ngsp: Sandbox, session: aiohttp.ClientSession) -> None:
    """Truncated JSON → UpstreamBadReply (502), its bytes not in the logs."""
    await ngsp.misbehave(session, malformed_json_rate=1.0)
    client, _ = make_client(ngsp, session)
    with capture_logs() as logs, pytest.raises(UpstreamBadReply) as caught:
        await client.get("1801234562")
    assert caught.value.status == 502
    assert "MainInformation" not in repr(logs)


async def test_unmappable_shape_is_a_bad_reply_and_not_logged(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """Valid JSON of an unknown shape → UpstreamBadReply; the raw reply is not logged."""
    await ngsp.misbehave(session, unmappable_rate=1.0)
    client, _ = make_client(ngsp, session)
    with capture_logs() as logs, pytest.raises(UpstreamBadReply):
        await client.get("1801234562")
    assert any(e["event"] == "business.reply_unmappable" for e in logs)
    assert "items" not in repr(logs)


async def test_huge_reply_is_refused(ngsp: Sandbox, session: aiohttp.ClientSession) -> None:
    """A chunked reply beyond max_reply_bytes → UpstreamBadReply without buffering it all."""
    await ngsp.misbehave(session, huge_response_bytes=2_000_000)
    client, _ = make_client(ngsp, session, max_reply_bytes=64 * 1024)
    with pytest.raises(UpstreamBadReply) as caught:
        await client.get("1801234562")
    assert "limit" in caught.value.detail


async def test_dropped_connection_is_a_connection_error(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """The peer closing the connection mid-request → UpstreamConnectionError (retryable)."""
    await ngsp.misbehave(session, drop_connection_rate=1.0)
    client, _ = make_client(ngsp, session)
    with pytest.raises(UpstreamConnectionError) as caught:
        await client.get("1801234562")
    assert caught.value.retryable


async def test_slow_peer_times_out(ngsp: Sandbox, session: aiohttp.ClientSession) -> None:
    """A peer slower than the call's deadline → UpstreamTimeout (504), not a hang."""
    await ngsp.misbehave(session, latency_seconds=30)
    client, _ = make_client(ngsp, session, timeout_seconds=0.2)
    exchanges = collect_exchanges()
    with pytest.raises(UpstreamTimeout) as caught:
        await client.get("1801234562")
    assert caught.value.status == 504
    assert [e.outcome for e in exchanges] == ["timeout"]


async def test_admin_reset_clears_misbehaviour_and_stats(
    ngsp: Sandbox, session: aiohttp.ClientSession
) -> None:
    """/_admin/reset restores good behaviour and zeroes the counters."""
    await ngsp.misbehave(session, error_rate=1.0)
    client, _ = make_client(ngsp, session)
    with pytest.raises(UpstreamFault):
        await client.get("1801234562")
    async with session.post(f"{ngsp.base_url}/_admin/reset") as resp:
        assert resp.status == 200
    assert await client.get("1801234562") is not None
    stats = await ngsp.stats(session)
    assert stats["lookups"] == 2  # the 401 with the forgotten token, then the retry
