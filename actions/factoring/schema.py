"""The tables factoring owns, described as sqlmodel classes, created through the engine seam.

    factoring_batch        the outbox: one bordereau, state planned → built → uploaded → confirmed
    factoring_batch_item   its invoices; primary key (entity, invoice_id): the database itself
                           refuses an invoice in two batches, on DuckDB and on Postgres
    factoring_settlement   the factor's bank lines, tied to a batch (derived; rebuilt each run)
    factoring_settlement_item  the assigned invoices each of those lines names (derived, same run)
    factoring_exception    items for a person, e.g. ``paid_to_us_factored`` (deterministic ids)

The sqlmodel classes are the single description (types, keys); DDL and writes go
through :mod:`warehouse.engine` so the same code runs on both engines.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args

from sqlmodel import Field, SQLModel

from warehouse.contract import BOOL, DATE, INT, MONEY, RATIO, TEXT, TS
from warehouse.engine import Engine
from warehouse.schema import ensure_contract, ensure_table

BATCH_STATES: tuple[str, ...] = ("planned", "built", "uploaded", "confirmed")


class FactoringBatch(SQLModel, table=True):
    """One assignment batch (bordereau de cession): the outbox row written before anything leaves."""

    __tablename__ = "factoring_batch"

    batch_id: str = Field(primary_key=True)
    entity: str
    factor: str
    contract_id: str
    as_of: date
    state: str
    invoice_count: int
    currency: str
    amount: Decimal = Field(max_digits=18, decimal_places=2)
    advance_amount: Decimal = Field(max_digits=18, decimal_places=2)
    reserve_amount: Decimal = Field(max_digits=18, decimal_places=2)
    commission: Decimal = Field(max_digits=18, decimal_places=2)
    financing_fee: Decimal = Field(max_digits=18, decimal_places=2)
    net_advance: Decimal = Field(max_digits=18, decimal_places=2)
    advance_rate: Decimal = Field(max_digits=9, decimal_places=4)
    manifest_name: str | None = None
    manifest_sha256: str | None = None
    files_json: str | None = None
    remote_dir: str | None = None
    planned_at: datetime
    built_at: datetime | None = None
    uploaded_at: datetime | None = None
    confirmed_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None


class FactoringBatchItem(SQLModel, table=True):
    """One invoice of one batch, priced as the bordereau shows it."""

    __tablename__ = "factoring_batch_item"

    entity: str = Field(primary_key=True)
    invoice_id: str = Field(primary_key=True)
    batch_id: str
    line_no: int
    invoice_number: str
    customer_id: str
    customer_name: str | None = None
    customer_vat_id: str | None = None
    customer_siren: str | None = None
    customer_country: str | None = None
    issue_date: date
    due_date: date
    currency: str
    amount: Decimal = Field(max_digits=18, decimal_places=2)
    advance_amount: Decimal = Field(max_digits=18, decimal_places=2)
    reserve_amount: Decimal = Field(max_digits=18, decimal_places=2)
    commission: Decimal = Field(max_digits=18, decimal_places=2)
    financing_fee: Decimal = Field(max_digits=18, decimal_places=2)
    financing_days: int


class FactoringSettlement(SQLModel, table=True):
    """One bank line from the factor, classified and tied to the batch it pays."""

    __tablename__ = "factoring_settlement"

    entity: str = Field(primary_key=True)
    bank_line_id: str = Field(primary_key=True)
    factor: str
    contract_id: str
    batch_id: str | None = None
    kind: str                      # advance | reserve_release | fee | transfer | debit | unallocated
    booking_date: date | None = None
    amount: Decimal = Field(max_digits=18, decimal_places=2)
    currency: str | None = None
    expected_amount: Decimal | None = Field(default=None, max_digits=18, decimal_places=2)
    difference: Decimal | None = Field(default=None, max_digits=18, decimal_places=2)
    remittance: str | None = None


class FactoringSettlementItem(SQLModel, table=True):
    """One assigned invoice a factor bank line names: a reserve released because the factor collected it,
    or our transfer on to the factor of a payment of it we received."""

    __tablename__ = "factoring_settlement_item"

    entity: str = Field(primary_key=True)
    bank_line_id: str = Field(primary_key=True)
    invoice_id: str = Field(primary_key=True)
    batch_id: str
    kind: str


class FactoringException(SQLModel, table=True):
    """Something about factored receivables that needs a person (e.g. a payment to transfer)."""

    __tablename__ = "factoring_exception"

    entity: str = Field(primary_key=True)
    exception_id: str = Field(primary_key=True)
    kind: str
    batch_id: str | None = None
    invoice_id: str | None = None
    payment_id: str | None = None
    bank_line_id: str | None = None
    amount: Decimal | None = Field(default=None, max_digits=18, decimal_places=2)
    currency: str | None = None
    detail: str | None = None
    opened_at: datetime
    resolved_at: datetime | None = None


TABLES: tuple[type[SQLModel], ...] = (FactoringBatch, FactoringBatchItem, FactoringSettlement, FactoringSettlementItem,
                                      FactoringException)
_RATIO_COLUMNS = {"advance_rate"}


def _logical(name: str, annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    base = args[0]
    if base is Decimal:
        return RATIO if name in _RATIO_COLUMNS else MONEY
    if base is datetime:
        return TS
    if base is date:
        return DATE
    if base is bool:
        return BOOL
    if base is int:
        return INT
    return TEXT


def columns_of(model: type[SQLModel]) -> list[tuple[str, str]]:
    """Logical columns of a sqlmodel class, in declaration order."""
    return [(name, _logical(name, f.annotation)) for name, f in model.model_fields.items()]


def primary_key(model: type[SQLModel]) -> list[str]:
    return [c.name for c in model.__table__.primary_key.columns]  # type: ignore[attr-defined]


def ensure_factoring_tables(engine: Engine) -> None:
    """Contract tables plus ours, with primary keys (idempotent; adds missing columns)."""
    ensure_contract(engine)
    for model in TABLES:
        name = model.__tablename__
        cols = columns_of(model)
        if not engine.table_exists(str(name)):
            ddl = ",\n  ".join(f'"{c}" {engine.type_of(t)}' for c, t in cols)
            pk = ", ".join(f'"{c}"' for c in primary_key(model))
            engine.execute(f'CREATE TABLE IF NOT EXISTS "{name}" (\n  {ddl},\n  PRIMARY KEY ({pk})\n)')
        else:
            ensure_table(engine, str(name), cols)


def insert_row(engine: Engine, row: SQLModel) -> None:
    data = row.model_dump()
    cols = ", ".join(f'"{c}"' for c in data)
    marks = ", ".join(f":{c}" for c in data)
    engine.execute(f'INSERT INTO "{row.__tablename__}" ({cols}) VALUES ({marks})', data)


def insert_rows(engine: Engine, rows: list[SQLModel], chunk: int = 200) -> None:
    """Multi-row INSERT in chunks (row-at-a-time is slow on both engines)."""
    if not rows:
        return
    table = rows[0].__tablename__
    names = list(rows[0].model_dump())
    cols = ", ".join(f'"{c}"' for c in names)
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        params: dict[str, Any] = {}
        values = []
        for n, r in enumerate(part):
            d = r.model_dump()
            values.append("(" + ", ".join(f":{c}_{n}" for c in names) + ")")
            params.update({f"{c}_{n}": d[c] for c in names})
        engine.execute(f'INSERT INTO "{table}" ({cols}) VALUES {", ".join(values)}', params)
