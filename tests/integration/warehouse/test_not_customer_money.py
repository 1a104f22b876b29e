"""Bank credits the ERP booked to no customer account are no customer payments, on DuckDB and Postgres.

A French bank statement carries the tax office's VAT refund, a deposit returned, a supplier's refund:
credit transfers like a customer's, by their bank code too. The FEC books them against 44567, 275 or
401, not 411: such a credit, the one bank movement of its amount within the ERP receipt window, is left
out of fct_payment instead of queueing as a payment of an unknown payer. A receipt parked on a suspense
account (471) or a cheque remittance through 5112 may be a customer's, and a credit two movements could be
stays a payment.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import connect
from warehouse.reconcile import reconcile

from .raw_book import BANK, _fec, load_raw_book

AS_OF = date(2025, 3, 31)

ENTRIES = [
    # the VAT refund, booked four days after the bank
    _fec("20", "BQ", 1, "512000", "", "DGFIP", date(2025, 3, 7), "7340.00", "0.00"),
    _fec("20", "BQ", 2, "445670", "", "DGFIP", date(2025, 3, 7), "0.00", "7340.00"),
    # a receipt the accountant could not place yet: suspense account
    _fec("21", "BQ", 1, "512000", "", "VIR", date(2025, 3, 10), "410.00", "0.00"),
    _fec("21", "BQ", 2, "471000", "", "VIR", date(2025, 3, 10), "0.00", "410.00"),
    # a cheque remittance booked through 5112 (cheques to collect): customers' money, the cheques' lines are
    # in another entry
    _fec("23", "BQ", 1, "512000", "", "REMISE 42", date(2025, 3, 18), "1830.00", "0.00"),
    _fec("23", "BQ", 2, "511200", "", "REMISE 42", date(2025, 3, 18), "0.00", "1830.00"),
    # a supplier's refund of 250.00, and a customer's payment of 250.00 the same week: either credit could
    # be the refund
    _fec("22", "BQ", 1, "512000", "", "AVOIR FRS", date(2025, 3, 14), "250.00", "0.00"),
    _fec("22", "BQ", 2, "401000", "", "AVOIR FRS", date(2025, 3, 14), "0.00", "250.00"),
]


def _credit(line_id: str, amount: str, booked: date, name: str, remittance: str) -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "amount": Decimal(amount), "booking_date": booked,
            "value_date": booked, "counterparty_name": name, "counterparty_iban": f"FR76{line_id}",
            "remittance_unstructured": remittance}


def test_a_credit_the_erp_booked_elsewhere_is_no_customer_payment(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config, more_fec_lines=ENTRIES, more_bank_lines=(
        _credit("NC-TAX", "7340.00", date(2025, 3, 3), "DGFIP", "REMBT CREDIT TVA 2024T4"),
        _credit("NC-471", "410.00", date(2025, 3, 10), "DUPONT MARTIN", "REGLEMENT"),
        _credit("NC-A", "250.00", date(2025, 3, 12), "FOURNI SARL", "AVOIR 2025-17"),
        _credit("NC-B", "250.00", date(2025, 3, 13), "SOMECLIENT", "PAIEMENT"),
        _credit("NC-CHQ", "1830.00", date(2025, 3, 18), "", "REMISE CHEQUES 42"),
    ))
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        payments = {r[0] for r in engine.query("SELECT payment_id FROM fct_payment WHERE payment_id LIKE 'NC-%'")}
        movements = {r["source_id"]: r for r in engine.query_dicts(
            "SELECT source_id, customer_money, counter_account FROM stg_sage_fec__bank_movements")}
        exceptions = {r[0] for r in engine.query(
            "SELECT payment_id FROM fct_reconciliation_exception WHERE payment_id LIKE 'NC-%' AND resolved_at IS NULL")}
        kept = engine.query("SELECT count(*) FROM fct_bank_line WHERE bank_line_id LIKE 'NC-%'")[0][0]

    assert (movements["BQ-20"]["customer_money"], movements["BQ-20"]["counter_account"]) == (False, "445670")
    assert all(movements[e]["customer_money"] for e in ("BQ-21", "BQ-23", "BQ-3"))
    assert payments == {"NC-471", "NC-A", "NC-B", "NC-CHQ"}
    assert exceptions == {"NC-471", "NC-A", "NC-B", "NC-CHQ"}  # no invoice names them: a person looks, as before
    assert kept == 5  # the statement keeps every line
