"""Stripe as settled, on DuckDB and Postgres: converted charges, refunds before their payout, failed payouts.

Rows are Stripe's wire objects (docs.stripe.com/api: charge, balance_transaction, refund, payout, event), loaded
with dlt as the connector loads them (nested objects become ``parent__child`` columns) on top of the tiny book.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from lettrage.config import WarehouseConfig
from warehouse.build import build_marts
from warehouse.engine import Engine
from warehouse.reconcile import reconcile

from .raw_book import BANK, _fec, built_raw_book

AS_OF = date(2025, 3, 1)
NIGHT_OF_2025_02_10 = "1739232500.123456"  # a dlt load id: when the payouts were listed


def _charge(charge_id: str, amount: int, currency: str, invoice: str, txn: str) -> dict[str, Any]:
    return {"id": charge_id, "object": "charge", "amount": amount, "amount_captured": amount, "amount_refunded": 0,
            "currency": currency, "created": 1739001600, "customer": "cus_9", "description": f"Invoice {invoice}",
            "status": "succeeded", "paid": True, "captured": True, "refunded": False, "disputed": False,
            "balance_transaction": txn, "payment_intent": f"pi_{charge_id}", "failure_code": None,
            "billing_details": {"name": "ACME SAS"}, "payment_method_details": {"type": "card"},
            "metadata": {"invoice_number": invoice, "erp_customer_id": "C001"}}


# FX: a customer of the EUR book pays FA-2025-000009 (850.00 EUR) by card in USD: Stripe charged USD 1,000.00
# and settled 850.00 EUR (exchange_rate 0.85), its fee 38.45 in EUR
FX_CHARGE = _charge("ch_fx", 100000, "usd", "FA-2025-000009", "txn_fx")
FX_TXN = {"id": "txn_fx", "object": "balance_transaction", "payout": "po_fx", "amount": 85000, "fee": 3845,
          "net": 81155, "currency": "eur", "exchange_rate": 0.85, "created": 1739001600, "available_on": 1739174400,
          "reporting_category": "charge", "type": "charge", "source": "ch_fx", "status": "available"}
FX_PAYOUT = {"id": "po_fx", "object": "payout", "amount": 81155, "currency": "eur", "arrival_date": 1739318400,
             "created": 1739232000, "status": "paid", "statement_descriptor": "STRIPE po_fx",
             "balance_transaction": "txn_po_fx", "failure_code": None}
FX_BANK_LINE = {**BANK[1], "bank_line_id": "B_FX", "amount": Decimal("811.55"), "remittance_unstructured": "STRIPE po_fx"}


def _invoice(entry: str, number: str, amount: str, devise: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    return [_fec(entry, "VE", 1, "411000", "C001", number, date(2025, 2, 1), amount, "0.00", devise=devise),
            _fec(entry, "VE", 2, "706000", "", number, date(2025, 2, 1), "0.00", amount, devise=devise)]


@contextmanager
def _built(config: WarehouseConfig, *, fec: Sequence[dict[str, Any]] = (),
           stripe: dict[str, list[dict[str, Any]]] | None = None, edits: tuple[str, ...] = (),
           bank: tuple[dict[str, Any], ...] = ()) -> Iterator[Engine]:
    """The tiny book plus ``stripe`` rows appended to ``raw_stripe_<table>``, raw tables edited, built."""
    # (the connector tags every row with its entity)
    more = {f"raw_stripe_{table}": [{**row, "entity": "FR01"} for row in rows] for table, rows in (stripe or {}).items()}
    with built_raw_book(config, as_of=AS_OF, edits=edits, more_fec_lines=fec, more_bank_lines=bank,
                        more_rows=more) as engine:
        yield engine


def test_a_charge_stripe_converted_is_the_money_it_settled(warehouse_config: WarehouseConfig) -> None:
    """USD 1,000.00 charged, 850.00 EUR settled: the EUR book's payment is 850.00 EUR (fee 38.45 EUR), the USD
    kept beside it, and it pays FA-2025-000009 (the book has no USD invoice)."""
    with _built(warehouse_config, fec=_invoice("20", "FA-2025-000009", "850.00"), bank=(FX_BANK_LINE,),
                stripe={"charges": [FX_CHARGE], "balance_transactions": [FX_TXN], "payouts": [FX_PAYOUT]}) as engine:
        payment = engine.query_dicts("SELECT amount, fee, currency, instructed_amount, instructed_currency "
                                     "FROM fct_payment WHERE payment_id = 'ch_fx'")
        reconcile(engine, as_of=AS_OF)
        build_marts(engine, as_of=AS_OF)
        matched = engine.query("SELECT i.invoice_number, m.amount_applied, m.currency, m.state FROM fct_match AS m "
                               "JOIN fct_invoice AS i ON i.invoice_id = m.invoice_id WHERE m.payment_id = 'ch_fx'")
        invoice = engine.query("SELECT status, amount_open FROM fct_invoice WHERE invoice_number = 'FA-2025-000009'")
        raised = engine.query("SELECT kind FROM fct_reconciliation_exception WHERE payment_id = 'ch_fx'")
        unapplied = engine.query("SELECT count(*) FROM mart_unapplied_cash WHERE currency = 'USD'")
    assert payment == [{"amount": Decimal("850.00"), "fee": Decimal("38.45"), "currency": "EUR",
                        "instructed_amount": Decimal("1000.00"), "instructed_currency": "USD"}]
    assert matched == [("FA-2025-000009", Decimal("850.00"), "EUR", "auto")]
    assert invoice == [("paid", Decimal("0.00"))]
    assert raised == []
    assert unapplied == [(0,)]


def test_a_converted_charge_naming_an_invoice_in_its_own_currency_pays_it_in_that_currency(
        warehouse_config: WarehouseConfig) -> None:
    """The same charge naming a USD invoice of the book (USD 1,000.00 booked 850.00 EUR): the invoice owes USD,
    so the payment is the USD charged, its fee at the charge's rate (38.45 EUR = 45.24 USD)."""
    charge = _charge("ch_fx", 100000, "usd", "FA-2025-000010", "txn_fx")
    with _built(warehouse_config, fec=_invoice("21", "FA-2025-000010", "850.00", ("1000.00", "USD")),
                bank=(FX_BANK_LINE,),
                stripe={"charges": [charge], "balance_transactions": [FX_TXN], "payouts": [FX_PAYOUT]}) as engine:
        payment = engine.query_dicts("SELECT amount, fee, currency, instructed_amount, instructed_currency "
                                     "FROM fct_payment WHERE payment_id = 'ch_fx'")
        reconcile(engine, as_of=AS_OF)
        invoice = engine.query("SELECT status, amount_open FROM fct_invoice WHERE invoice_number = 'FA-2025-000010'")
    assert payment == [{"amount": Decimal("1000.00"), "fee": Decimal("45.24"), "currency": "USD",
                        "instructed_amount": Decimal("1000.00"), "instructed_currency": "USD"}]
    assert invoice == [("paid", Decimal("0.00"))]


