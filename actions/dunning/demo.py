"""``python -m actions.dunning.demo [--as-of YYYY-MM-DD]``: today's reminders on the demo warehouse, as a dry run.

Reads the warehouse the demo built (``LETTRAGE__WAREHOUSE_URL``, default ./warehouse.duckdb)
and lists, per invoice, the step and the reason; sends nothing.
"""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, date, datetime

from rich.console import Console
from rich.table import Table

from actions.dunning.run import RunReport, run_reminders
from lettrage.errors import EntitiesFailed
from lettrage.orchestration import describe_error
from warehouse.engine import Engine, connect

log = logging.getLogger("lettrage.dunning")


def dry_run_reports(engine: Engine, entities: list[str] | None, as_of: date,
                    failed: dict[str, str] | None = None) -> list[RunReport]:
    """Each entity's dry run; with ``failed``, an entity whose run raises is named there with its reason and the
    others still run (one entity's template error had left every entity's list unprinted)."""
    if not entities:
        entities = [str(r[0]) for r in engine.query("SELECT DISTINCT entity FROM fct_invoice ORDER BY 1")]
    reports = []
    for e in entities:
        try:
            reports.append(run_reminders(engine, e, as_of=as_of, now=datetime.now(UTC), dry_run=True))
        except Exception as exc:
            if failed is None:
                raise
            log.exception("%s: the reminders dry run failed", e)
            failed[e] = describe_error(exc)
    return reports


def print_dry_run(entities: list[str] | None, as_of: date, *, show_skipped: bool = False,
                  console: Console | None = None) -> list[RunReport]:
    console = console or Console()
    failed: dict[str, str] = {}
    with connect(read_only=True) as engine:
        reports = dry_run_reports(engine, entities, as_of, failed)
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
    if failed:
        raise EntitiesFailed("reminders (dry run)", failed, {r.entity: r for r in reports}, len(reports) + len(failed))
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
