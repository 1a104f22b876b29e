"""Changes to raw tables that dlt cannot make on its own, run before every load and every build.

dlt adds a new column to a table it loaded before, but not one it must keep non-null (a primary key
column): ``ALTER TABLE ... ADD COLUMN ... NOT NULL`` fails on the rows already there. Each migration
here adds such a column as nullable and fills it from what the rows hold, so the next load finds it
and merges on it. Once done, each costs a catalogue look-up and a probe for rows still to fill, so
calling them before every pipeline run costs next to nothing.
"""

from __future__ import annotations

import logging

from mappings.entities import load_entities
from warehouse.engine import Engine

log = logging.getLogger("lettrage.warehouse")


def _closing_date(day: str, year_end: str) -> str:
    """SQL: the last day of the fiscal year ending on ``year_end`` (MM-DD) that the date ``day`` falls in."""
    month_day = int(year_end.replace("-", ""))
    return (f"CAST(CAST(CAST(extract(year FROM {day}) AS INTEGER) + CASE WHEN "
            f"CAST(extract(month FROM {day}) AS INTEGER) * 100 + CAST(extract(day FROM {day}) AS INTEGER) > {month_day} "
            f"THEN 1 ELSE 0 END AS TEXT) || '-{year_end}' AS DATE)")


def fec_fiscal_year(engine: Engine) -> None:
    """``raw_sage_fec_lines.fiscal_year`` (part of the key since FEC entries are numbered anew each year):
    for lines loaded before, the closing date of the fiscal year their entry date falls in, by the
    entity's ``fiscal_year_end`` (mappings/entities.yaml), as the connector dates new lines."""
    if not engine.table_exists("raw_sage_fec_lines"):
        return
    if "fiscal_year" not in engine.columns("raw_sage_fec_lines"):
        engine.execute(f'ALTER TABLE raw_sage_fec_lines ADD COLUMN fiscal_year {engine.type_of("date")}')
    elif not engine.query("SELECT 1 FROM raw_sage_fec_lines WHERE fiscal_year IS NULL LIMIT 1"):
        return
    _drop_stale_staging_table(engine, "raw_sage_fec_lines", "fiscal_year")
    ends = {e.code: e.fiscal_year_end for e in load_entities().entities if e.fiscal_year_end != "12-31"}
    closing = (" ".join(["CASE entity", *(f"WHEN '{code}' THEN {_closing_date('ecriture_date', end)}"
                                         for code, end in sorted(ends.items())),
                         f"ELSE {_closing_date('ecriture_date', '12-31')} END"])
               if ends else _closing_date("ecriture_date", "12-31"))
    engine.execute(f"UPDATE raw_sage_fec_lines SET fiscal_year = {closing} WHERE fiscal_year IS NULL")
    log.info("raw_sage_fec_lines: fiscal_year filled in for lines loaded before it was kept")


def _drop_stale_staging_table(engine: Engine, table: str, column: str) -> None:
    """dlt merges through a copy of ``table`` in the ``<dataset>_staging`` schema, which it keeps between
    loads; one made before ``column`` existed would refuse it just the same. It is scratch space, made
    again by the next load: dropped."""
    staging = f"{engine.dataset}_staging"
    exists, has_column = (int(n) for n in engine.query(
        "SELECT (SELECT count(*) FROM information_schema.tables WHERE table_schema = :s AND table_name = :t), "
        "(SELECT count(*) FROM information_schema.columns WHERE table_schema = :s AND table_name = :t "
        "AND column_name = :c)", {"s": staging, "t": table, "c": column})[0])
    if exists and not has_column:
        engine.execute(f'DROP TABLE "{staging}"."{table}"')


# Nullable columns a connector declares since a later version: dlt adds them at the next load that writes
# the table, but the build runs on what is there (a night with nothing new from B1 writes no invoice).
NEW_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "raw_sap_b1_invoices": (("doc_total_fc", "money"), ("paid_to_date_fc", "money"), ("cancel_status", "text")),
    "raw_sap_b1_credit_notes": (("doc_total_fc", "money"), ("paid_to_date_fc", "money"), ("cancel_status", "text")),
    "raw_sap_b1_incoming_payments": (("cash_sum", "money"), ("checks_sum", "money"), ("cards_sum", "money")),
    "raw_sap_b1_business_partners": (("iban", "text"),),
    "raw_sap_b1_payment_invoices": (("applied_fc", "money"),),
    "raw_sage_fec_customers": (("currency", "text"), ("payment_terms", "text")),
    "raw_netsuite_customers": (("firstname", "text"), ("lastname", "text"), ("isperson", "text")),
    "raw_netsuite_transactions": (("posting", "text"), ("voided", "text")),
    "raw_sap_export_items": (("special_gl", "text"), ("doc_status", "text"), ("invoice_ref", "text"),
                             ("invoice_ref_year", "bigint")),
}


def new_nullable_columns(engine: Engine) -> None:
    """Add :data:`NEW_COLUMNS` missing from raw tables loaded before (NULL: what the old rows did not say)."""
    for table, columns in NEW_COLUMNS.items():
        have = engine.columns(table)  # (empty: the table does not exist, nothing to migrate)
        if not have:
            continue
        for name, logical in columns:
            if name not in have:
                engine.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {engine.type_of(logical)}')
                log.info("%s: column %s added (loaded before the connector read it)", table, name)


MIGRATIONS = (fec_fiscal_year, new_nullable_columns)


def migrate_raw(engine: Engine) -> None:
    """Run every migration (each a no-op once done)."""
    for migration in MIGRATIONS:
        migration(engine)
