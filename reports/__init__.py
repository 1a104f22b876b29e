"""Reports finance would rather look at than read: HTML per entity and an Excel workbook.

Everything is read from the warehouse marts (never recomputed here); charts are
inline SVG drawn server-side, so a report opens offline with no CDN.
"""

from __future__ import annotations

from reports.backtest import forecast_backtest
from reports.render import render_reports

__all__ = ["forecast_backtest", "render_reports"]
