"""The inline SVG charts: proportions, links and escaping."""

from __future__ import annotations

import re
from decimal import Decimal

from desk.charts import Segment, line_chart, stacked_bar


def test_stacked_bar_widths_follow_the_amounts_and_link_to_rows() -> None:
    svg = stacked_bar([("EUR", [Segment("not_due", Decimal("300"), "/rows?bucket=not_due"),
                                Segment("1_30", Decimal("100"), "/rows?bucket=1_30"),
                                Segment("over_90", Decimal("0"), "/rows?bucket=over_90")])])
    widths = [float(w) for w in re.findall(r'<a href="[^"]+"><rect x="[\d.]+" y="\d+" width="([\d.]+)"', svg)]
    assert len(widths) == 2 and abs(widths[0] / widths[1] - 3) < 0.01
    assert 'href="/rows?bucket=not_due"' in svg and "bucket=over_90" not in svg


def test_labels_are_escaped() -> None:
    svg = stacked_bar([("<b>", [Segment("not_due", Decimal("1"), "/x?a=1&b=2")])])
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "/x?a=1&amp;b=2" in svg


def test_line_chart_points_and_empty_history() -> None:
    svg = line_chart([("2026-09-30", Decimal("40")), ("2026-10-31", Decimal("80"))],
                     href_for={"2026-10-31": "/e/FR01?as_of=2026-10-31"})
    assert svg.count("<circle") == 2 and 'href="/e/FR01?as_of=2026-10-31"' in svg
    assert "no DSO history" in line_chart([("2026-09-30", None)])
