"""The one masking processor, and the suite-wide scan that relies on it."""

from __future__ import annotations

import io
import logging

import structlog

from gateway.logging import MaskPersonalData, configure_logging, mask_id, mask_name, mask_text
from tests.conftest import FIXTURE_IDS, find_leaks


def test_mask_id_keeps_province_and_last_two() -> None:
    """A CCCD keeps its province code and two last digits, the rest is starred."""
    assert mask_id("092090001234") == "092*******34"
    assert mask_id("123456789") == "123****89"


def test_mask_name_keeps_initials_only() -> None:
    """Names become initials with a fixed-width tail, hiding their length."""
    assert mask_name("Nguyễn Văn An") == "N*** V*** A***"


def test_mask_text_finds_ids_inside_free_text_but_not_longer_numbers() -> None:
    """9- and 12-digit runs are masked; a 10-digit tax code or a 13-digit run is not an id."""
    text = "ids 092090001234 and 123456789, tax 1801234562, long 1234567890123"
    assert mask_text(text) == "ids 092*******34 and 123****89, tax 1801234562, long 1234567890123"


def test_processor_masks_by_key_and_shape_however_deep() -> None:
    """Names and ids under known keys, ids anywhere, secrets never shown."""
    event = {
        "event": "lookup of 092090001234",
        "full_name": "Trần Thị Thủy",
        "payer": {"id_number": "092195004321", "names": ["x 094203000777"]},
        "consumer_secret": "s3cret",
        "error": ValueError("bad id 093185000999"),
    }
    out = MaskPersonalData()(None, "info", event)
    rendered = repr(out)
    assert all(i not in rendered for i in FIXTURE_IDS)
    assert "Thủy" not in rendered
    assert "s3cret" not in rendered
    assert out["full_name"] == "T*** T*** T***"


def test_every_rendered_line_is_masked_including_the_standard_library() -> None:
    """Through the configured pipeline, structlog and stdlib lines come out masked."""
    lines: list[str] = []
    try:
        configure_logging(stream=io.StringIO(), sink=lines.append)
        structlog.get_logger("t").info("verify", full_name="Lê Đức Anh", note="092301000555")
        logging.getLogger("aiohttp.access").info("GET /x?id=%s", "093185000999")
    finally:
        configure_logging(level="DEBUG", json_lines=False, sink=_suite_sink())
    assert len(lines) == 2
    assert find_leaks(lines) == []


def test_the_suite_scan_flags_an_unmasked_line() -> None:
    """The end-of-session scan would catch a leak, accented, folded or run together."""
    assert find_leaks(["x 092090001234 y"])
    assert find_leaks(["name=NGUYEN VAN AN"])
    assert find_leaks(["hovaten=PHAMNGOCHOA"])
    assert find_leaks(["masked 092*******34 N*** V*** A***"]) == []


def _suite_sink():  # type: ignore[no-untyped-def]
    from tests import conftest

    return conftest._LOG_LINES.append


def test_payload_logging_libraries_stay_quiet_even_at_debug() -> None:
    """zeep and aiosqlite log payloads at DEBUG; they are held at INFO whatever the level."""
    lines: list[str] = []
    try:
        configure_logging(level="DEBUG", stream=io.StringIO(), sink=lines.append)
        logging.getLogger("aiosqlite").debug("executing INSERT (... 'Nguyễn Văn An' ...)")
        logging.getLogger("zeep.transports").debug("<HoVaTen>Nguyễn Văn An</HoVaTen>")
        logging.getLogger("gateway.x").debug("our own debug line")
    finally:
        configure_logging(level="DEBUG", json_lines=False, sink=_suite_sink())
    assert len(lines) == 1
    assert "our own debug line" in lines[0]
