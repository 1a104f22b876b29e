"""Inline SVG charts, drawn on the server: no chart library, no script, nothing fetched.

Each segment or point is a link to the rows behind it, so a figure can always
be checked. Amounts are Decimal; only pixel positions are floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

BUCKET_COLOURS = {"not_due": "#4c9a6a", "1_30": "#e3b448", "31_60": "#e08a3c", "61_90": "#d0593a", "over_90": "#9b2c2c"}
BUCKET_LABELS = {"not_due": "not due", "1_30": "1–30 d", "31_60": "31–60 d", "61_90": "61–90 d", "over_90": "> 90 d"}


@dataclass(frozen=True)
class Segment:
    key: str
    amount: Decimal
    href: str


def stacked_bar(rows: list[tuple[str, list[Segment]]], *, width: int = 900, bar_h: int = 28) -> str:
    """One horizontal bar per label (a currency), its segments stacked left to right."""
    gap, left, top = 14, 56, 8
    height = top + len(rows) * (bar_h + gap) + 34
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" aria-label="aged balance">']
    span = width - left - 10
    for n, (label, segs) in enumerate(rows):
        y = top + n * (bar_h + gap)
        total = sum((s.amount for s in segs if s.amount > 0), Decimal(0))
        parts.append(f'<text x="0" y="{y + bar_h * 0.7:.1f}" class="lbl">{escape(label)}</text>')
        x = float(left)
        for s in segs:
            if s.amount <= 0 or total <= 0:
                continue
            w = float(s.amount / total) * span
            title = f"{BUCKET_LABELS.get(s.key, s.key)}: {s.amount:,.2f} {label}"
            parts.append(f'<a href="{escape(s.href)}"><rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" '
                         f'height="{bar_h}" fill="{BUCKET_COLOURS.get(s.key, "#888")}"><title>{escape(title)}</title>'
                         f'</rect></a>')
            x += w
    y = top + len(rows) * (bar_h + gap) + 8
    x = float(left)
    for key, colour in BUCKET_COLOURS.items():
        parts.append(f'<rect x="{x:.0f}" y="{y}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16:.0f}" y="{y + 11}" class="lgd">{BUCKET_LABELS[key]}</text>')
        x += 100
    parts.append("</svg>")
    return "".join(parts)


def line_chart(points: list[tuple[str, Decimal | None]], *, href_for: dict[str, str] | None = None,
               width: int = 640, height: int = 180) -> str:
    """A small line chart (DSO per month end); labels on the x axis, values on hover."""
    vals = [v for _, v in points if v is not None]
    if not vals:
        return '<p class="muted">no DSO history yet</p>'
    left, bottom, top = 40, 26, 10
    hi = max(vals) * Decimal("1.1") or Decimal(1)
    step = (width - left - 30) / max(len(points) - 1, 1)
    coords = []
    for n, (label, v) in enumerate(points):
        if v is None:
            continue
        x = left + n * step
        y = top + (1 - float(v / hi)) * (height - top - bottom)
        coords.append((x, y, label, v))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" aria-label="DSO trend">',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" class="axis"/>',
             f'<text x="0" y="{top + 8}" class="lgd">{hi:.0f} d</text>',
             '<polyline fill="none" stroke="#2b5d8a" stroke-width="2" points="'
             + " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in coords) + '"/>']
    for x, y, label, v in coords:
        dot = f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#2b5d8a"><title>{escape(label)}: {v} days</title></circle>'
        href = (href_for or {}).get(label)
        parts.append(f'<a href="{escape(href)}">{dot}</a>' if href else dot)
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" class="lgd" text-anchor="middle">{escape(label[2:7])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def forecast_actual(rows: list[dict[str, object]], *, width: int = 640, bar_h: int = 120) -> str:
    """Paired bars per past month end (one chart per currency): forecast (light) next to actual (dark).

    ``rows`` come from :func:`reports.backtest.forecast_backtest` (month_end, currency, forecast, actual).
    """
    if not rows:
        return '<p class="muted">no month end with a finished 30-day horizon yet</p>'
    out = []
    for currency in sorted({str(r["currency"]) for r in rows}):
        mine = sorted((r for r in rows if r["currency"] == currency), key=lambda r: str(r["month_end"]))
        hi = max(max(Decimal(str(r["forecast"])), Decimal(str(r["actual"]))) for r in mine) or Decimal(1)
        left, top, bottom = 10, 10, 30
        slot = (width - left - 10) / len(mine)
        bw = max(min(slot / 3, 40), 4)
        height = top + bar_h + bottom
        parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
                  f'width="{width}" aria-label="forecast versus actual, {escape(currency)}">'),
                 f'<line x1="{left}" y1="{top + bar_h}" x2="{width - 10}" y2="{top + bar_h}" class="axis"/>']
        for n, r in enumerate(mine):
            x0 = left + n * slot + slot / 2 - bw
            for k, (key, colour) in enumerate((("forecast", "#9cc3e4"), ("actual", "#2b5d8a"))):
                v = Decimal(str(r[key]))
                h = float(v / hi) * bar_h if v > 0 else 0.0
                title = f"{r['month_end']} {key}: {v:,.2f} {currency}"
                parts.append(f'<rect x="{x0 + k * bw:.1f}" y="{top + bar_h - h:.1f}" width="{bw:.1f}" '
                             f'height="{max(h, 0.5):.1f}" fill="{colour}"><title>{escape(title)}</title></rect>')
            parts.append(f'<text x="{x0 + bw:.1f}" y="{height - 12}" class="lgd" text-anchor="middle">'
                         f'{escape(str(r["month_end"])[:7])}</text>')
        parts.append(f'<text x="{width - 10}" y="{height - 1}" class="lgd" text-anchor="end">{escape(currency)}: '
                     'forecast (light) · actual (dark)</text></svg>')
        out.append("".join(parts))
    return "".join(out)
