"""Keys of the older configuration shape are refused, each on its own line naming its new key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import ConfigError, Settings, load_settings, moved_keys

OLD_SHAPE = """
[population.adapter]
endpoint = "http://127.0.0.1:8701/dancu/ws"

[population.resilience.default_operation]
deadline = 5.0

[business]
cache_ttl_seconds = 600

[payments]
expiry_minutes = 15

[payments.webhooks]
lease = "PT60S"

[payments.resilience.dvcqg.operations.query_status]
per_try_timeout = 3.0
"""

EXPECTED = [
    "population.adapter: [population.adapter] moved to [upstreams.population.adapter]",
    "population.resilience: [population.resilience] moved to [upstreams.population.resilience]",
    "population.resilience.default_operation.deadline: [population.resilience.default_operation]"
    " deadline moved to [upstreams.population.resilience.default_operation] deadline_seconds",
    "business.cache_ttl_seconds: [business] cache_ttl_seconds moved to"
    " [businesses] cache_ttl_seconds",
    "payments.expiry_minutes: [payments] expiry_minutes moved to [payments] expiry_seconds,"
    " in seconds (15 minutes = 900)",
    "payments.webhooks.lease: [payments.webhooks] lease moved to [payments.webhooks]"
    ' lease_seconds, a number of seconds now, not an ISO 8601 duration ("PT5S" is 5)',
    "payments.resilience.dvcqg: [payments.resilience.dvcqg] moved to [upstreams.dvcqg.resilience]",
    "payments.resilience.dvcqg.operations.query_status.per_try_timeout:"
    " [payments.resilience.dvcqg.operations.query_status] per_try_timeout moved to"
    " [upstreams.dvcqg.resilience.operations.query_status] per_try_timeout_seconds",
]


@pytest.fixture
def old_config(tmp_path: Path) -> Path:
    path = tmp_path / "old.toml"
    path.write_text(OLD_SHAPE, encoding="utf-8")
    return path


def test_every_old_key_is_named_with_its_new_place(old_config: Path) -> None:
    """load_settings refuses the old shape with one line per moved key, in file order."""
    with pytest.raises(ConfigError) as refused:
        load_settings(old_config)
    assert refused.value.errors == EXPECTED


def test_check_config_and_run_refuse_alike(
    old_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config and run both exit 2 and print each moved key on its own line."""
    for command in (["check-config", str(old_config)], ["run", "--config", str(old_config)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        for line in EXPECTED:
            assert f"  {line}\n" in err, (command, err)


def test_an_old_environment_variable_names_the_one_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """LIENTHONG_POPULATION__ADAPTER__ENDPOINT is refused, naming the new variable; an old
    key inside a JSON value is refused too."""
    monkeypatch.setenv("LIENTHONG_POPULATION__ADAPTER__ENDPOINT", "http://127.0.0.1:9/ws")
    monkeypatch.setenv("LIENTHONG_PAYMENTS__WEBHOOKS", '{"poll_interval": "PT1S"}')
    with pytest.raises(ConfigError) as refused:
        load_settings(None)
    assert refused.value.errors == [
        "payments.webhooks.poll_interval: [payments.webhooks] poll_interval moved to"
        " [payments.webhooks] poll_interval_seconds, a number of seconds now, not an ISO 8601"
        ' duration ("PT5S" is 5)',
        "population.adapter.endpoint: LIENTHONG_POPULATION__ADAPTER__ENDPOINT names a key of"
        " the old shape; set LIENTHONG_UPSTREAMS__POPULATION__ADAPTER__ENDPOINT instead",
    ]


def test_the_new_shape_reads_and_is_not_reported() -> None:
    """The embedded default (new shape) has no moved key, and its values arrive where the
    services read them."""
    settings = load_settings(None)
    assert moved_keys(settings.model_dump(), {}) == []
    assert settings.upstreams.population.adapter.endpoint == "http://127.0.0.1:8701/dancu/ws"
    assert settings.upstreams.dvcqg.resilience.policy_for("query_status").deadline_seconds == 8.0
    assert settings.businesses.cache_ttl_seconds == 600
    assert settings.payments.expiry_seconds == 900
    assert settings.payments.webhooks.max_age_seconds == 3 * 24 * 3600


def test_a_moved_key_is_refused_when_the_settings_are_built_directly() -> None:
    """Settings(...) itself refuses the old shape: no caller can slip an old key past."""
    with pytest.raises(
        Exception, match=r"\[payments\.vnpay\] moved to \[upstreams\.vnpay\.adapter\]"
    ):
        Settings(payments={"vnpay": {"tmn_code": "X"}})
