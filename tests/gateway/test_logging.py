"""The one masking processor, and the suite-wide scan that relies on it."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

from gateway.audit.middleware import sanitise_arguments
from gateway.citizens import Verdict
from gateway.logging import (
    VERDICT_WORDS,
    MaskPersonalData,
    configure_logging,
    mask_id,
    mask_name,
    mask_text,
)
from gateway.security.recorder import sanitise_fields
from tests.conftest import FIXTURE_IDS, configure_suite_logging, find_leaks


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


@pytest.mark.parametrize(
    "text",
    [
        "lookup of 092090001234",
        "lookup of 092090001234.",
        "POST /v1/citizens/092090001234/history",
        "GET /x?id=092090001234&page=2",
        "số định danh:092090001234",
        'ValueError: bad id "092090001234"',
        "(092090001234)",
        "-092090001234",
        "092090001234",
    ],
)
def test_a_personal_id_standing_alone_in_free_text_is_masked(text: str) -> None:
    """A fixture CCCD between spaces, slashes, quotes, ``=``, ``:`` or at an edge is masked."""
    out = mask_text(text)
    assert "092090001234" not in out
    assert "092*******34" in out


@pytest.mark.parametrize(
    "text",
    [
        "req123456789abc",  # the request id
        "req-123456789",
        "123456789-retry",
        "a_123456789012",
        "v1.123456789",
        "1b4e28ba-2fa1-11d2-883f-123456789012",  # a UUID whose last group is all digits
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" + "123456789012",
        "evt_123456789012abcdefgh",
        "1234567890123",  # 13 digits: not an id shape
        "tax 1801234562",
    ],
)
def test_digits_inside_a_longer_token_are_not_masked(text: str) -> None:
    """Identifiers, UUIDs, digests, ids joined by ``-``/``.``/``_``: kept as they are."""
    assert mask_text(f"failed for {text} at once") == f"failed for {text} at once"


def test_verdicts_under_field_names_are_kept_the_fields_themselves_masked() -> None:
    """``citizen.verified`` logs a verdict per field: the verdict is not the field."""
    verdicts = {
        "id_number": "match",
        "full_name": "match_without_diacritics",
        "birth_date": "mismatch",
        "gender": "not_found",
    }
    event = {
        "event": "citizen.verified",
        "fields": dict(verdicts),
        "claim": {"id_number": "092090001234", "full_name": "Nguyễn Văn An"},
    }
    out = MaskPersonalData()(None, "info", event)
    assert out["fields"] == verdicts
    assert out["claim"] == {"id_number": "092*******34", "full_name": "N*** V*** A***"}


def test_the_verdict_words_are_the_verdict_scale() -> None:
    """VERDICT_WORDS is exactly the Verdict enum (the masker must not import identity)."""
    assert {v.value for v in Verdict} == VERDICT_WORDS


def test_identifiers_digests_and_amounts_are_never_masked() -> None:
    """Request, alert and event ids, digests, amounts and counts come out as they went in."""
    event = {
        "event": "payment.created",
        "request_id": "123456789012",
        "alert_id": "5f0c2d0e123456789a8b4c7d8e9f0a1b",
        "event_id": "evt_123456789012abcd",
        "provider_txn_id": "141234567",
        "request_digest": "123456789012" + "a" * 52,
        "subject_digests": ["123456789" + "b" * 55],
        "headers": {"X-Request-ID": "123456789"},
        "amount": 250_000_000,
        "paid": 123_456_789_012,
        "bytes_in": 123_456_789,
        "duration_ms": 123456789.5,
    }
    out = MaskPersonalData()(None, "info", dict(event))
    assert out == event


def test_an_id_under_an_id_key_is_masked_even_as_a_number() -> None:
    """Under a personal key the value is masked whatever its type (int ids lose their 0)."""
    out = MaskPersonalData()(None, "info", {"event": "x", "payer_id_number": 92090001234})
    assert out["payer_id_number"] == "920******34"


def test_the_rendered_line_keeps_request_id_verdicts_and_amounts() -> None:
    """Through the production pipeline (JSON): what the issue saw mangled comes out whole."""
    lines: list[str] = []
    try:
        configure_logging(stream=io.StringIO(), sink=lines.append)
        structlog.contextvars.bind_contextvars(request_id="req123456789abc")
        log = structlog.get_logger("t")
        log.info("citizen.verified", fields={"id_number": "match", "full_name": "match"})
        log.info("payment.created", amount=250_000_000, note="payer 092090001234")
    finally:
        structlog.contextvars.clear_contextvars()
        configure_suite_logging()
    verified, created = map(json.loads, lines)
    assert verified["request_id"] == created["request_id"] == "req123456789abc"
    assert verified["fields"] == {"id_number": "match", "full_name": "match"}
    assert created["amount"] == 250_000_000
    assert created["note"] == "payer 092*******34"


def test_stored_security_events_keep_their_amounts() -> None:
    """An amount mismatch of a 250,000,000 VND fee is stored with its amounts."""
    fields = {"billed": 250_000_000, "paid": 123_456_789, "id_number": "092090001234"}
    assert sanitise_fields(fields) == {
        "billed": 250_000_000,
        "paid": 123_456_789,
        "id_number": "092*******34",
    }


def test_operator_arguments_keep_their_numbers() -> None:
    """An operator's ``--from-seq 123456789`` is audited as that number, the id masked."""
    clean, ids = sanitise_arguments({"from_seq": 123_456_789, "id_number": "092090001234"})
    assert clean == {"from_seq": 123_456_789, "id_number": "092*******34"}
    assert ids == ["092090001234"]


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
        configure_suite_logging()
    assert len(lines) == 2
    assert find_leaks(lines) == []


