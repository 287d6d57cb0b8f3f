"""The report page in a real browser (headless Chromium): every chart drawn with its marks, no
request leaves the page, and it prints on A4. Screenshots and the PDF are kept as artefacts
in ``var/test-artefacts/`` (git-ignored) for people to look at."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.audit.log import AuditLog
from gateway.payments.ledger import PaymentLedger
from gateway.reports.command import generate
from gateway.reports.period import Period
from gateway.store import Store
from tests.payments.cdp import Browser, chromium_available
from tests.reports.quarter import write_quarter
from tests.support.clock import FakeClock

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not chromium_available(),
        reason="headless browser test needs /usr/bin/chromium (apt-get install -y chromium;"
        " .ci/run installs it)",
    ),
]
ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artefacts"

#: What every chart drew, read from the page's own layout (sizes in CSS pixels).
MARKS = """JSON.stringify({
  stacked: [...document.querySelectorAll('svg.chart.stacked')].map(s => ({
    id: s.id, width: s.getBoundingClientRect().width,
    segs: [...s.querySelectorAll('rect.seg')].map(r => ({
      value: +r.dataset.value, width: r.getBoundingClientRect().width })),
    bars: s.querySelectorAll('text[text-anchor=end]').length })),
  availability: [...document.querySelectorAll('svg.chart.availability')].map(s => ({
    system: s.dataset.system, width: s.getBoundingClientRect().width,
    points: [...s.querySelectorAll('circle.point')].filter(
      c => c.getBoundingClientRect().width > 0).length,
    line: !!s.querySelector('polyline.line-share'),
    bars: [...s.querySelectorAll('rect.bar-breaker')].map(r => ({
      value: +r.dataset.value, height: r.getBoundingClientRect().height })) })),
  resources: performance.getEntriesByType('resource').length,
})"""


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_every_chart_draws_and_the_page_prints_on_a4(
    store: Store, audit_log: AuditLog, clock: FakeClock, tmp_path: Path
) -> None:
    """Open the page from a file (as from a USB stick), count each chart's marks, screenshot
    it, print it to an A4 PDF."""
    exp = await write_quarter(audit_log, PaymentLedger(store, clock), clock)
    report = await generate(
        store, Period.quarter("2026-Q4"), now=datetime(2027, 1, 15, 3, tzinfo=UTC)
    )
    page = tmp_path / "report-2026-Q4.html"
    page.write_text(report.html, encoding="utf-8")
    browser = await Browser.launch(tmp_path / "profile")
    try:
        await browser.send(
            "Emulation.setDeviceMetricsOverride",
            width=1000,
            height=1400,
            deviceScaleFactor=1,
            mobile=False,
        )
        await browser.navigate(page.as_uri())
        await browser.wait_for("document.readyState === 'complete'")
        marks = json.loads(await browser.evaluate(MARKS))
        height = await browser.evaluate("document.documentElement.scrollHeight")
        shot = await browser.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": 1000, "height": height, "scale": 1},
        )
        top = await browser.send("Page.captureScreenshot", format="png")
        y = await browser.evaluate("document.getElementById('availability').offsetTop")
        systems = await browser.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": y, "width": 1000, "height": 1400, "scale": 1},
        )
        pdf = await browser.send(
            "Page.printToPDF", paperWidth=8.27, paperHeight=11.69, preferCSSPageSize=True
        )
    finally:
        await browser.close()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for name, data in (
        ("report-page.png", shot["data"]),
        ("report-top.png", top["data"]),
        ("report-availability.png", systems["data"]),
        ("report.pdf", pdf["data"]),
    ):
        raw = base64.b64decode(data)
        (tmp_path / name).write_bytes(raw)
        (ARTEFACTS / name).write_bytes(raw)

    assert marks["resources"] == 0  # nothing fetched: no font, script, image or style sheet
    stacked = {c["id"]: c for c in marks["stacked"]}
    assert set(stacked) == {"chart-verdicts", "chart-payments"}
    verdicts = stacked["chart-verdicts"]
    assert verdicts["width"] > 500
    assert verdicts["bars"] == len(exp.verifications)
    want = sorted(n for c in exp.verifications.values() for n in c.values() if n)
    assert sorted(s["value"] for s in verdicts["segs"]) == want
    assert all(s["width"] > 0 for s in verdicts["segs"])
    assert stacked["chart-payments"]["bars"] == len(exp.payments)
    availability = {c["system"]: c for c in marks["availability"]}
    assert set(availability) == {s for s, _ in exp.calls}
    for system, chart in availability.items():
        weeks_with_calls = sum(1 for (s, _w), n in exp.calls.items() if s == system and n)
        assert chart["points"] == weeks_with_calls
        assert chart["line"]
        assert len(chart["bars"]) == 14
        minutes = [len(exp.breaker_minutes.get((system, w), ())) for w in range(14)]
        assert [b["value"] for b in chart["bars"]] == minutes
        assert all((b["height"] > 0) == (b["value"] > 0) for b in chart["bars"])
    # an A4 PDF: 595 × 842 points
    assert base64.b64decode(pdf["data"]).startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", base64.b64decode(pdf["data"]))
    assert boxes
    assert all(round(float(w)) == 595 and round(float(h)) == 842 for w, h in boxes)
