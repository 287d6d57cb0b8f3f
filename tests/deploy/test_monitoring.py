"""Monitoring as code: the alert rules and the dashboard are valid, name only real metrics,
and every alert's runbook link lands on its section of docs/operations.md."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.gateway_process import running_gateway
from tests.deploy.tools import require_tool, run_tool
from tests.payments.processes import REPO

PROMETHEUS = REPO / "config" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
DASHBOARD = REPO / "config" / "grafana" / "lienthong.json"
OPERATIONS = REPO / "docs" / "operations.md"

#: A metric name in PromQL: every lienthong metric is prefixed, so a token is enough.
_METRIC = re.compile(r"\blienthong_[a-z0-9_]+\b")
#: An HTML anchor in the docs, ``<a id="alert-…"></a>``, and the line after it.
_ANCHOR = re.compile(r'^<a id="([^"]+)"></a>\n(.*)$', re.M)
#: Grafana's variables, replaced by what Prometheus would get from them.
_GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$instance": ".*"}


def _rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in doc["panels"]:
        out.append(panel)
        out += panel.get("panels", [])  # collapsed rows keep their panels inside
    return out


def _dashboard_queries(doc: dict[str, Any]) -> list[str]:
    queries = [t["expr"] for p in _panels(doc) for t in p.get("targets", [])]
    for var in doc["templating"]["list"]:
        if var["type"] == "query":
            queries.append(var["definition"])
    return queries


def _promql(expr: str) -> str:
    """A dashboard query as Prometheus receives it (``label_values(m, l)`` asks for ``m``)."""
    for var, value in _GRAFANA_VARIABLES.items():
        expr = expr.replace(var, value)
    return re.sub(r"^label_values\((.+),\s*\w+\)$", r"\1", expr)


def _named_metrics() -> set[str]:
    exprs = [rule["expr"] for rule in _rules()] + _dashboard_queries(_dashboard())
    return {name for expr in exprs for name in _METRIC.findall(expr)}


def test_promtool_checks_the_rules() -> None:
    """``promtool check rules`` accepts alerts.yml (syntax, PromQL, templates)."""
    promtool = require_tool("promtool", "prometheus")
    done = run_tool([promtool, "check", "rules", str(ALERTS)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_fire_each_alert() -> None:
    """``promtool test rules`` passes, and its tests cover every alert, firing and quiet."""
    promtool = require_tool("promtool", "prometheus")
    done = run_tool([promtool, "test", "rules", ALERT_TESTS.name], cwd=PROMETHEUS)
    assert done.returncode == 0, done.stdout + done.stderr
    tests = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    fired = {case["alertname"] for case in cases if case["exp_alerts"]}
    quiet = {case["alertname"] for case in cases if not case["exp_alerts"]}
    alerts = {rule["alert"] for rule in _rules()}
    assert fired == alerts
    assert quiet == alerts


def test_each_alert_says_how_bad_what_and_where_to_read() -> None:
    """Every alert has a severity, a summary, a description and its runbook anchor."""
    rules = _rules()
    assert rules
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        notes = rule["annotations"]
        assert notes["summary"], name
        assert notes["description"], name
        assert notes["runbook_url"] == f"docs/operations.md#alert-{name.lower()}"


def _missing_runbooks(rules: list[dict[str, Any]], docs: dict[str, str]) -> list[str]:
    """Each alert whose ``runbook_url`` names no ``<a id>`` in its page (``docs``: path → text),
    or an anchor not followed by the alert's own ``###`` heading."""
    missing: list[str] = []
    for rule in rules:
        page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        sections = dict(_ANCHOR.findall(docs.get(page, "")))
        heading = sections.get(anchor)
        if heading is None or not heading.startswith(f"### {rule['alert']} "):
            missing.append(rule["alert"])
    return missing


def test_every_runbook_url_lands_on_its_alert_section() -> None:
    """Each runbook_url's anchor exists in docs/operations.md, on the alert's own section."""
    docs = {"docs/operations.md": OPERATIONS.read_text(encoding="utf-8")}
    rules = _rules()
    assert _missing_runbooks(rules, docs) == []
    # The check reads the page: without one anchor, or with it on another section, it fails.
    first = rules[0]["annotations"]["runbook_url"].partition("#")[2]
    removed = docs["docs/operations.md"].replace(f'<a id="{first}"></a>\n', "")
    assert _missing_runbooks(rules, {"docs/operations.md": removed}) == [rules[0]["alert"]]
    swapped = docs["docs/operations.md"].replace(f"### {rules[0]['alert']} ", "### Something ")
    assert _missing_runbooks(rules, {"docs/operations.md": swapped}) == [rules[0]["alert"]]


def test_dashboard_is_grafana_json_on_a_prometheus_variable() -> None:
    """One dashboard: a Prometheus datasource variable every panel uses, unique ids, a grid."""
    doc = _dashboard()
    assert doc["uid"] == "lienthong-gateway"
    assert doc["title"] == "lienthong"
    assert isinstance(doc["schemaVersion"], int)
    variables = {v["name"]: v for v in doc["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = _panels(doc)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for p in panels:
        grid = p["gridPos"]
        assert grid["x"] >= 0, p["title"]
        assert grid["x"] + grid["w"] <= 24, p["title"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{p['title']} overlaps another panel"
        cells |= mine
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p["targets"], p["title"]
        for target in p["targets"]:
            assert target["datasource"] == p["datasource"]
            assert _METRIC.search(target["expr"]), target["expr"]
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in (
        "latency",
        "upstream",
        "breaker",
        "payments",
        "outbox",
        "webhook",
        "security events",
        "security alerts",
        "certificate",
    ):
        assert topic in titles, topic


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Every dashboard query, its Grafana variables filled in, parses as PromQL (promtool)."""
    promtool = require_tool("promtool", "prometheus")
    rules = [
        {"record": f"lienthong_dashboard:query_{i}", "expr": _promql(expr)}
        for i, expr in enumerate(_dashboard_queries(_dashboard()))
    ]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = run_tool([promtool, "check", "rules", str(path)])
    assert done.returncode == 0, done.stdout + done.stderr


def _exported_names(exposition: str) -> set[str]:
    """Every sample name /metrics can carry, from each family's declared type."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
    }
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names |= {family.name + s for s in suffixes.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


@pytest.mark.slow
def test_every_metric_the_rules_and_dashboard_name_is_exported(tmp_path: Path) -> None:
    """A real ``lienthong run`` exports each metric alerts.yml and the dashboard query."""
    named = _named_metrics()
    assert "lienthong_request_seconds_bucket" in named  # the parse finds histogram series
    assert "lienthong_security_alerts_total" in named
    with (
        running_gateway(tmp_path) as gw,
        urllib.request.urlopen(  # noqa: S310 (http://127.0.0.1)
            gw.url + "/metrics", timeout=30
        ) as r,
    ):
        exposition = r.read().decode()
    exported = _exported_names(exposition)
    assert "lienthong_build_info" in exported
    assert sorted(named - exported) == []
