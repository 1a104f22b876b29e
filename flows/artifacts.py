"""Prefect artifacts of a sync: what ops see in the UI after each run."""

from __future__ import annotations

from typing import Any

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from lettrage.logging import mask_text
from warehouse.engine import connect
from warehouse.summary import aged_balance, fmt_money, match_stats, open_receivables


def publish_sync_artifacts(summary: dict[str, Any]) -> None:
    rows = [
        {"source": f"{r['source']}/{r['entity']}", "rows": r["rows"], "quarantined": r["quarantined"],
         "seconds": r["seconds"]}
        for r in summary["loaded"]
    ] + [{"source": name, "rows": "FAILED", "quarantined": "", "seconds": ""} for name in summary["failed"]]
    create_table_artifact(key="rows-loaded", table=rows, description="Rows loaded per source")
    with connect(read_only=True) as engine:
        stats = match_stats(engine)
        encours = open_receivables(engine)
        aged = aged_balance(engine)
    create_table_artifact(
        key="match-rate",
        table=[{**s, "match_rate": f"{(s['matched'] / s['payments'] * 100 if s['payments'] else 0):.1f}%"}
               for s in stats],
        description="Payments matched automatically",
    )
    lines = ["# Receivables as of " + summary["as_of"], "", "| entity | currency | not due | overdue | partially paid | disputed | total |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in encours:
        lines.append(f"| {r['entity']} | {r['currency']} | {fmt_money(r['not_due'])} | {fmt_money(r['overdue'])} | "
                     f"{fmt_money(r['partially_paid'])} | {fmt_money(r['disputed'])} | {fmt_money(r['total'])} |")
    lines += ["", "## Aged balance", "", "| entity | not due | 1-30 | 31-60 | 61-90 | >90 |", "|---|---:|---:|---:|---:|---:|"]
    for r in aged:
        lines.append(f"| {r['entity']} | {fmt_money(r['not_due'])} | {fmt_money(r['d1_30'])} | {fmt_money(r['d31_60'])} | "
                     f"{fmt_money(r['d61_90'])} | {fmt_money(r['over_90'])} |")
    if summary["failed"]:
        lines += ["", "## Failed sources", ""] + [f"- {k}: {mask_text(v)}" for k, v in summary["failed"].items()]
    create_markdown_artifact(key="receivables", markdown="\n".join(lines), description="Headline receivables")