def _refund(status: str) -> dict[str, Any]:
    return {"id": "re_1", "object": "refund", "amount": 2500, "balance_transaction": "txn_re_1", "charge": "ch_1",
            "created": 1739100000, "currency": "eur", "metadata": {}, "payment_intent": "pi_1",
            "reason": "requested_by_customer", "receipt_number": None, "status": status}


# ch_1 (100.00 EUR) pays FA-2025-000002 of the tiny book's customer C001
CH_1_PAYS = (_invoice("22", "FA-2025-000002", "100.00"),
             ("UPDATE raw_stripe_charges SET metadata__erp_customer_id = 'C001' WHERE id = 'ch_1'",))


@pytest.mark.parametrize(("status", "still_open"), [
    ("succeeded", "25.00"), ("pending", "25.00"), ("requires_action", "25.00"), ("failed", "0.00"),
    ("canceled", "0.00"),
], ids=["succeeded", "pending", "requires-action", "failed", "canceled"])
def test_a_part_refund_reopens_its_invoice_before_any_payout_nets_it(
        warehouse_config: WarehouseConfig, status: str, still_open: str) -> None:
    """25.00 of ch_1 refunded, the refund's balance transaction in no payout yet: the invoice owes it again from
    the night the refund exists (money on its way back counts); a refund that failed or was canceled never."""
    fec, edits = CH_1_PAYS
    with _built(warehouse_config, fec=fec, edits=edits, stripe={"refunds": [_refund(status)]}) as engine:
        reconcile(engine, as_of=AS_OF)
        invoice = engine.query("SELECT amount_open FROM fct_invoice WHERE invoice_number = 'FA-2025-000002'")
        applied = engine.query("SELECT sum(amount_applied) FROM fct_match WHERE payment_id = 'ch_1' "
                               "AND state IN ('auto', 'confirmed')")
    assert invoice == [(Decimal(still_open),)]
    assert applied == [(Decimal("100.00") - Decimal(still_open),)]


