"""Cached Prometheus label children: the same child prometheus_client would give, bounded."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from adapters import observability
from adapters.observability import label_child


def test_the_cached_child_is_the_metrics_own_and_counts() -> None:
    registry = CollectorRegistry()
    calls = Counter("g1_cached_calls", "test", ["outcome"], registry=registry)
    first = label_child(calls, "ok")
    assert first is calls.labels("ok")
    assert label_child(calls, "ok") is first
    label_child(calls, "ok").inc()
    label_child(calls, "fault").inc(2)
    assert registry.get_sample_value("g1_cached_calls_total", {"outcome": "ok"}) == 1
    assert registry.get_sample_value("g1_cached_calls_total", {"outcome": "fault"}) == 2


def test_the_cache_is_bounded() -> None:
    registry = CollectorRegistry()
    many = Counter("g1_many_labels", "test", ["value"], registry=registry)
    before = len(observability._CHILDREN)
    for i in range(observability.MAX_CACHED_CHILDREN + 10):
        label_child(many, str(i)).inc()
    assert len(observability._CHILDREN) <= observability.MAX_CACHED_CHILDREN
    assert len(observability._CHILDREN) >= before
    assert registry.get_sample_value("g1_many_labels_total", {"value": "4100"}) == 1
