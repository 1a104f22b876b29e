"""``python -m actions.dunning.demo [--as-of YYYY-MM-DD]``: today's reminders on the demo warehouse, as a dry run.

Reads the warehouse the demo built (``LETTRAGE__WAREHOUSE_URL``, default ./warehouse.duckdb)
and lists, per invoice, the step and the reason; sends nothing.
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime

from rich.console import Console
from rich.table import Table

from actions.dunning.run import RunReport, run_reminders
from warehouse.engine import Engine, connect


def dry_run_reports(engine: Engine, entities: list[str] | None, as_of: date) -> list[RunReport]:
    if not entities:
        entities = [str(r[0]) for r in engine.query("SELECT DISTINCT entity FROM fct_invoice ORDER BY 1")]
    return [run_reminders(engine, e, as_of=as_of, now=datetime.now(UTC), dry_run=True) for e in entities]


def print_dry_run(entities: list[str] | None, as_of: date, *, show_skipped: bool = False,
                  console: Console | None = None) -> list[RunReport]:
    console = console or Console()
    with connect(read_only=True) as engine:
        reports = dry_run_reports(engine, entities, as_of)
    for report in reports:
        table = Table("customer", "invoice", "due", "open", "action", "step", "reason",
                      title=f"{report.entity} — reminders for {as_of} (dry run)")
        for row in report.rows():
            if row["action"] == "skip" and not show_skipped:
                continue
            table.add_row(row["customer_name"] or row["customer_id"], row["invoice_number"], row["due_date"],
                          f"{row['amount_open']} {row['currency']}", row["action"], row["step"] or "", row["reason"])
        if report.stale:
            console.print(f"[yellow]{report.stale}[/]")
        console.print(table)
        console.print(f"  {report.summary()}")
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--as-of", default=None)
    parser.add_argument("--entity", action="append")
    parser.add_argument("--all", action="store_true", help="also list skipped invoices")
    args = parser.parse_args(argv)
    as_of = date.fromisoformat(args.as_of) if args.as_of else date.today()
    print_dry_run(args.entity, as_of, show_skipped=args.all)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
