"""Prefect artifacts of a run: what ops see in the UI afterwards.

Tables are shaped by ``lettrage.orchestration`` (unit-tested); this module only
reads the warehouse and publishes. Everything published goes through masking.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from lettrage import orchestration as orch
from lettrage.logging import mask_text
from warehouse.engine import Engine, connect
from warehouse.summary import aged_balance, fmt_money, match_stats, open_receivables, unapplied_cash

NEW_EXCEPTIONS_SQL = """
SELECT entity, kind, count(*) AS n, sum(coalesce(amount, 0)) AS amount
FROM fct_reconciliation_exception
WHERE resolved_at IS NULL AND opened_at >= :since
GROUP BY entity, kind
ORDER BY entity, kind
"""


def new_exceptions(engine: Engine, since: datetime) -> list[dict[str, Any]]:
    """Exceptions opened by this run (reconciliation keeps the first ``opened_at`` of older ones)."""
    if not engine.table_exists("fct_reconciliation_exception"):
        return []
    return engine.query_dicts(NEW_EXCEPTIONS_SQL, {"since": since})


def _receivables_markdown(title: str, summary: dict[str, Any], encours: list[dict[str, Any]],
                          aged: list[dict[str, Any]], unapplied: dict[tuple[str, str], Decimal]) -> str:
    lines = [f"# {title}", "", f"As of {summary['as_of']}."]
    if summary.get("window"):
        lines.append(f"Window re-pulled: {summary['window'][0]} .. {summary['window'][1]}.")
    if summary.get("failed"):
        lines += ["", "## Failed sources", ""] + [f"- **{k}**: {v}" for k, v in sorted(summary["failed"].items())]
    lines += ["", "## Open receivables", "",
              "| entity | currency | not due | overdue | partially paid | disputed | total | unapplied cash "
              "| net of unapplied |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in encours:
        cash = unapplied.get((r["entity"], r["currency"]), Decimal(0))
        lines.append(f"| {r['entity']} | {r['currency']} | {fmt_money(r['not_due'])} | {fmt_money(r['overdue'])} | "
                     f"{fmt_money(r['partially_paid'])} | {fmt_money(r['disputed'])} | {fmt_money(r['total'])} | "
                     f"{fmt_money(cash)} | {fmt_money(r['total'] - cash)} |")
    lines += ["", "## Aged balance", "", "| entity | currency | not due | 1-30 | 31-60 | 61-90 | >90 |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for r in aged:
        lines.append(f"| {r['entity']} | {r['currency']} | {fmt_money(r['not_due'])} | {fmt_money(r['d1_30'])} | "
                     f"{fmt_money(r['d31_60'])} | {fmt_money(r['d61_90'])} | {fmt_money(r['over_90'])} |")
    return mask_text("\n".join(lines))


def publish_run_artifacts(kind: str, summary: dict[str, Any], *, since: datetime) -> dict[str, Any]:
    """Rows loaded per source, match rate, new exceptions and the receivables; returns what was published."""
    published: dict[str, Any] = {}
    if "loaded" in summary:
        rows = orch.rows_loaded_table(summary["loaded"], summary.get("failed", {}))
        create_table_artifact(key=f"{kind}-rows-loaded", table=rows, description="Rows loaded per source")
        published["rows_loaded"] = rows
    with connect(read_only=True) as engine:
        stats = match_stats(engine) if engine.table_exists("fct_match") else []
        fresh = new_exceptions(engine, since)
        encours = open_receivables(engine)
        aged = aged_balance(engine)
        unapplied = unapplied_cash(engine)
    rates = orch.match_rate_table(stats)
    create_table_artifact(key=f"{kind}-match-rate", table=rates, description="Cash payments applied to invoices")
    exceptions = orch.exceptions_table(fresh)
    create_table_artifact(key=f"{kind}-new-exceptions", table=exceptions or [{"entity": "", "kind": "none", "count": 0,
                                                                               "amount": "0.00"}],
                          description="Exceptions opened by this run, per entity and kind")
    markdown = _receivables_markdown(f"{kind.capitalize()} run", summary, encours, aged, unapplied)
    create_markdown_artifact(key=f"{kind}-receivables", markdown=markdown,
                             description="Headline receivables")
    published.update(match_rate=rates, new_exceptions=exceptions)
    return published


def publish_sync_artifacts(summary: dict[str, Any]) -> None:
    """First-version entry point, kept for callers: the nightly artifacts."""
    publish_run_artifacts("nightly", summary, since=datetime.fromisoformat(summary.get("started_at")
                                                                           or "1970-01-01T00:00:00+00:00"))
