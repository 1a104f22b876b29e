"""The dunning tables, described as sqlmodel classes and created through the engine seam.

    dunning_outbox        one row per outgoing message: intent → sending → sent (or review / failed)
    dunning_outbox_item   one row per (entity, object, step) the message covers; the UNIQUE key that
                          makes a step happen at most once (object = invoice, customer or account owner)
    dunning_run           one row per non-dry run, for the freshness guard and the digest windows
    fct_dunning_action    the contract's history table (+ message_id, reason, amounts, paid_on)

DDL goes through :func:`warehouse.schema.ensure_table` so it is identical on DuckDB and Postgres.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, get_args

from sqlmodel import Field, SQLModel

from warehouse.contract import BOOL, BY_NAME, DATE, INT, MONEY, TEXT, TS
from warehouse.engine import Engine
from warehouse.schema import ensure_contract, ensure_table

STATES = ("intent", "sending", "sent", "review", "failed")


class OutboxMessage(SQLModel, table=True):
    """One message; its id is derived from the outbox keys it covers (also its SMTP Message-ID)."""

    __tablename__ = "dunning_outbox"

    message_id: str = Field(primary_key=True)
    entity: str
    customer_id: str | None = None
    kind: str
    step: str
    channel: str
    language: str
    recipients: str
    subject: str
    body: str
    currency: str | None = None
    amount_total: Decimal | None = Field(default=None, max_digits=18, decimal_places=2)
    pay_link: str | None = None
    payload_json: str | None = None
    state: str
    attempts: int = 0
    created_at: datetime
    sending_at: datetime | None = None
    sent_at: datetime | None = None
    server_response: str | None = None
    detail: str | None = None
    as_of: date


class OutboxItem(SQLModel, table=True):
    """(entity, object_id, step) is unique: the step of that invoice (customer, owner) happens once."""

    __tablename__ = "dunning_outbox_item"

    entity: str = Field(primary_key=True)
    object_id: str = Field(primary_key=True)
    step: str = Field(primary_key=True)
    message_id: str
    created_at: datetime


class DunningRun(SQLModel, table=True):
    __tablename__ = "dunning_run"

    run_id: str = Field(primary_key=True)
    entity: str
    as_of: date
    started_at: datetime
    finished_at: datetime | None = None
    summary_json: str | None = None


ACTION_EXTRA: tuple[tuple[str, str], ...] = (
    ("message_id", TEXT), ("reason", TEXT), ("amount_open", MONEY), ("currency", TEXT), ("paid_on", DATE),
)


def _logical(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    base = args[0]
    return {Decimal: MONEY, datetime: TS, date: DATE, int: INT, bool: BOOL}.get(base, TEXT)


def model_columns(model: type[SQLModel]) -> list[tuple[str, str]]:
    return [(name, _logical(f.annotation)) for name, f in model.model_fields.items()]


def ensure_dunning_tables(engine: Engine) -> None:
    """Idempotent: creates the tables, the unique keys and the contract's history table."""
    if not engine.table_exists("fct_dunning_action"):
        ensure_contract(engine)
    ensure_table(engine, "fct_dunning_action", BY_NAME["fct_dunning_action"].columns + ACTION_EXTRA)
    for model in (OutboxMessage, OutboxItem, DunningRun):
        name = str(model.__tablename__)
        ensure_table(engine, name, model_columns(model))
    engine.execute("CREATE UNIQUE INDEX IF NOT EXISTS dunning_outbox_pk ON dunning_outbox (message_id)")
    engine.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS dunning_outbox_item_pk ON dunning_outbox_item (entity, object_id, step)")
