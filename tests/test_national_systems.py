"""The national systems listed once (adapters/systems.py) and what iterates them."""

from __future__ import annotations

from adapters.systems import SYSTEMS, system
from gateway.config import Settings, load_settings, production_problems


def test_every_system_has_its_upstreams_section() -> None:
    """``[upstreams]`` has exactly one section per national system, in the list's order,
    each typing its ``adapter`` as the system package's ``Config``."""
    settings = load_settings()
    sections = settings.upstreams.sections()
    assert list(sections) == [s.name for s in SYSTEMS]
    for s in SYSTEMS:
        adapter = sections[s.name].adapter
        assert adapter is None or isinstance(adapter, s.adapter().Config), s.name
    assert isinstance(Settings().upstreams.section("population").adapter, object)
    assert Settings().upstreams.section("business").adapter is None  # no usable default


def test_production_names_every_configured_systems_endpoints() -> None:
    """In production, every configured system's address fields are checked: the embedded
    default's loopback sandboxes are each named (payment providers only with payments on)."""
    settings = load_settings().model_copy(update={"environment": "production"})
    problems = "\n".join(production_problems(settings))
    for s in SYSTEMS:
        for field in s.adapter().Config.ENDPOINTS:
            key = f"upstreams.{s.name}.adapter.{field}"
            if s.payment and not settings.payments.enabled:
                assert key not in problems
            else:
                assert f"{key}: a loopback (sandbox) endpoint" in problems, key


def test_a_system_is_found_by_name() -> None:
    assert system("vnpay").payment
    assert not system("population").payment
    assert [s.name for s in SYSTEMS if s.payment] == ["dvcqg", "vnpay"]