def test_a_refund_listed_pending_that_failed_later_counts_for_nothing(warehouse_config: WarehouseConfig) -> None:
    """re_1 was listed pending; its refund.failed event came later (refunds are walked by created date and not
    re-read): the charge pays its invoice whole."""
    event = {"id": "evt_re_1", "object": "event", "type": "refund.failed", "created": 1739500000,
             "data": {"object": {**_refund("failed"), "failure_reason": "expired_or_canceled_card",
                                 "failure_balance_transaction": "txn_re_1_failure"}}}
    fec, edits = CH_1_PAYS
    with _built(warehouse_config, fec=fec, stripe={"refunds": [_refund("pending")], "events": [event]},
                edits=(*edits, f"UPDATE raw_stripe_refunds SET _dlt_load_id = '{NIGHT_OF_2025_02_10}'")) as engine:
        reconcile(engine, as_of=AS_OF)
        invoice = engine.query("SELECT amount_open FROM fct_invoice WHERE invoice_number = 'FA-2025-000002'")
    assert invoice == [(Decimal("0.00"),)]


def test_a_payout_that_failed_after_it_was_listed_is_failed_and_not_looked_for_on_the_statement(
        warehouse_config: WarehouseConfig) -> None:
    """po_10 was listed paid the night it was made; payout.failed came three days later, and Stripe paid the money
    again in po_15 (a payout_failure balance transaction, reporting category payout_reversal). An event older than
    the listing (po_1's payout.created, pending) does not undo what the listing saw."""
    po_10 = {**FX_PAYOUT, "id": "po_10", "amount": 5000, "statement_descriptor": "STRIPE po_10",
             "balance_transaction": "txn_po_10"}
    failed = {"id": "evt_po_10", "object": "event", "type": "payout.failed", "created": 1739491200,
              "data": {"object": {**po_10, "status": "failed", "failure_code": "could_not_process",
                                  "failure_message": "The bank could not process this payout."}}}
    stale = {"id": "evt_po_1", "object": "event", "type": "payout.created", "created": 1739232000,
             "data": {"object": {"id": "po_1", "object": "payout", "amount": 9730, "currency": "eur",
                                 "arrival_date": 1739318400, "status": "pending", "failure_code": None}}}
    repaid = {"id": "txn_po_10_failure", "object": "balance_transaction", "payout": "po_15", "amount": 5000, "fee": 0,
              "net": 5000, "currency": "eur", "exchange_rate": None, "created": 1739491200,
              "available_on": 1739491200, "reporting_category": "payout_reversal", "type": "payout_failure",
              "source": "po_10", "status": "available"}
    po_15 = {**FX_PAYOUT, "id": "po_15", "amount": 5000, "arrival_date": 1739750400, "created": 1739664000,
             "statement_descriptor": "STRIPE po_15", "balance_transaction": "txn_po_15"}
    po_15_line = {**BANK[1], "bank_line_id": "B_PO15", "amount": Decimal("50.00"), "booking_date": date(2025, 2, 17),
                  "value_date": date(2025, 2, 17), "remittance_unstructured": "STRIPE po_15"}
    # po_11's payout.failed carries an earlier time than the night that listed it paid (a replayed or backdated
    # event): failed is final all the same
    po_11 = {**po_10, "id": "po_11", "statement_descriptor": "STRIPE po_11", "balance_transaction": "txn_po_11"}
    failed_early = {**failed, "id": "evt_po_11", "created": 1739000000,
                    "data": {"object": {**po_11, "status": "failed", "failure_code": "could_not_process"}}}
    with _built(warehouse_config, bank=(po_15_line,),
                stripe={"payouts": [po_10, po_11, po_15], "balance_transactions": [repaid],
                        "events": [failed, stale, failed_early]},
                edits=(f"UPDATE raw_stripe_payouts SET _dlt_load_id = '{NIGHT_OF_2025_02_10}' "
                       "WHERE id IN ('po_1', 'po_10', 'po_11')",)) as engine:
        statuses = dict(engine.query("SELECT payout_id, status FROM fct_payout"))
        reconcile(engine, as_of=AS_OF)
        raised = engine.query("SELECT payout_id, kind FROM fct_reconciliation_exception WHERE payout_id IS NOT NULL")
        banked = dict(engine.query("SELECT payout_id, bank_line_id FROM fct_payout"))
    assert statuses == {"po_1": "paid", "po_10": "failed", "po_11": "failed", "po_15": "paid"}
    assert raised == []
    assert banked == {"po_1": "B2", "po_10": None, "po_11": None, "po_15": "B_PO15"}


