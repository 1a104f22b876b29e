"""Build the warehouse layers from whatever ``raw_*`` tables exist.

    raw_*  --staging-->  stg_<source>__<shape>   (rename, cast, categorise; one per source and shape)
           --core----->  int_*, dim_*, fct_*     (union of sources, payout <-> bank line, payments)
           --reconcile-> fct_match, fct_reconciliation_exception, fct_invoice
           --marts---->  mart_*

Each step is a plain function over an :class:`~warehouse.engine.Engine`; flows
call them in order and tests call them without Prefect. Every table is rebuilt
in one transaction per step, so a crash leaves the previous build readable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from functools import partial

from mappings.bank_codes import load_bank_codes
from mappings.entities import load_entities
from mappings.factoring import load_factoring
from mappings.matching import MatchingRules, load_matching_rules
from mappings.providers import load_provider_metadata
from mappings.sage_fec import load_fec_conventions
from warehouse import sql
from warehouse.contract import BY_NAME
from warehouse.engine import Engine
from warehouse.migrations import migrate_raw
from warehouse.schema import ensure_contract, ensure_table
from warehouse.shapes import SHAPES

log = logging.getLogger(__name__)

# Core models run in this order; each fills the table of the same name.
CORE_ORDER: tuple[str, ...] = (
    "int_invoices",
    "int_invoice_aliases",
    "int_erp_credit_applications",
    "int_erp_settlements",
    "int_bills",
    "int_erp_receipts",
    "dim_customer",
    "fct_bank_line",
    "int_payout_bank_links",
    "fct_payout",
    "fct_payout_component",
    "fct_payment",
    "int_payment_refunds",
    "int_credit_note_refunds",
    "int_invoice_balance_applications",
    "int_mandates",
)
# Core models that are not contract tables get their columns from a shape.
CORE_SHAPES: dict[str, str] = {"int_invoices": "invoices", "int_invoice_aliases": "invoice_aliases",
                               "int_erp_settlements": "erp_settlements",
                               "int_erp_credit_applications": "erp_credit_applications",
                               "int_erp_receipts": "erp_receipts", "int_bills": "bills",
                               "int_payment_refunds": "payment_refunds", "int_mandates": "mandates",
                               "int_credit_note_refunds": "credit_note_refunds",
                               "int_invoice_balance_applications": "invoice_balance_applications"}


@dataclass
class BuildReport:
    staging: dict[str, int] = field(default_factory=dict)
    missing_sources: list[str] = field(default_factory=list)
    core: dict[str, int] = field(default_factory=dict)
    marts: dict[str, int] = field(default_factory=dict)


def _cast_select(engine: Engine, columns: tuple[tuple[str, str], ...], inner: str) -> str:
    cols = ",\n  ".join(f'CAST(m."{c}" AS {engine.type_of(t)}) AS "{c}"' for c, t in columns)
    return f"SELECT\n  {cols}\nFROM (\n{inner}\n) AS m"


def _empty_select(engine: Engine, columns: tuple[tuple[str, str], ...]) -> str:
    cols = ", ".join(f'CAST(NULL AS {engine.type_of(t)}) AS "{c}"' for c, t in columns)
    return f"SELECT {cols} WHERE 1 = 0"


def _replace_table(engine: Engine, name: str, select_sql: str) -> int:
    with engine.transaction():
        engine.execute(f'DROP TABLE IF EXISTS "{name}"')
        engine.execute(f'CREATE TABLE "{name}" AS {select_sql}')
    engine.analyze(name)
    return int(engine.query(f'SELECT count(*) FROM "{name}"')[0][0])


def _fill_contract_table(engine: Engine, name: str, select_sql: str) -> int:
    table = BY_NAME[name]
    cols = ", ".join(f'"{c}"' for c in table.column_names)
    with engine.transaction():
        engine.execute(f'DELETE FROM "{name}"')
        engine.execute(f'INSERT INTO "{name}" ({cols}) {select_sql}')
    engine.analyze(name)
    return int(engine.query(f'SELECT count(*) FROM "{name}"')[0][0])


# Defaults used when mappings do not say otherwise.
DEFAULT_CONTEXT: dict[str, object] = {
    "fec_default_terms": 30,
    "sap_payment_doc_types": "'DZ', 'ZP', 'DA'",
    "provider_payer_names": ("STRIPE", "GOCARDLESS"),
    "payout_days_before": 3,
    "payout_days_after": 7,
}


def _context(engine: Engine, **extra: object) -> dict[str, object]:
    context: dict[str, object] = dict(DEFAULT_CONTEXT)
    context["has"] = engine.table_exists
    context["has_column"] = lambda table, column: column in engine.columns(table)
    context["metadata_cols"] = partial(_metadata_columns, engine)
    context["providers"] = load_provider_metadata()
    bank_codes = load_bank_codes()
    context["not_customer_money"] = bank_codes.not_customer_money
    context["refund_transfers"] = bank_codes.refunds
    context["tax_refunds"] = bank_codes.tax_refunds
    # every entity's own bank accounts (compacted IBANs, letters and digits only: safe as SQL literals)
    context["own_ibans"] = sorted(i for i in load_entities().by_iban() if i.isalnum())
    # the factors' accounts and names (mappings/factoring.yaml): their advances and reserve releases are the
    # factor's money, reconciled by actions/factoring from the bank lines, never a customer's payment
    factors = [c.counterparty for c in load_factoring().contracts]
    context["factor_ibans"] = sorted({i.replace(" ", "").upper() for f in factors for i in f.ibans
                                      if i.replace(" ", "").isalnum()})
    context["factor_names"] = sorted({n.upper().replace("'", "''") for f in factors for n in f.names})
    context["fec_conventions"] = load_fec_conventions()
    rules = load_matching_rules()
    context["erp_window"] = partial(_erp_window, rules)
    context["payout_days_before"] = rules.windows.payout_bank_days_before
    context["payout_days_after"] = rules.windows.payout_bank_days_after
    context["union"] = union_of
    context.update(extra)
    return context


def _erp_window(rules: MatchingRules, entity_col: str, side: str) -> str:
    """Days the ERP may book a receipt ``before`` or ``after`` the bank (matching.yaml erp.receipt_days_*_bank),
    return a collected bill (``bill_return``: erp.bill_return_days), or book a receipt in the last days before
    the bank and provider data begin whose bank credit follows (``before_data``: erp.receipt_before_data_days), as SQL: a literal, or a CASE over the
    entities whose override changes it."""
    attr = {"before": "receipt_days_before_bank", "after": "receipt_days_after_bank",
            "bill_return": "bill_return_days", "before_data": "receipt_before_data_days"}[side]
    default = int(getattr(rules.erp, attr))
    own = {e: int(getattr(rules.for_entity(e).erp, attr)) for e in sorted(rules.entities)}
    return sql.per_entity(entity_col, {e: n for e, n in own.items() if n != default}, default)


def _metadata_columns(engine: Engine, table: str, alias: str, keys: tuple[str, ...]) -> list[str]:
    """``alias.metadata__<key>`` for each of ``keys`` that ``table`` has a column for, in order (staging
    models read provider metadata through mappings/providers.yaml; a key never loaded has no column)."""
    have = engine.columns(table)
    return [f"{alias}.metadata__{k}" for k in keys if f"metadata__{k}" in have]


def staging_models(shape: str | None = None) -> list[sql.Model]:
    models = sql.discover("staging")
    return [m for m in models if shape is None or m.shape == shape]


def build_staging(engine: Engine, report: BuildReport | None = None) -> BuildReport:
    """Materialise every ``stg_*`` model, typed to its shape; empty when its source never loaded."""
    report = report or BuildReport()
    migrate_raw(engine)  # raw tables loaded by an older connector get the columns the models read
    models = staging_models()
    # (what the loads just wrote, with statistics before the models read it: engine.analyze)
    engine.analyze(*sorted({t for m in models for t in m.requires}))
    for model in models:
        if model.shape is None:
            raise ValueError(f"{model.path}: staging model declares no '-- shape:'")
        columns = SHAPES[model.shape]
        missing = [t for t in model.requires if not engine.table_exists(t)]
        if missing:
            report.missing_sources.append(model.name)
            select_sql = _empty_select(engine, columns)
        else:
            select_sql = _cast_select(engine, columns, sql.render_model(model, engine.name, **_context(engine)))
        report.staging[model.name] = _replace_table(engine, model.name, select_sql)
    return report


def union_of(shape: str) -> str:
    """SQL that unions every staging model of ``shape`` (used by core models as ``{{ union('invoices') }}``)."""
    names = [m.name for m in staging_models(shape)]
    cols = ", ".join(f'"{c}"' for c, _ in SHAPES[shape])
    return "\nUNION ALL\n".join(f'SELECT {cols} FROM "{n}"' for n in names)


def build_core(engine: Engine, *, as_of: date, report: BuildReport | None = None) -> BuildReport:
    report = report or BuildReport()
    ensure_contract(engine)
    models = {m.name: m for m in sql.discover("core")}
    for name in CORE_ORDER:
        model = models[name]
        inner = sql.render_model(model, engine.name, **_context(engine, as_of=as_of.isoformat()))
        if name in BY_NAME:
            table = BY_NAME[name]
            report.core[name] = _fill_contract_table(engine, name, _cast_select(engine, table.columns, inner))
        elif name in CORE_SHAPES:
            report.core[name] = _replace_table(engine, name, _cast_select(engine, SHAPES[CORE_SHAPES[name]], inner))
        else:
            report.core[name] = _replace_table(engine, name, inner)
    return report


def build_marts(engine: Engine, *, as_of: date, report: BuildReport | None = None) -> BuildReport:
    """Refresh every ``mart_*`` contract table as of ``as_of``."""
    report = report or BuildReport()
    ensure_contract(engine)
    # (the marts read the refunds standing beside the payouts' refund lines: empty on a book built by hand)
    ensure_table(engine, "int_payment_refunds", SHAPES["payment_refunds"])
    _warn_entities_without_currency(engine)
    for model in sql.discover("marts"):
        inner = sql.render_model(model, engine.name, **_context(engine, as_of=as_of.isoformat()))
        table = BY_NAME[model.name]
        report.marts[model.name] = _fill_contract_table(engine, model.name, _cast_select(engine, table.columns, inner))
    return report


def _warn_entities_without_currency(engine: Engine) -> None:
    """An entity the data holds but ``entities.yaml`` does not list has no currency of its own: every amount the marts
    give in the entity's currency is NULL for it, its credit exposure 0 and its collection KPIs empty. Said once per
    build, by name, rather than found by whoever wonders why one entity's exposure is nil."""
    listed = set(load_entities().codes())
    unlisted = sorted({str(r[0]) for r in engine.query("SELECT DISTINCT entity FROM fct_invoice")} - listed)
    if unlisted:
        log.warning("entities %s are not in entities.yaml (%s): their marts have no entity currency (amounts in it "
                    "NULL, credit exposure 0, collection KPIs empty); add them with their currency",
                    ", ".join(unlisted), ", ".join(sorted(listed)) or "none listed")


def build_all(engine: Engine, *, as_of: date) -> tuple[BuildReport, object]:
    """Staging, core, reconciliation and marts in order: what the nightly flow runs after loading.

    Returns the build report and the reconciliation summary. The flows call the
    steps one by one (one Prefect task each); tests and benchmarks call this.
    """
    from warehouse.reconcile import reconcile

    report = build_staging(engine, BuildReport())
    build_core(engine, as_of=as_of, report=report)
    summary = reconcile(engine, as_of=as_of)
    build_marts(engine, as_of=as_of, report=report)
    return report, summary
