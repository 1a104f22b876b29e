"""``render_reports``: one HTML report per entity and one Excel workbook (a sheet per mart).

Reads the marts as they stand (build them first, e.g. ``warehouse.marts.refresh_marts``).
The HTML is self-contained: inline CSS and server-side SVG charts, no script, no CDN.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2

from reports import charts
from reports.backtest import forecast_backtest
from warehouse.contract import AGING_BUCKETS, CONTRACT
from warehouse.engine import Engine
from warehouse.summary import entity_dso

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates"
BUCKET_LABELS = {"not_due": "not due", "1_30": "1-30 d", "31_60": "31-60 d", "61_90": "61-90 d", "over_90": "> 90 d"}


@dataclass
class ReportFiles:
    html: dict[str, Path] = field(default_factory=dict)
    workbook: Path | None = None


def _money(value: Any) -> str:
    return "" if value is None else f"{Decimal(value):,.2f}"


def _pct(value: Any) -> str:
    return "" if value is None else f"{Decimal(value) * 100:.1f} %"


def _entity_context(engine: Engine, entity: str, as_of: date) -> dict[str, Any]:
    p = {"e": entity}
    aged = engine.query_dicts(
        "SELECT customer_id, max(customer_name) AS name, bucket, currency, sum(amount_open) AS amount "
        "FROM mart_aged_balance WHERE entity = :e GROUP BY customer_id, bucket, currency", p)
    totals: dict[tuple[str, str], Decimal] = {}
    names: dict[str, str] = {}
    by_bucket: dict[tuple[str, str, str], Decimal] = {}
    for r in aged:
        key = (r["customer_id"], r["currency"])
        totals[key] = totals.get(key, Decimal(0)) + Decimal(r["amount"])
        names[r["customer_id"]] = r["name"] or r["customer_id"]
        by_bucket[(r["customer_id"], r["currency"], r["bucket"])] = Decimal(r["amount"])
    top = sorted(totals, key=lambda k: totals[k], reverse=True)[:12]
    aged_svg = charts.stacked_bars(
        [f"{names[c]} ({ccy})" for c, ccy in top],
        [(BUCKET_LABELS[b], [by_bucket.get((c, ccy, b), Decimal(0)) for c, ccy in top]) for b in AGING_BUCKETS],
    ) if top else ""
    aged_totals = engine.query_dicts(
        "SELECT currency, bucket, sum(amount_open) AS amount FROM mart_aged_balance WHERE entity = :e "
        "GROUP BY currency, bucket", p)
    aged_table: dict[str, dict[str, Decimal]] = {}
    for r in aged_totals:
        aged_table.setdefault(r["currency"], {})[r["bucket"]] = Decimal(r["amount"])

    # (the whole entity in its currency: mart_dso_entity; the per-currency rows are in the workbook)
    dso = entity_dso(engine, entity)
    dso_svg = ""
    if dso:
        dso_svg = charts.lines([r["month_end"].strftime("%b %y") for r in dso],
                               [("count-back", [r["dso_countback"] for r in dso]),
                                ("simple (90 d)", [r["dso_simple"] for r in dso])], unit=" d")
    backtest = [r for r in forecast_backtest(engine, as_of) if r["entity"] == entity]
    backtest_svg = charts.grouped_bars(
        [r["month_end"].strftime("%b %y") + f" {r['currency']}" for r in backtest],
        [("forecast 30 d", [r["forecast"] for r in backtest]), ("actual", [r["actual"] for r in backtest])],
    ) if backtest else ""
    forecast = engine.query_dicts(
        "SELECT horizon_days, currency, expected_cash, open_amount FROM mart_cash_forecast "
        "WHERE entity = :e AND period = 'horizon' ORDER BY currency, horizon_days", p)
    top_overdue = engine.query_dicts(
        "SELECT a.customer_id, max(a.customer_name) AS name, a.currency, sum(a.amount_open) AS overdue, "
        "max(x.segment) AS segment, max(x.score) AS score, max(x.flag_reason) AS flag "
        "FROM mart_aged_balance AS a LEFT JOIN mart_credit_exposure AS x "
        "  ON x.entity = a.entity AND x.customer_id = a.customer_id "
        "WHERE a.entity = :e AND a.bucket <> 'not_due' GROUP BY a.customer_id, a.currency "
        "HAVING sum(a.amount_open) > 0 ORDER BY sum(a.amount_open) DESC LIMIT 10", p)
    exceptions = engine.query_dicts(
        "SELECT kind, count(*) AS n, sum(amount) AS amount, min(opened_at) AS oldest "
        "FROM fct_reconciliation_exception WHERE entity = :e AND resolved_at IS NULL "
        "GROUP BY kind ORDER BY count(*) DESC", p)
    exception_items = engine.query_dicts(
        "SELECT exception_id, kind, amount, currency, detail, opened_at FROM fct_reconciliation_exception "
        "WHERE entity = :e AND resolved_at IS NULL ORDER BY amount DESC LIMIT 15", p)
    kpis = engine.query_dicts("SELECT * FROM mart_collection_kpis WHERE entity = :e ORDER BY month DESC LIMIT 6", p)
    impairment = engine.query_dicts(
        "SELECT month_end, currency, sum(provision_total) AS total, sum(movement) AS movement "
        "FROM mart_receivables_impairment WHERE entity = :e GROUP BY month_end, currency "
        "ORDER BY month_end DESC LIMIT 3", p)
    return {
        "entity": entity, "as_of": as_of, "aged_svg": aged_svg, "aged_table": aged_table, "buckets": AGING_BUCKETS,
        "bucket_labels": BUCKET_LABELS, "dso": dso[-1] if dso else None, "dso_svg": dso_svg,
        "backtest": backtest, "backtest_svg": backtest_svg, "forecast": forecast, "top_overdue": top_overdue,
        "exceptions": exceptions, "exception_items": exception_items, "kpis": kpis, "impairment": impairment,
    }


def _excel_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # Excel has no time zones; instants are UTC
    return value


def write_workbook(engine: Engine, path: Path) -> Path:
    """One sheet per mart, header row first, values typed (numbers stay numbers, dates stay dates).

    Every ``mart_*`` table of the contract, those of CONTRACT.md first, then the extensions
    (predictions, unapplied cash, match rate): what finance can query, finance can open in Excel.
    """
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    if wb.active is not None:  # a new workbook comes with one empty sheet; each mart brings its own
        wb.remove(wb.active)
    for table in (t for t in CONTRACT if t.name.startswith("mart_")):
        ws = wb.create_sheet(table.name.removeprefix("mart_")[:31])
        cols = [c for c in table.column_names if c != "_loaded_at"]
        ws.append(cols)
        if engine.table_exists(table.name):
            order = ", ".join(f'"{c}"' for c in table.key)
            col_sql = ", ".join(f'"{c}"' for c in cols)
            for row in engine.query(f'SELECT {col_sql} FROM "{table.name}" ORDER BY {order}'):
                ws.append([_excel_value(v) for v in row])
        ws.freeze_panes = "A2"
        for i, c in enumerate(cols, start=1):
            ws.column_dimensions[get_column_letter(i)].width = max(12, len(c) + 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def render_reports(engine: Engine, out_dir: Path, as_of: date) -> ReportFiles:
    """Write ``<entity>.html`` per entity found in the marts and ``lettrage-<as_of>.xlsx``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["money"] = _money
    env.filters["pct"] = _pct
    template = env.get_template("entity_report.html.j2")
    entities = sorted({r[0] for r in engine.query(
        "SELECT entity FROM mart_open_receivables UNION SELECT entity FROM mart_dso "
        "UNION SELECT entity FROM mart_collection_kpis")})
    files = ReportFiles()
    for entity in entities:
        html = template.render(**_entity_context(engine, entity, as_of), generated_at=datetime.now().isoformat(
            timespec="seconds"))
        path = out_dir / f"{entity}.html"
        path.write_text(html, encoding="utf-8")
        files.html[entity] = path
        log.info("report for %s written to %s", entity, path)
    files.workbook = write_workbook(engine, out_dir / f"lettrage-{as_of.isoformat()}.xlsx")
    return files
