"""Tiny hand-built books for reconciliation tests, on DuckDB and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from lettrage.config import WarehouseConfig
from warehouse.engine import Engine, connect
from warehouse.reconcile.schema import ensure_reconcile_tables
from warehouse.schema import ensure_table
from warehouse.shapes import SHAPES

AS_OF = date(2024, 6, 30)


@dataclass
class Book:
    """Insert helpers with sensible defaults, so each test states only what matters."""

    engine: Engine
    entity: str = "FR01"

    def _insert(self, table: str, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        self.engine.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + c for c in row)})", row)

    def customer(self, customer_id: str, name: str, iban: str | None = None) -> None:
        self._insert("dim_customer", {"entity": self.entity, "customer_id": customer_id, "name": name, "iban": iban,
                                      "source_system": "test", "source_id": customer_id})

    def invoice(self, invoice_id: str, amount: str, *, number: str | None = None, customer: str = "C1",
                issue: date = date(2024, 5, 1), due: date = date(2024, 5, 31), doc_type: str = "invoice",
                currency: str = "EUR", erp_lettrage: str | None = None, erp_open: str | None = None,
                disputed: bool = False, description: str | None = None) -> None:
        self._insert("int_invoices", {
            "entity": self.entity, "invoice_id": invoice_id, "invoice_number": number or invoice_id,
            "customer_id": customer, "doc_type": doc_type, "issue_date": issue, "due_date": due, "currency": currency,
            "amount_total": Decimal(amount), "erp_amount_open": Decimal(erp_open) if erp_open else None,
            "disputed": disputed, "erp_lettrage": erp_lettrage, "description": description, "source_system": "test",
            "source_id": invoice_id})

    def payment(self, payment_id: str, amount: str, reference: str | None = None, *, customer: str | None = None,
                channel: str = "bank_transfer", status: str = "succeeded", paid_on: date = date(2024, 6, 10),
                payer_name: str | None = None, payer_iban: str | None = None, currency: str = "EUR",
                failure_reason: str | None = None) -> None:
        self._insert("fct_payment", {
            "entity": self.entity, "payment_id": payment_id, "channel": channel, "customer_id": customer,
            "amount": Decimal(amount), "fee": Decimal("0"), "currency": currency, "paid_on": paid_on,
            "status": status, "reference": reference, "payer_name": payer_name, "payer_iban": payer_iban,
            "failure_reason": failure_reason, "source_system": "test", "source_id": payment_id})

    def erp_settled(self, invoice_id: str, receipt_id: str, settled_on: date, code: str,
                    received: str | None = None) -> None:
        """What warehouse/models/core/int_erp_settlements.sql derives from the ERP's receipts and lettrage."""
        self._insert("int_erp_settlements", {"entity": self.entity, "invoice_id": invoice_id, "payment_id": receipt_id,
                                             "settled_on": settled_on, "erp_lettrage": code,
                                             "received": Decimal(received) if received else None})

    def erp_receipt(self, receipt_id: str, amount: str, *, customer: str, movement: str, booked: date,
                    code: str | None = None, label: str | None = None, bank: str | None = None) -> None:
        """One customer line of a receipt the ERP booked (a FEC bank-journal line on 411): in fct_payment as
        the ERP's payment, and in int_erp_receipts with its bank movement (``bank``: what the entry books on
        the bank account, when it differs from its customer lines), label and lettrage code, as the build
        (warehouse/models/core/int_erp_receipts.sql) writes them."""
        label = label or f"VIR {customer}"
        self.payment(receipt_id, amount, label, customer=customer, channel="erp", paid_on=booked)
        self._insert("int_erp_receipts", {"entity": self.entity, "payment_id": receipt_id, "movement_id": movement,
                                          "customer_id": customer, "currency": "EUR", "amount": Decimal(amount),
                                          "paid_on": booked, "erp_lettrage": code, "reference": label,
                                          "movement_amount": Decimal(bank) if bank else None})

    def payout(self, payout_id: str, amount: str, *, bank_line_id: str | None = None, status: str = "paid",
               arrival: date = date(2024, 6, 1), components: list[tuple[str, str]] | None = None) -> None:
        self._insert("fct_payout", {"entity": self.entity, "payout_id": payout_id, "amount": Decimal(amount),
                                    "fees": Decimal("0"), "currency": "EUR", "arrival_date": arrival,
                                    "status": status, "bank_line_id": bank_line_id, "source_system": "test",
                                    "source_id": payout_id})
        for n, (amt, fee) in enumerate(components or []):
            self._insert("fct_payout_component", {
                "entity": self.entity, "payout_id": payout_id, "component_id": f"{payout_id}/{n}",
                "kind": "charge", "payment_id": None, "amount": Decimal(amt), "fee": Decimal(fee), "currency": "EUR",
                "source_system": "test", "source_id": f"{payout_id}/{n}"})

    def refund(self, refund_id: str, payment_id: str, amount: str, *, payout_id: str = "po_refunds",
               kind: str = "refund") -> None:
        """A refund of ``payment_id`` in a provider's payout, as fct_payout_component holds it (negative; a
        negative ``amount`` for money coming back: Stripe's ``refund_failure``, GoCardless's
        ``refund_funds_returned``)."""
        self._insert("fct_payout_component", {
            "entity": self.entity, "payout_id": payout_id, "component_id": refund_id, "kind": kind,
            "payment_id": payment_id, "amount": -Decimal(amount), "fee": Decimal("0"), "currency": "EUR",
            "source_system": "test", "source_id": refund_id})

    # -- reading ---------------------------------------------------------------------
    def matches(self, *, states: tuple[str, ...] = ("auto", "confirmed")) -> list[dict[str, Any]]:
        marks = ", ".join(f"'{s}'" for s in states)
        return self.engine.query_dicts(
            f"SELECT * FROM fct_match WHERE state IN ({marks}) ORDER BY payment_id, invoice_id")

    def pairs(self, *, states: tuple[str, ...] = ("auto", "confirmed")) -> set[tuple[str, str, Decimal]]:
        return {(m["payment_id"], m["invoice_id"], Decimal(m["amount_applied"])) for m in self.matches(states=states)}

    def invoice_state(self, invoice_id: str) -> tuple[str, Decimal]:
        row = self.engine.query("SELECT status, amount_open FROM fct_invoice WHERE invoice_id = :i", {"i": invoice_id})
        return str(row[0][0]), Decimal(row[0][1])

    def exceptions(self, *, open_only: bool = True) -> list[dict[str, Any]]:
        where = " WHERE resolved_at IS NULL" if open_only else ""
        return self.engine.query_dicts(f"SELECT * FROM fct_reconciliation_exception{where} ORDER BY exception_id")

    def exception_kinds(self) -> dict[str | None, str]:
        """payment (or payout/bank line/invoice) id -> kind of its open exception."""
        return {(e["payment_id"] or e["payout_id"] or e["bank_line_id"] or e["invoice_id"]): e["kind"]
                for e in self.exceptions()}


@contextmanager
def open_book(config: WarehouseConfig) -> Iterator[Book]:
    """An empty FR01 book on a fresh warehouse, with the tables a hand-built book writes into.

    A context manager as well as the ``book`` fixture, so other suites' fixtures (the desk's)
    can fill a book their own way without repeating the table set-up.
    """
    with connect(config) as engine:
        ensure_reconcile_tables(engine)
        ensure_table(engine, "int_invoices", SHAPES["invoices"])
        yield Book(engine)


@pytest.fixture
def book(warehouse_config: WarehouseConfig) -> Iterator[Book]:
    with open_book(warehouse_config) as b:
        yield b
