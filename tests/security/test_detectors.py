"""Each detector fires at its threshold and not below it; alerts respect the cool-down."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from gateway.security import events as security_events
from gateway.security.config import (
    BurstDetectorConfig,
    EnumerationDetectorConfig,
    SecurityConfig,
    VolumeDetectorConfig,
)
from gateway.security.detectors import SecurityAlert, SecurityMonitor
from tests.support.clock import FakeClock

Build = Callable[[SecurityConfig], SecurityMonitor]

CONFIG = SecurityConfig(
    auth_failures=BurstDetectorConfig(threshold=5, window_seconds=60),
    bad_callbacks=BurstDetectorConfig(threshold=3, window_seconds=300),
    enumeration=EnumerationDetectorConfig(
        min_distinct_ids=10, mismatch_rate=0.5, window_seconds=600
    ),
    volume=VolumeDetectorConfig(factor=5, window_seconds=60, baseline_seconds=600, min_requests=20),
    cooldown_seconds=900,
)


def _detectors(alerts: list[SecurityAlert]) -> list[tuple[str, str]]:
    return [(a.detector, a.subject) for a in alerts]


def test_auth_failure_burst_from_one_address(
    make_monitor: Build, ticks: FakeClock, alerts: list[SecurityAlert]
) -> None:
    """Five failures from one address within a minute alert; four do not."""
    make_monitor(CONFIG)
    for _ in range(4):
        security_events.emit("bad_signature", remote="127.0.0.9", reason="bad-signature")
        ticks.advance(10)
    assert alerts == []
    security_events.emit("unknown_client", remote="127.0.0.9")
    assert _detectors(alerts) == [("auth_failures_by_address", "127.0.0.9")]


def test_auth_failures_spread_beyond_the_window_do_not_alert(
    make_monitor: Build, ticks: FakeClock, alerts: list[SecurityAlert]
) -> None:
    """Failures further apart than the window never reach the threshold."""
    make_monitor(CONFIG)
    for _ in range(20):
        security_events.emit("auth_failed", remote="127.0.0.9")
        ticks.advance(15)
    assert alerts == []


def test_auth_failure_burst_for_one_client(
    make_monitor: Build, ticks: FakeClock, alerts: list[SecurityAlert]
) -> None:
    """Five failures for one client from different addresses alert on the client."""
    make_monitor(CONFIG)
    for n in range(5):
        security_events.emit("replayed_request", client_id="portal", remote=f"127.0.1.{n}")
    assert _detectors(alerts) == [("auth_failures_by_client", "portal")]


def test_alerts_are_not_repeated_within_the_cooldown(
    make_monitor: Build, ticks: FakeClock, alerts: list[SecurityAlert]
) -> None:
    """A continuing burst alerts once per cool-down, then again after it."""
    make_monitor(CONFIG)
    for _ in range(30):
        security_events.emit("auth_failed", remote="127.0.0.7")
        ticks.advance(1)
    assert len(alerts) == 1
    ticks.advance(899 - 30 + 4)  # the first alert was raised at the fifth failure
    for _ in range(5):
        security_events.emit("auth_failed", remote="127.0.0.7")
    assert len(alerts) == 1
    ticks.advance(2)
    security_events.emit("auth_failed", remote="127.0.0.7")
    assert len(alerts) == 2


def test_bad_callback_checksum_surge(
    make_monitor: Build, ticks: FakeClock, alerts: list[SecurityAlert]
) -> None:
    """Three bad callback checksums from one provider within the window alert; two do not."""
    make_monitor(CONFIG)
    security_events.emit("bad_callback_checksum", provider="vnpay", remote="127.0.0.5")
    security_events.emit("bad_callback_checksum", provider="vnpay", remote="127.0.0.5")
    security_events.emit("bad_callback_checksum", provider="dvcqg", remote="127.0.0.5")
    assert alerts == []
    security_events.emit("bad_callback_checksum", provider="vnpay", remote="127.0.0.5")
    assert _detectors(alerts) == [("bad_callback_checksums", "vnpay")]


def test_enumeration_of_personal_ids(
    make_monitor: Build, ticks: FakeClock, alerts: list[SecurityAlert]
) -> None:
    """Ten distinct ids with half mismatching alert; nine do not; matches do not."""
    monitor = make_monitor(CONFIG)
    for n in range(9):
        monitor.observe_verification("one-stop", f"digest-{n}", "not_found")
        monitor.observe_verification("portal", f"digest-{n}", "match")
        ticks.advance(5)
    monitor.observe_verification("portal", "digest-9", "match")
    assert alerts == []
    monitor.observe_verification("one-stop", "digest-9", "mismatch")
    assert _detectors(alerts) == [("enumeration", "one-stop")]


def test_enumeration_needs_the_mismatch_rate(
    make_monitor: Build, ticks: FakeClock, alerts: list[SecurityAlert]
) -> None:
    """Many distinct ids that mostly match do not alert (a busy but honest client)."""
    monitor = make_monitor(CONFIG)
    for n in range(40):
        verdict = "mismatch" if n % 3 == 0 else "match"
        monitor.observe_verification("one-stop", f"digest-{n}", verdict)
    assert alerts == []


def test_volume_far_above_usual(
    make_monitor: Build, ticks: FakeClock, alerts: list[SecurityAlert]
) -> None:
    """After a steady 10 per minute, 50 in one minute alerts (5x usual); 49 do not."""
    monitor = make_monitor(CONFIG)
    ticks.set(60_000.0)  # the start of a window
    for _ in range(10):
        for _ in range(10):
            monitor.observe_request("portal")
        ticks.advance(60)
    for _ in range(49):
        monitor.observe_request("portal")
    assert alerts == []
    monitor.observe_request("portal")
    assert _detectors(alerts) == [("volume", "portal")]
    assert alerts[0].detail["requests"] == 50


def test_volume_of_a_new_client_needs_the_minimum(
    make_monitor: Build, ticks: FakeClock, alerts: list[SecurityAlert]
) -> None:
    """A client without history alerts only at min_requests in one window."""
    monitor = make_monitor(CONFIG)
    ticks.set(60_000.0)
    for _ in range(19):
        monitor.observe_request("one-stop")
    assert alerts == []
    monitor.observe_request("one-stop")
    assert _detectors(alerts) == [("volume", "one-stop")]


def test_a_failing_listener_does_not_break_emit(
    make_monitor: Build, alerts: list[SecurityAlert]
) -> None:
    """emit() survives a listener that raises, and other listeners still run."""

    def broken(kind: str, fields: object) -> None:
        raise RuntimeError("boom")

    unsubscribe = security_events.subscribe(broken)
    try:
        make_monitor(
            CONFIG.model_copy(
                update={"auth_failures": BurstDetectorConfig(threshold=1, window_seconds=60)}
            )
        )
        security_events.emit("auth_failed", remote="127.0.0.3")
    finally:
        unsubscribe()
    assert _detectors(alerts) == [("auth_failures_by_address", "127.0.0.3")]


def test_a_kind_the_gateway_never_emits_is_refused_in_the_configuration() -> None:
    """``auth_failure_kinds`` holds event kinds: a misspelt one is an error, not a dead rule."""
    with pytest.raises(ValidationError) as caught:
        SecurityConfig.model_validate({"auth_failure_kinds": ["bad_signature", "bad_signatures"]})
    assert caught.value.errors()[0]["loc"] == ("auth_failure_kinds", 1)
    config = SecurityConfig.model_validate({"auth_failure_kinds": ["bad_signature"]})
    assert config.auth_failure_kinds == (security_events.SecurityEventKind.BAD_SIGNATURE,)
    assert config.auth_failure_kinds == ("bad_signature",)
