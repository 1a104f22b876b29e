"""Small server-side SVG charts (no JavaScript, no network): stacked bars, lines, grouped bars.

Values arrive as Decimals and are only turned into float for pixel positions,
never for a figure a person reads (labels are formatted from the Decimal).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

PALETTE = ("#2e7d32", "#f9a825", "#ef6c00", "#c62828", "#6a1b9a", "#1565c0", "#00838f")


def _fmt(value: Decimal | float | int) -> str:
    return f"{Decimal(str(value)):,.0f}"


def stacked_bars(labels: Sequence[str], series: Sequence[tuple[str, Sequence[Decimal]]], *,
                 width: int = 720, bar_h: int = 22) -> str:
    """Horizontal stacked bars, one per label; negative parts (credit notes) are left out of the drawing."""
    left, right, top = 170, 90, 30
    height = top + len(labels) * (bar_h + 8) + 10
    totals = [sum((max(s[1][i], Decimal(0)) for s in series), Decimal(0)) for i in range(len(labels))]
    scale = float(max(totals or [Decimal(1)]) or 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" class="chart">']
    x_leg = left
    for k, (name, _) in enumerate(series):
        out.append(f'<rect x="{x_leg}" y="6" width="12" height="12" fill="{PALETTE[k % len(PALETTE)]}"/>'
                   f'<text x="{x_leg + 16}" y="16" font-size="11">{escape(name)}</text>')
        x_leg += 16 + 8 * len(name) + 14
    for i, label in enumerate(labels):
        y = top + i * (bar_h + 8)
        out.append(f'<text x="{left - 6}" y="{y + bar_h * 0.7:.1f}" font-size="12" text-anchor="end">'
                   f'{escape(label[:24])}</text>')
        x = float(left)
        for k, (name, values) in enumerate(series):
            v = max(values[i], Decimal(0))
            w = float(v) / scale * (width - left - right)
            if w > 0:
                out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                           f'fill="{PALETTE[k % len(PALETTE)]}"><title>{escape(name)}: {_fmt(v)}</title></rect>')
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="11">{_fmt(totals[i])}</text>')
    out.append("</svg>")
    return "".join(out)


def lines(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[Decimal | None]]], *,
          width: int = 720, height: int = 260, unit: str = "") -> str:
    """A line chart over ordered x labels; None values break the line."""
    left, right, top, bottom = 50, 20, 30, 40
    values = [float(v) for _, vs in series for v in vs if v is not None]
    vmax = max(values or [1.0]) or 1.0
    n = max(len(x_labels) - 1, 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(i: int, v: Decimal) -> tuple[float, float]:
        return left + i / n * plot_w, top + plot_h - float(v) / vmax * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" class="chart">',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
           f'<text x="4" y="{top + 4}" font-size="11">{vmax:,.0f}{escape(unit)}</text>']
    step = max(1, len(x_labels) // 8)
    for i, lab in enumerate(x_labels):
        if i % step == 0:
            x, _ = xy(i, Decimal(0))
            out.append(f'<text x="{x:.1f}" y="{height - 18}" font-size="10" text-anchor="middle">{escape(lab)}</text>')
    for k, (name, vs) in enumerate(series):
        color = PALETTE[(k + 5) % len(PALETTE)]
        pts = [xy(i, v) for i, v in enumerate(vs) if v is not None]
        if pts:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                       + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"/>' for x, y in pts)
        out.append(f'<rect x="{left + 10 + k * 170}" y="8" width="12" height="3" fill="{color}"/>'
                   f'<text x="{left + 26 + k * 170}" y="14" font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)


def grouped_bars(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[Decimal]]], *,
                 width: int = 720, height: int = 260) -> str:
    """Vertical bars side by side per x label (e.g. forecast versus actual per month end)."""
    left, right, top, bottom = 60, 20, 30, 40
    vmax = float(max([v for _, vs in series for v in vs] or [Decimal(1)]) or 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    group_w = plot_w / max(len(x_labels), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" class="chart">',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
           f'<text x="4" y="{top + 4}" font-size="11">{vmax:,.0f}</text>']
    for i, lab in enumerate(x_labels):
        gx = left + i * group_w + group_w * 0.1
        out.append(f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{height - 18}" font-size="10" '
                   f'text-anchor="middle">{escape(lab)}</text>')
        for k, (name, vs) in enumerate(series):
            v = max(vs[i], Decimal(0))
            h = float(v) / vmax * plot_h
            out.append(f'<rect x="{gx + k * bar_w:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
                       f'height="{h:.1f}" fill="{PALETTE[(k * 3) % len(PALETTE)]}">'
                       f'<title>{escape(name)} {escape(lab)}: {_fmt(v)}</title></rect>')
    for k, (name, _) in enumerate(series):
        out.append(f'<rect x="{left + 10 + k * 150}" y="6" width="12" height="12" fill="{PALETTE[(k * 3) % len(PALETTE)]}"/>'
                   f'<text x="{left + 26 + k * 150}" y="16" font-size="11">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
