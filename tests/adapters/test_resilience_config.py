"""The resilience policy as configuration."""

from __future__ import annotations

import pydantic
import pytest

from adapters.resilience import OperationPolicy, UpstreamResilience


def test_unknown_operation_gets_the_default_policy() -> None:
    """policy_for answers an operation's own policy, else the upstream default."""
    lookup = OperationPolicy(per_try_timeout_seconds=2.0, deadline_seconds=6.0, safe_to_retry=True)
    config = UpstreamResilience(operations={"TraCuuThongTinCongDan": lookup})
    assert config.policy_for("TraCuuThongTinCongDan") is lookup
    assert config.policy_for("CreatePayment") == config.default_operation
    assert config.default_operation.safe_to_retry is False


def test_policy_loads_from_nested_mapping() -> None:
    """A TOML-shaped mapping validates into the models."""
    config = UpstreamResilience.model_validate(
        {
            "quota": {"rate_per_second": 5, "burst": 10},
            "breaker": {"min_calls": 4, "failure_rate": 0.25},
            "operations": {"chiTietDoanhNghiep": {"deadline_seconds": 9, "safe_to_retry": True}},
        }
    )
    assert config.quota.burst == 10
    assert config.breaker.failure_rate == 0.25
    assert config.policy_for("chiTietDoanhNghiep").deadline_seconds == 9


def test_unknown_keys_are_refused() -> None:
    """A typo in the configuration fails validation instead of being ignored."""
    with pytest.raises(pydantic.ValidationError):
        UpstreamResilience.model_validate({"breaker": {"open_second": 5}})


def test_backoff_cap_below_initial_is_refused() -> None:
    """backoff_max smaller than backoff_initial is a configuration error."""
    with pytest.raises(pydantic.ValidationError):
        OperationPolicy(backoff_initial_seconds=2.0, backoff_max_seconds=1.0)


@pytest.mark.parametrize(
    "field",
    [{"per_try_timeout_seconds": 0}, {"deadline_seconds": -1}, {"max_attempts": 0}],
)
def test_nonsensical_values_are_refused(field: dict[str, float]) -> None:
    """Zero or negative timeouts and attempts fail validation."""
    with pytest.raises(pydantic.ValidationError):
        OperationPolicy.model_validate(field)
