"""Stripe charges that name their invoice only through what they paid, on DuckDB and Postgres.

Real integrations rarely put the ERP's invoice number in the charge's own metadata: Stripe Invoicing writes it on
the Stripe invoice (metadata, custom fields, footer) and the charge only points at that invoice (``charge.invoice``
on API versions before 2025-03-31, an ``invoice_payment`` listing its PaymentIntent since); Checkout and Payment
Links put it on the PaymentIntent. Rows are Stripe's wire objects (docs.stripe.com/api) as the connector loads them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lettrage.config import WarehouseConfig
from warehouse.reconcile import reconcile

from .raw_book import _fec, built_raw_book

AS_OF = date(2025, 3, 1)


def _invoice(entry: str, number: str, amount: str) -> list[dict[str, Any]]:
    return [_fec(entry, "VE", 1, "411000", "C001", number, date(2025, 2, 1), amount, "0.00"),
            _fec(entry, "VE", 2, "706000", "", number, date(2025, 2, 1), "0.00", amount)]


def _charge(charge_id: str, amount: int, intent: str, invoice: str | None) -> dict[str, Any]:
    return {"id": charge_id, "entity": "FR01", "object": "charge", "amount": amount, "amount_captured": amount,
            "amount_refunded": 0, "currency": "eur", "created": 1739001600, "customer": "cus_9",
            "description": "Payment for Invoice", "status": "succeeded", "paid": True, "refunded": False,
            "disputed": False, "balance_transaction": None, "payment_intent": intent, "invoice": invoice,
            "failure_code": None, "billing_details": {"name": "ACME SAS"}, "payment_method_details": {"type": "card"}}


CHARGES = [_charge("ch_si", 50000, "pi_31", "in_31"),   # Stripe Invoicing, an API version naming the invoice
           _charge("ch_pi", 70000, "pi_32", None),      # Checkout: the number on the PaymentIntent
           _charge("ch_new", 90000, "pi_33", None),     # Stripe Invoicing since 2025-03-31: an invoice payment
           _charge("ch_mirror", 30000, "pi_34", "in_34")]  # an ERP that mirrors Stripe keeps Stripe's own number
INVOICES = [
    {"id": "in_31", "entity": "FR01", "object": "invoice", "number": "8F2A1C-0007", "customer": "cus_9",
     "status": "paid", "created": 1738990000, "currency": "eur", "amount_paid": 50000, "description": None,
     "footer": None, "custom_fields": '[{"name": "Facture", "value": "FA-2025-000031"}]', "metadata": {}},
    {"id": "in_33", "entity": "FR01", "object": "invoice", "number": "8F2A1C-0008", "customer": "cus_9",
     "status": "paid", "created": 1738990000, "currency": "eur", "amount_paid": 90000, "description": "Services",
     "footer": "Référence de votre facture : FA-2025-000033", "custom_fields": None, "metadata": {}},
    {"id": "in_34", "entity": "FR01", "object": "invoice", "number": "8F2A1C-0009", "customer": "cus_9",
     "status": "paid", "created": 1738990000, "currency": "eur", "amount_paid": 30000, "description": None,
     "footer": None, "custom_fields": None, "metadata": {}},
]
INTENTS = [
    {"id": "pi_31", "entity": "FR01", "object": "payment_intent", "created": 1739001500, "customer": "cus_9",
     "description": None, "status": "succeeded", "latest_charge": "ch_si", "metadata": {}},
    {"id": "pi_32", "entity": "FR01", "object": "payment_intent", "created": 1739001500, "customer": None,
     "description": "Checkout", "status": "succeeded", "latest_charge": "ch_pi",
     "metadata": {"invoice_number": "FA-2025-000032"}},
]
INVOICE_PAYMENTS = [{"id": "inpay_33", "entity": "FR01", "object": "invoice_payment", "invoice": "in_33",
                     "created": 1739001600, "status": "paid", "amount_paid": 90000,
                     "payment": {"type": "payment_intent", "payment_intent": "pi_33"}}]


def test_a_charge_names_the_invoice_its_stripe_invoice_or_payment_intent_names(
        warehouse_config: WarehouseConfig) -> None:
    fec = [*_invoice("31", "FA-2025-000031", "500.00"), *_invoice("32", "FA-2025-000032", "700.00"),
           *_invoice("33", "FA-2025-000033", "900.00"), *_invoice("34", "8F2A1C-0009", "300.00")]
    more = {"raw_stripe_charges": CHARGES, "raw_stripe_invoices": INVOICES, "raw_stripe_payment_intents": INTENTS,
            "raw_stripe_invoice_payments": INVOICE_PAYMENTS}
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=fec, more_rows=more) as engine:
        reconcile(engine, as_of=AS_OF)
        paid = engine.query("SELECT m.payment_id, i.invoice_number, m.amount_applied, m.state FROM fct_match AS m "
                            "JOIN fct_invoice AS i ON i.invoice_id = m.invoice_id "
                            "WHERE m.payment_id IN ('ch_si', 'ch_pi', 'ch_new', 'ch_mirror') ORDER BY 1")
        mirror_rule = engine.query("SELECT rule FROM fct_match WHERE payment_id = 'ch_mirror'")
        open_ = engine.query("SELECT invoice_number, amount_open FROM fct_invoice WHERE invoice_number IN "
                             "('FA-2025-000031', 'FA-2025-000032', 'FA-2025-000033') ORDER BY 1")
    assert mirror_rule == [("exact_reference",)]  # by the number, not found by customer and amount
    assert paid == [("ch_mirror", "8F2A1C-0009", Decimal("300.00"), "auto"),
                    ("ch_new", "FA-2025-000033", Decimal("900.00"), "auto"),
                    ("ch_pi", "FA-2025-000032", Decimal("700.00"), "auto"),
                    ("ch_si", "FA-2025-000031", Decimal("500.00"), "auto")]
    assert open_ == [("FA-2025-000031", Decimal("0.00")), ("FA-2025-000032", Decimal("0.00")),
                     ("FA-2025-000033", Decimal("0.00"))]


def _stripe_invoice(invoice_id: str, number: str, total: int, starting: int, ending: int) -> dict[str, Any]:
    due = max(total + starting - ending, 0)
    return {"id": invoice_id, "entity": "FR01", "object": "invoice", "number": number, "customer": "cus_9",
            "status": "paid", "created": 1738990000, "currency": "eur", "total": total, "amount_due": due,
            "amount_paid": due, "starting_balance": starting, "ending_balance": ending, "description": None,
            "footer": None, "custom_fields": None, "metadata": {}}


def test_a_credit_note_on_a_paid_invoice_is_used_by_stripe_on_the_next_invoices(
        warehouse_config: WarehouseConfig) -> None:
    """The ERP mirrors Stripe: 8F2A1C-0010 paid by card, then a credit note "sur facture 8F2A1C-0010" credited to
    the customer's Stripe balance (350.00), which Stripe used on the next invoices: 8F2A1C-0011 (300.00) paid from
    the balance alone, no charge; 8F2A1C-0012 (80.00) 50.00 from the balance and a charge of 30.00. Each invoice
    says so (starting_balance, ending_balance). Before, the credit note credited the paid invoice (its charge then
    overpaid it) and the two next invoices stayed owed."""
    cn = [_fec("CN", "VE", 1, "411000", "C001", "8F2A1C-0010-CN-01", date(2025, 1, 20), "0.00", "350.00"),
          _fec("CN", "VE", 2, "706000", "", "8F2A1C-0010-CN-01", date(2025, 1, 20), "350.00", "0.00")]
    for line in cn:
        line["ecriture_lib"] = "Avoir sur facture 8F2A1C-0010"
    fec = [*_invoice("A", "8F2A1C-0010", "500.00"), *cn, *_invoice("B", "8F2A1C-0011", "300.00"),
           *_invoice("C", "8F2A1C-0012", "80.00")]
    for line in fec[:2]:
        line["ecriture_date"] = line["piece_date"] = line["valid_date"] = date(2025, 1, 10)
    charges = [{**_charge("ch_a", 50000, "pi_a", "in_a"), "created": 1736500000},   # 2025-01-10
               _charge("ch_c", 3000, "pi_c", "in_c")]
    invoices = [_stripe_invoice("in_a", "8F2A1C-0010", 50000, 0, 0),
                _stripe_invoice("in_b", "8F2A1C-0011", 30000, -35000, -5000),
                _stripe_invoice("in_c", "8F2A1C-0012", 8000, -5000, 0)]
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=fec,
                        more_rows={"raw_stripe_charges": charges, "raw_stripe_invoices": invoices}) as engine:
        used = engine.query("SELECT i.invoice_number, a.amount FROM int_invoice_balance_applications AS a "
                            "JOIN int_invoices AS i ON i.invoice_id = a.invoice_id ORDER BY 1")
        for incremental in (False, True):
            reconcile(engine, as_of=AS_OF, incremental=incremental)
            state = engine.query("SELECT invoice_number, amount_open, status FROM fct_invoice "
                                 "WHERE invoice_number LIKE '8F2A1C-001%' ORDER BY 1")
            applied = engine.query("SELECT m.payment_id, i.invoice_number, m.amount_applied, m.rule FROM fct_match AS m "
                                   "JOIN fct_invoice AS i ON i.invoice_id = m.invoice_id "
                                   "WHERE i.invoice_number LIKE '8F2A1C-001%' AND m.state = 'auto' ORDER BY 2, 1")
            assert state == [("8F2A1C-0010", Decimal("0.00"), "paid"),
                             ("8F2A1C-0010-CN-01", Decimal("0.00"), "paid"),
                             ("8F2A1C-0011", Decimal("0.00"), "credited"),
                             ("8F2A1C-0012", Decimal("0.00"), "credited")]
            cn_id = [p for p, n, _, r in applied if r == "credit_note"][0]
            assert applied == [("ch_a", "8F2A1C-0010", Decimal("500.00"), "exact_reference"),
                               (cn_id, "8F2A1C-0011", Decimal("300.00"), "credit_note"),
                               (cn_id, "8F2A1C-0012", Decimal("50.00"), "credit_note"),
                               ("ch_c", "8F2A1C-0012", Decimal("30.00"), "exact_reference")]
    assert used == [("8F2A1C-0011", Decimal("300.00")), ("8F2A1C-0012", Decimal("50.00"))]
