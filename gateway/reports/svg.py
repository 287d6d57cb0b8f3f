"""The report's charts as inline SVG, drawn here in a few lines of Python.

Why not a plotting library: the page has two kinds of chart (stacked bars, a
weekly line over bars), and matplotlib would bring numpy, Pillow and a font
cache into a gateway for them; its SVG also embeds glyphs as paths, which
makes the page heavy and the marks hard to test. These charts are plain
``<rect>``, ``<polyline>`` and ``<circle>`` elements with classes
(``seg seg-match``, ``point``, ``bar-breaker``) and ``data-value`` attributes, so
the browser test can count what was drawn; they scale with ``viewBox`` to the
page width and print sharply on A4. Colours are the Okabe–Ito palette, which
stays distinguishable for colour-blind readers and in grey print (each segment
also carries its number when it is wide enough).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from gateway.reports.figures import SystemAvailability
from gateway.reports.text import Lang, integer, percent, short_day, word

#: Okabe–Ito colours by segment key.
COLOURS = {
    "match": "#009E73",
    "match_without_diacritics": "#56B4E9",
    "mismatch": "#E69F00",
    "not_found": "#CC79A7",
    "rejected": "#999999",
    "error": "#D55E00",
    "paid": "#009E73",
    "failed": "#D55E00",
    "expired": "#999999",
    "needs_review": "#E69F00",
    "cancelled": "#CC79A7",
    "open": "#56B4E9",
}
_FONT = 'font-family="inherit"'


def _legend(
    keys: Sequence[str], labels: Sequence[str], y: float, width: float
) -> tuple[list[str], float]:
    """The legend's items, wrapped to ``width``, and the baseline of its last row."""
    out: list[str] = []
    x = 0.0
    for key, label in zip(keys, labels, strict=True):
        box = 10 + 6 + 6.2 * len(label) + 18
        if x + box > width:
            x, y = 0.0, y + 18
        out.append(
            f'<g class="legend-item"><rect x="{x:.1f}" y="{y - 10:.1f}" width="10" height="10"'
            f' fill="{COLOURS[key]}"/><text x="{x + 14:.1f}" y="{y:.1f}" font-size="11"'
            f" {_FONT}>{escape(label)}</text></g>"
        )
        x += box
    return out, y


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[int]]],
    keys: Sequence[str],
    labels: Sequence[str],
    *,
    chart_id: str,
    title: str,
    lang: Lang,
) -> str:
    """One horizontal bar per row, split by ``keys`` in proportion (100 % wide each)."""
    width, label_w, bar_h, gap = 720.0, 190.0, 20.0, 8.0
    bar_w = width - label_w - 60
    legend, legend_end = _legend(keys, labels, 16.0, width)
    top = legend_end + 16
    height = top + len(rows) * (bar_h + gap) + 4
    parts = [
        f'<svg class="chart stacked" id="{escape(chart_id)}" role="img"'
        f' aria-label="{escape(title)}" viewBox="0 0 {width:.0f} {height:.0f}"'
        f' xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
        *legend,
    ]
    for i, (label, values) in enumerate(rows):
        y = top + i * (bar_h + gap)
        total = sum(values)
        parts.append(
            f'<text x="{label_w - 8:.1f}" y="{y + bar_h * 0.7:.1f}" text-anchor="end"'
            f' font-size="11" {_FONT}>{escape(label)}</text>'
        )
        x = label_w
        for key, value in zip(keys, values, strict=True):
            if value <= 0 or total <= 0:
                continue
            w = bar_w * value / total
            tip = f"{word(key, lang) if key in COLOURS else key}: {integer(value, lang)}"
            parts.append(
                f'<rect class="seg seg-{key}" data-value="{value}" x="{x:.2f}" y="{y:.1f}"'
                f' width="{w:.2f}" height="{bar_h:.0f}" fill="{COLOURS[key]}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            if w > 34:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + bar_h * 0.7:.1f}" text-anchor="middle"'
                    f' font-size="10" fill="#fff" {_FONT}>{escape(integer(value, lang))}</text>'
                )
            x += w
        parts.append(
            f'<text x="{label_w + bar_w + 6:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="11"'
            f" {_FONT}>{escape(integer(total, lang))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def availability_chart(system: SystemAvailability, *, chart_id: str, lang: Lang) -> str:
    """Share of calls answered per week (line, 0–100 %) over minutes with the breaker open
    (bars below, their own scale)."""
    weeks = system.weeks
    width, left, right = 720.0, 48.0, 16.0
    line_top, line_h = 16.0, 150.0
    bars_top, bars_h = line_top + line_h + 34, 70.0
    height = bars_top + bars_h + 34
    plot_w = width - left - right
    step = plot_w / max(len(weeks), 1)
    name = word(system.system, lang)
    title = f"{name}: {word('share_answered', lang)}, {word('breaker_minutes', lang)}"
    parts = [
        f'<svg class="chart availability" id="{escape(chart_id)}" role="img"'
        f' aria-label="{escape(title)}" data-system="{escape(system.system)}"'
        f' viewBox="0 0 {width:.0f} {height:.0f}" xmlns="http://www.w3.org/2000/svg"'
        ' preserveAspectRatio="xMinYMin meet">',
        f"<title>{escape(title)}</title>",
    ]
    for pct in (0, 25, 50, 75, 100):
        y = line_top + line_h * (1 - pct / 100)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"'
            ' stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10"'
            f" {_FONT}>{pct}%</text>"
        )
    points: list[tuple[float, float, WeekShare]] = []
    for i, wk in enumerate(weeks):
        if wk.share is None:
            continue
        x = left + step * (i + 0.5)
        points.append((x, line_top + line_h * (1 - wk.share), (wk.share, wk.calls)))
    if len(points) > 1:
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        parts.append(
            f'<polyline class="line-share" points="{coords}" fill="none" stroke="#0072B2"'
            ' stroke-width="2"/>'
        )
    for x, y, (share, calls) in points:
        tip = f"{percent(share, lang)} ({integer(calls, lang)} {word('calls', lang).lower()})"
        parts.append(
            f'<circle class="point" data-value="{share:.6f}" cx="{x:.1f}" cy="{y:.1f}" r="3.5"'
            f' fill="#0072B2"><title>{escape(tip)}</title></circle>'
        )
    parts.append(
        f'<text x="{left}" y="{bars_top - 10:.1f}" font-size="11" {_FONT}>'
        f"{escape(word('breaker_minutes', lang))}</text>"
    )
    most = max((wk.breaker_minutes for wk in weeks), default=0)
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{bars_top + bars_h:.1f}"'
        f' y2="{bars_top + bars_h:.1f}" stroke="#888" stroke-width="1"/>'
    )
    for i, wk in enumerate(weeks):
        x = left + step * i
        h = bars_h * wk.breaker_minutes / most if most else 0.0
        parts.append(
            f'<rect class="bar-breaker" data-value="{wk.breaker_minutes}"'
            f' x="{x + step * 0.2:.1f}" y="{bars_top + bars_h - h:.1f}" width="{step * 0.6:.1f}"'
            f' height="{h:.1f}" fill="#D55E00"><title>{wk.breaker_minutes}</title></rect>'
        )
        if wk.breaker_minutes:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{bars_top + bars_h - h - 3:.1f}"'
                f' text-anchor="middle" font-size="9" {_FONT}>{wk.breaker_minutes}</text>'
            )
        parts.append(
            f'<text x="{x + step / 2:.1f}" y="{bars_top + bars_h + 14:.1f}"'
            f' text-anchor="middle" font-size="9" {_FONT}>{short_day(wk.first)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


WeekShare = tuple[float, int]