def _bt(txn: str, payout: str, amount: int, fee: int, category: str, type_: str, source: str,
        created: int = 1739001600) -> dict[str, Any]:
    return {"id": txn, "object": "balance_transaction", "payout": payout, "amount": amount, "fee": fee,
            "net": amount - fee, "currency": "eur", "exchange_rate": None, "created": created,
            "available_on": created + 172800, "reporting_category": category, "type": type_, "source": source,
            "status": "available"}


def _payout(po: str, amount: int, status: str, created: int) -> dict[str, Any]:
    return {**FX_PAYOUT, "id": po, "amount": amount, "status": status, "created": created,
            "arrival_date": created + 86400, "statement_descriptor": f"STRIPE {po}", "balance_transaction": f"txn_{po}",
            "failure_code": "could_not_process" if status == "failed" else None}


# po_7 (automatic, 2,393.59) swept ch_a (2,122.35, fee 32.09) and ch_b (308.20, fee 4.87), then failed: Stripe lists
# both charges under po_7 and returned its money to the balance as a payout_failure transaction (source po_7) that
# po_8 paid out again, alone, to the bank line B_PO8
FAILED_PAYOUT = {
    "charges": [_charge("ch_a", 212235, "eur", "FA-2025-000011", "txn_a"),
                _charge("ch_b", 30820, "eur", "FA-2025-000012", "txn_b")],
    "balance_transactions": [
        _bt("txn_a", "po_7", 212235, 3209, "charge", "charge", "ch_a"),
        _bt("txn_b", "po_7", 30820, 487, "charge", "charge", "ch_b"),
        _bt("txn_po_7", "po_7", -239359, 0, "payout", "payout", "po_7", created=1739232000),
        _bt("txn_po_7_failure", "po_8", 239359, 0, "payout_reversal", "payout_failure", "po_7", created=1739491200),
        _bt("txn_po_8", "po_8", -239359, 0, "payout", "payout", "po_8", created=1739664000),
    ],
    "payouts": [_payout("po_7", 239359, "failed", 1739232000), _payout("po_8", 239359, "paid", 1739664000)],
}
PO_8_LINE = {**BANK[1], "bank_line_id": "B_PO8", "amount": Decimal("2393.59"), "booking_date": date(2025, 2, 17),
             "value_date": date(2025, 2, 17), "remittance_unstructured": "STRIPE po_8"}