def test_the_suite_scan_flags_an_unmasked_line() -> None:
    """The end-of-session scan would catch a leak, accented, folded or run together."""
    assert find_leaks(["x 092090001234 y"])
    assert find_leaks(["name=NGUYEN VAN AN"])
    assert find_leaks(["hovaten=PHAMNGOCHOA"])
    assert find_leaks(["masked 092*******34 N*** V*** A***"]) == []


def test_payload_logging_libraries_stay_quiet_even_at_debug() -> None:
    """zeep and aiosqlite log payloads at DEBUG; they are held at INFO whatever the level."""
    lines: list[str] = []
    try:
        configure_logging(level="DEBUG", stream=io.StringIO(), sink=lines.append)
        logging.getLogger("aiosqlite").debug("executing INSERT (... 'Nguyễn Văn An' ...)")
        logging.getLogger("zeep.transports").debug("<HoVaTen>Nguyễn Văn An</HoVaTen>")
        logging.getLogger("gateway.x").debug("our own debug line")
    finally:
        configure_suite_logging()
    assert len(lines) == 1
    assert "our own debug line" in lines[0]


def test_the_schema_check_names_each_breach() -> None:
    """A payment state under status, an int duration, a local or epoch time: each is named."""
    from gateway.logging import schema_problems

    good = {
        "event": "request",
        "timestamp": "2026-12-01T10:00:00.123456Z",
        "status": 200,
        "outcome": "ok",
        "duration_ms": 1.5,
        "request_in": "2026-12-01T10:00:00.000001Z",
    }
    assert schema_problems(good) == []
    bad = {
        **good,
        "timestamp": "2026-12-01 10:00:00",
        "status": "paid",
        "duration_ms": 2,
        "request_in": 1764583200.5,
        "outcome": 404,
        "delay_ms": "3",
    }
    assert len(schema_problems(bad)) == 6
    assert schema_problems({**good, "status": True}) != []


def test_the_pipeline_hands_each_masked_event_to_the_event_sink() -> None:
    """What the suite-wide schema check sees is the event as rendered: masked, timestamped."""
    events: list[dict[str, object]] = []
    try:
        configure_logging(stream=io.StringIO(), event_sink=lambda e: events.append(dict(e)))
        structlog.get_logger("t").info("x", id_number="092090001234", status=200)
        logging.getLogger("gateway.std").warning("std line")
    finally:
        configure_suite_logging()
    assert [e["event"] for e in events] == ["x", "std line"]
    assert events[0]["id_number"] == "092*******34"
    assert all(str(e["timestamp"]).endswith("Z") for e in events)


def test_operator_commands_log_to_stderr_and_keep_stdout_for_their_output(
    tmp_path: Path,
) -> None:
    """``lienthong outbox list`` on a fresh store: migrations logged on stderr, table on stdout."""
    config = tmp_path / "gateway.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/gw.db"\n')
    done = subprocess.run(  # noqa: S603  # our own CLI, fixed arguments
        [sys.executable, "-m", "gateway", "outbox", "list", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "store.migration_applied" in done.stderr
    assert "store.migration_applied" not in done.stdout
    assert done.stdout.splitlines()[0].startswith("event")


def test_stored_security_events_and_operator_arguments_mask_as_log_lines_do() -> None:
    """One masker: a provider's 12-digit transaction id and a verdict word survive storage."""
    fields = {"provider_txn_id": "140123456789", "id_number": "not_found", "note": "092090001234"}
    shown = {"provider_txn_id": "140123456789", "id_number": "not_found", "note": "092*******34"}
    assert sanitise_fields(fields) == shown
    clean, _ = sanitise_arguments(fields)
    assert clean == shown
