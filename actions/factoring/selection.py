"""Proposing a batch: gather facts in the warehouse, apply the contract, price the lines.

Nothing here writes: :func:`propose` is what a dry run shows and what
:func:`actions.factoring.outbox.plan_batch` records.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from actions.factoring.eligibility import Candidate, decide
from actions.factoring.pricing import BatchPrice, LinePrice, price_line, total
from actions.factoring.schema import ensure_factoring_tables
from actions.in_transit import invoices_in_transit
from mappings.dunning import load_dunning_rules
from mappings.factoring import FactorContract
from warehouse.engine import Engine
from warehouse.reconcile.decisions import disputed_now_sql, pending_write_off_sql

SQL_DIR = Path(__file__).parent / "sql"


def read_sql(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


def _dec(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def gather_candidates(engine: Engine, entity: str, as_of: date) -> list[Candidate]:
    """Every open invoice of ``entity`` with the facts the rules need (one query)."""
    rows = engine.query_dicts(read_sql("candidates.sql"), {"entity": entity, "as_of": as_of})
    pending: set[str] = set()
    disputed: set[str] | None = None
    if engine.table_exists("decision"):
        # write-off requests from the desk, not yet settled
        pending = {str(r[0]) for r in engine.query(
            f"SELECT i.invoice_id FROM fct_invoice AS i WHERE i.entity = :entity AND {pending_write_off_sql('i')}",
            {"entity": entity})}
        # in dispute now: as the last reconcile saw it, a dispute recorded since (never sold), unless a person
        # closed it since (the latest decision wins)
        disputed = {str(r[0]) for r in engine.query(
            f"SELECT i.invoice_id FROM fct_invoice AS i WHERE i.entity = :entity AND {disputed_now_sql(engine, 'i')}",
            {"entity": entity})}
    lookback = as_of - timedelta(days=load_dunning_rules().thresholds.in_transit_lookback_days)
    coming = invoices_in_transit(engine, entity, lookback)
    return [
        Candidate(
            entity=r["entity"], invoice_id=r["invoice_id"], invoice_number=r["invoice_number"],
            customer_id=r["customer_id"], customer_name=r["customer_name"], vat_id=r["vat_id"], siren=r["siren"],
            country=r["country"], payment_terms_days=None if r["payment_terms_days"] is None else int(r["payment_terms_days"]),
            segment=r["segment"], score=_dec(r["score"]), issue_date=r["issue_date"], due_date=r["due_date"],
            currency=r["currency"], amount_total=Decimal(str(r["amount_total"])),
            amount_open=Decimal(str(r["amount_open"])), disputed=bool(r["disputed"]) if disputed is None else r["invoice_id"] in disputed,
            credit_noted=bool(r["credit_noted"]), partially_paid=bool(r["partially_paid"]),
            already_assigned=bool(r["already_assigned"]), write_off_requested=r["invoice_id"] in pending,
            in_transit=coming.get(r["invoice_id"]),
        )
        for r in rows
    ]


def outstanding_by_customer(engine: Engine, contract: FactorContract, entity: str) -> dict[str, Decimal]:
    rows = engine.query(read_sql("outstanding.sql"), {"contract_id": contract.contract_id, "entity": entity})
    return {str(c): Decimal(str(v or 0)) for c, v in rows}


def batch_id_for(contract_id: str, entity: str, invoice_ids: list[str]) -> str:
    """Deterministic: the same contract, entity and invoices always give the same id.

    That is what lets a re-run after a crash find its own batch (locally or on the
    factor's server) instead of sending a second one.
    """
    digest = hashlib.sha256("|".join([contract_id, entity, *sorted(invoice_ids)]).encode()).hexdigest()
    return f"FB{entity}{digest[:12].upper()}"


@dataclass
class Proposal:
    """What a batch would hold, what it would bring in, and why the rest stays out."""

    contract: FactorContract
    entity: str
    as_of: date
    selected: list[Candidate] = field(default_factory=list)
    refused: list[Candidate] = field(default_factory=list)
    lines: list[LinePrice] = field(default_factory=list)
    outstanding: dict[str, Decimal] = field(default_factory=dict)

    @property
    def batch_id(self) -> str | None:
        if not self.selected:
            return None
        return batch_id_for(self.contract.contract_id, self.entity, [c.invoice_id for c in self.selected])

    @property
    def price(self) -> BatchPrice:
        return total(self.lines)

    @property
    def reasons(self) -> dict[str, int]:
        return dict(Counter(c.reason or "?" for c in self.refused))

    def summary(self) -> dict[str, object]:
        p = self.price
        return {
            "contract_id": self.contract.contract_id, "factor": self.contract.factor, "entity": self.entity,
            "as_of": self.as_of.isoformat(), "batch_id": self.batch_id, "invoices": len(self.selected),
            "customers": len({c.customer_id for c in self.selected}), "currency": self.contract.currency,
            "amount": str(p.amount), "advance_amount": str(p.advance), "reserve_amount": str(p.reserve),
            "commission": str(p.commission), "financing_fee": str(p.financing_fee),
            "net_advance": str(p.net_advance), "refused": self.reasons,
        }


def propose(engine: Engine, contract: FactorContract, entity: str, as_of: date) -> Proposal:
    """Select and price the invoices ``contract`` would take from ``entity`` today (no writes)."""
    ensure_factoring_tables(engine)
    candidates = gather_candidates(engine, entity, as_of)
    outstanding = outstanding_by_customer(engine, contract, entity)
    selected, refused = decide(candidates, contract, as_of, outstanding)
    lines = [price_line(c.amount_open, contract.currency, c.due_date, as_of, contract.pricing) for c in selected]
    return Proposal(contract=contract, entity=entity, as_of=as_of, selected=selected, refused=refused,
                    lines=lines, outstanding=outstanding)