def test_a_failed_payout_keeps_its_charges_and_fees_and_the_payout_that_sent_them_again_is_their_bank_credit(
        warehouse_config: WarehouseConfig) -> None:
    """The charges are paid out in po_7 (Stripe's own attribution: balance_transactions?payout=po_7), with their
    fees; po_7 is failed and composed of them; po_8's one line is po_7's money coming back, naming po_7; the
    charges' money reached the bank in po_8 (banked_payout_id). Nothing is a payout_mismatch or missing."""
    fec = [*_invoice("23", "FA-2025-000011", "2122.35"), *_invoice("24", "FA-2025-000012", "308.20")]
    with _built(warehouse_config, fec=fec, bank=(PO_8_LINE,), stripe=FAILED_PAYOUT) as engine:
        payments = engine.query("SELECT payment_id, payout_id, fee, banked_payout_id, status FROM fct_payment "
                                "WHERE payment_id IN ('ch_a', 'ch_b') ORDER BY payment_id")
        payouts = engine.query("SELECT payout_id, status, amount, fees, bank_line_id FROM fct_payout "
                               "WHERE payout_id IN ('po_7', 'po_8') ORDER BY payout_id")
        components = engine.query("SELECT payout_id, kind, payment_id, amount, fee, failed_payout_id "
                                  "FROM fct_payout_component WHERE payout_id IN ('po_7', 'po_8') "
                                  "ORDER BY payout_id, component_id")
        reconcile(engine, as_of=AS_OF)
        raised = engine.query("SELECT kind, payout_id FROM fct_reconciliation_exception "
                              "WHERE payout_id IN ('po_7', 'po_8') OR payment_id IN ('ch_a', 'ch_b')")
        invoices = engine.query("SELECT invoice_number, status FROM fct_invoice "
                                "WHERE invoice_number IN ('FA-2025-000011', 'FA-2025-000012') ORDER BY 1")
    assert payments == [("ch_a", "po_7", Decimal("32.09"), "po_8", "succeeded"),
                        ("ch_b", "po_7", Decimal("4.87"), "po_8", "succeeded")]
    assert payouts == [("po_7", "failed", Decimal("2393.59"), Decimal("36.96"), None),
                       ("po_8", "paid", Decimal("2393.59"), Decimal("0.00"), "B_PO8")]
    assert components == [
        ("po_7", "charge", "ch_a", Decimal("2122.35"), Decimal("32.09"), None),
        ("po_7", "charge", "ch_b", Decimal("308.20"), Decimal("4.87"), None),
        ("po_8", "payout_reversal", None, Decimal("2393.59"), Decimal("0.00"), "po_7"),
    ]
    assert raised == []
    assert invoices == [("FA-2025-000011", "paid"), ("FA-2025-000012", "paid")]


def test_money_of_a_payout_that_failed_twice_reaches_the_bank_with_the_third_and_not_before(
        warehouse_config: WarehouseConfig) -> None:
    """ch_c went out in po_20, which failed; po_21 sent it again and failed too; po_22 paid it. ch_d's po_30
    failed and no payout has sent its money again yet: it is back in the Stripe balance, banked nowhere."""
    stripe = {
        "charges": [_charge("ch_c", 10000, "eur", "FA-2025-000013", "txn_c"),
                    _charge("ch_d", 5000, "eur", "FA-2025-000014", "txn_d")],
        "balance_transactions": [
            _bt("txn_c", "po_20", 10000, 175, "charge", "charge", "ch_c"),
            _bt("txn_po_20_failure", "po_21", 9825, 0, "payout_reversal", "payout_failure", "po_20", 1739300000),
            _bt("txn_po_21_failure", "po_22", 9825, 0, "payout_reversal", "payout_failure", "po_21", 1739500000),
            _bt("txn_d", "po_30", 5000, 100, "charge", "charge", "ch_d"),
        ],
        "payouts": [_payout("po_20", 9825, "failed", 1739232000), _payout("po_21", 9825, "failed", 1739400000),
                    _payout("po_22", 9825, "paid", 1739600000), _payout("po_30", 4900, "failed", 1739232000)],
    }
    with _built(warehouse_config, stripe=stripe) as engine:
        banked = engine.query("SELECT payment_id, payout_id, banked_payout_id FROM fct_payment "
                              "WHERE payment_id IN ('ch_1', 'ch_c', 'ch_d') ORDER BY payment_id")
    assert banked == [("ch_1", "po_1", "po_1"), ("ch_c", "po_20", "po_22"), ("ch_d", "po_30", None)]
