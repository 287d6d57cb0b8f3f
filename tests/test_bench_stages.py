"""The bench's stage table: sampled stacks are put in the stage of their leaf-most known frame."""

from __future__ import annotations

from bench.stages import OTHER, StageProfile, classify, parse_raw

_LOOP = "run (asyncio/runners.py:118);_run_once (asyncio/base_events.py:1922)"
_HANDLER = (
    f"{_LOOP};_handle_request (aiohttp/web_protocol.py:452);verify (gateway/routes/citizens.py:30)"
)


def test_the_leaf_most_known_frame_decides() -> None:
    reply = ";".join(
        [
            _HANDLER,
            "_interpret (adapters/population/client.py:270)",
            "read_lookup_reply (adapters/population/wire.py:133)",
            "_read_complex (adapters/population/codec.py:260)",
        ]
    )
    assert classify(reply) == "population: reading the reply"
    log = f"{reply};info (structlog/_native.py:10);__call__ (gateway/logging.py:100)"
    assert classify(log) == "log lines (structlog, masking)"
    sign = f"{_HANDLER};_fast (gateway/auth/structured.py:35);fullmatch (re/__init__.py:168)"
    assert classify(sign) == "signature check (parse, digest, nonce)"
    assert classify(f"{_HANDLER};_request (aiohttp/client.py:500)").startswith("aiohttp client")
    assert classify(_LOOP) == "aiohttp server and event loop"
    assert classify(f"{_HANDLER};helper (gateway/identity/verdict.py:5)").startswith("the gateway")
    assert classify("<module> (<string>:1)") == OTHER


def test_raw_output_is_counted_and_shared_out_per_request() -> None:
    raw = f"{_LOOP} 30\n{_HANDLER};info (structlog/_native.py:10) 10\n\n"
    profile = StageProfile(parse_raw(raw))
    assert profile.total == 40
    rows = {stage: us for stage, us, _ in profile.per_request_us(0.4)}
    assert rows["aiohttp server and event loop"] == 300
    assert rows["log lines (structlog, masking)"] == 100
    assert (
        StageProfile(problem="py-spy is not installed")
        .table(1.0)[0]
        .startswith("stage table: none")
    )
