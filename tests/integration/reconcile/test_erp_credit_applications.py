"""A credit memo the ERP applied in part is set against its invoices for what the ERP applied, on DuckDB and Postgres.

NetSuite applies a credit memo to invoices line by line (NextTransactionLineLink, the amount applied to each); what
it did not apply stays the customer's credit (the memo's amount remaining). Laid whole against the invoices it
shares a code with, a memo of 150.00 applied for 100.00 closed 50.00 of the invoice that the customer's payment
then paid again: an overpayment queued, and the customer's credit gone. A memo applied to two invoices paid by two
payments has no one code; the ERP's per-pair amounts place it all the same.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_marts, build_staging
from warehouse.engine import connect
from warehouse.reconcile import reconcile

from ..warehouse.raw_book import BANK, built_raw_book
from .sage_raw import JUNIPER, TABLES

AS_OF = date(2026, 11, 27)
ACCOUNT = "US33000000000000000000000001"   # the entity's USD account

_TX = [
    # id, tranid, type, trandate, duedate, total, remaining
    ("200", "INV200", "CustInvc", "2026-09-01", "2026-10-01", "1000.00", "0.00"),
    ("201", "INV201", "CustInvc", "2026-09-02", "2026-10-02", "500.00", "0.00"),
    ("202", "INV202", "CustInvc", "2026-09-03", "2026-10-03", "400.00", "0.00"),
    ("700", "CM700", "CustCred", "2026-09-10", None, "-150.00", "-50.00"),   # 100.00 on INV200, 50.00 left
    ("701", "CM701", "CustCred", "2026-09-11", None, "-300.00", "-50.00"),   # 100.00 on INV201, 150.00 on INV202
    ("800", "PYMT800", "CustPymt", "2026-10-01", None, "900.00", "0.00"),
    ("801", "PYMT801", "CustPymt", "2026-10-02", None, "400.00", "0.00"),
    ("802", "PYMT802", "CustPymt", "2026-10-03", None, "250.00", "0.00"),
]
_LINKS = [
    # previousdoc, nextdoc, foreignamount, previoustype, nexttype
    ("200", "700", "100.00", "CustInvc", "CustCred"), ("200", "800", "900.00", "CustInvc", "CustPymt"),
    ("201", "701", "100.00", "CustInvc", "CustCred"), ("201", "801", "400.00", "CustInvc", "CustPymt"),
    ("202", "701", "150.00", "CustInvc", "CustCred"), ("202", "802", "250.00", "CustInvc", "CustPymt"),
]


def _rows() -> dict[str, list[dict[str, Any]]]:
    transactions = [{"id": i, "entity": "US01", "tranid": n, "type": t, "trandate": date.fromisoformat(d),
                     "duedate": date.fromisoformat(due) if due else None, "customer_id": "1", "currency_code": "USD",
                     "foreigntotal": Decimal(total), "foreignamountremaining": Decimal(rem), "status": "B",
                     "memo": "", "posting": "T", "voided": "F"}
                    for i, n, t, d, due, total, rem in _TX]
    links = [{"previousdoc": p, "nextdoc": n, "entity": "US01", "foreignamount": Decimal(a), "linktype": "Payment",
              "previoustype": pt, "nexttype": nt} for p, n, a, pt, nt in _LINKS]
    customers = [{"id": "1", "entity": "US01", "entityid": "CUST-1", "companyname": "Acme Inc", "firstname": "",
                  "lastname": "", "isperson": "F", "email": "ap@acme.example", "creditlimit": Decimal("5000.00"),
                  "terms_days": 30, "currency_code": "USD"}]
    return {"raw_netsuite_transactions": transactions, "raw_netsuite_payment_applications": links,
            "raw_netsuite_customers": customers}


def _line(line_id: str, amount: str, on: date, remittance: str) -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "entity": "US01", "account_iban": ACCOUNT, "currency": "USD",
            "amount": Decimal(amount), "booking_date": on, "value_date": on, "credit_debit": "CRDT",
            "remittance_unstructured": remittance, "counterparty_iban": "US44000000000000000000000099",
            "counterparty_name": "ACME INC", "bank_tx_code": "PMNT/RCDT/ESCT", "end_to_end_id": None}


LINES = [_line("V1", "900.00", date(2026, 10, 1), "INV200"), _line("V2", "400.00", date(2026, 10, 2), "INV201"),
         _line("V3", "250.00", date(2026, 10, 3), "INV202")]


def _outcome(warehouse_config: WarehouseConfig, lines: list[dict[str, Any]]) -> dict[str, Any]:
    with built_raw_book(warehouse_config, as_of=AS_OF, more_bank_lines=lines, more_rows=_rows()) as engine:
        reconcile(engine, as_of=AS_OF)
        build_marts(engine, as_of=AS_OF)
        return {
            "documents": dict(engine.query("SELECT invoice_number, amount_open FROM fct_invoice WHERE entity = 'US01'")),
            "credited": engine.query(
                "SELECT c.invoice_number, i.invoice_number, m.amount_applied FROM fct_match AS m "
                "JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
                "JOIN fct_invoice AS c ON c.entity = m.entity AND c.invoice_id = m.payment_id "
                "WHERE m.entity = 'US01' AND m.rule = 'credit_note' AND m.state = 'auto' ORDER BY 1, 2"),
            "exceptions": engine.query("SELECT kind, payment_id, bank_line_id, amount FROM fct_reconciliation_exception "
                                       "WHERE entity = 'US01' AND resolved_at IS NULL"),
            "unapplied": engine.query("SELECT coalesce(sum(amount_unapplied), 0) FROM mart_unapplied_cash "
                                      "WHERE entity = 'US01'")[0][0],
        }


EXPECTED_DOCUMENTS = {"INV200": Decimal("0.00"), "INV201": Decimal("0.00"), "INV202": Decimal("0.00"),
                      "CM700": Decimal("-50.00"), "CM701": Decimal("-50.00")}
EXPECTED_CREDITED = [("CM700", "INV200", Decimal("100.00")), ("CM701", "INV201", Decimal("100.00")),
                     ("CM701", "INV202", Decimal("150.00"))]


def test_credit_memos_applied_in_part_credit_what_netsuite_applied(warehouse_config: WarehouseConfig) -> None:
    """With the bank's statements: each transfer pays what NetSuite says its invoice still owed after the memo."""
    outcome = _outcome(warehouse_config, LINES)
    assert outcome["documents"] == EXPECTED_DOCUMENTS
    assert outcome["credited"] == EXPECTED_CREDITED
    assert outcome["exceptions"] == []
    assert Decimal(outcome["unapplied"]) == Decimal("0.00")


def test_credit_memos_applied_in_part_without_statements(warehouse_config: WarehouseConfig) -> None:
    """NetSuite alone: its payments settle the rest, and the memos keep their unapplied credit."""
    outcome = _outcome(warehouse_config, [])
    assert outcome["documents"] == EXPECTED_DOCUMENTS
    assert outcome["credited"] == EXPECTED_CREDITED
    assert outcome["exceptions"] == []
    assert Decimal(outcome["unapplied"]) == Decimal("0.00")


_SAGE = (
    TABLES["contacts"],
    JUNIPER,
    TABLES["sales_invoices"],
    "INSERT INTO raw_sage_accounting_sales_invoices VALUES "
    "('i1', 'UK01', 'SI-2001', 'c1', DATE '2026-09-01', DATE '2026-10-01', 1000.00, 0.00, 'GBP', 'PAID'), "
    "('i2', 'UK01', 'SI-2002', 'c1', DATE '2026-09-02', DATE '2026-10-02', 400.00, 0.00, 'GBP', 'PAID')",
    TABLES["sales_credit_notes"],
    # SCN-31 raised on SI-2001 for 150.00, of which Sage set 100.00 against it and 50.00 against SI-2002: nothing left;
    # SCN-32 raised on SI-2002 for 80.00, set against it for 30.00: 50.00 left as the customer's credit
    "INSERT INTO raw_sage_accounting_sales_credit_notes VALUES "
    "('n1', 'UK01', 'SCN-31', 'c1', DATE '2026-09-10', 'SI-2001', 150.00, 0.00, 'GBP', 'PAID'), "
    "('n2', 'UK01', 'SCN-32', 'c1', DATE '2026-09-11', 'SI-2002', 80.00, 50.00, 'GBP', 'PART_PAID')",
    TABLES["contact_payments"],
    "INSERT INTO raw_sage_accounting_contact_payments VALUES "
    "('p1', 'UK01', 'c1', DATE '2026-10-01', 900.00, 'GBP', 'SI-2001', 'CUSTOMER_RECEIPT'), "
    "('p2', 'UK01', 'c1', DATE '2026-10-02', 320.00, 'GBP', 'SI-2002', 'CUSTOMER_RECEIPT')",
    TABLES["payment_allocations"],
    "INSERT INTO raw_sage_accounting_payment_allocations VALUES "
    "('p1', 'i1', 'UK01', 900.00), ('p2', 'i2', 'UK01', 320.00)",
    TABLES["contact_allocations"],
    "INSERT INTO raw_sage_accounting_contact_allocations (id, entity, date, contact__id, transaction_type__id) VALUES "
    "('a1', 'UK01', DATE '2026-09-10', 'c1', 'CUSTOMER_ALLOCATION'), "
    "('a2', 'UK01', DATE '2026-09-11', 'c1', 'CUSTOMER_ALLOCATION')",
    TABLES["contact_allocation_lines"],
    "INSERT INTO raw_sage_accounting_contact_allocation_lines (allocation_id, artefact_id, entity, artefact_kind, "
    "amount) VALUES ('a1', 'n1', 'UK01', 'sales_credit_notes', -150.00), ('a1', 'i1', 'UK01', 'sales_invoices', 100.00), "
    "('a1', 'i2', 'UK01', 'sales_invoices', 50.00), ('a2', 'n2', 'UK01', 'sales_credit_notes', -30.00), "
    "('a2', 'i2', 'UK01', 'sales_invoices', 30.00)",
)


def test_credit_notes_sage_allocated_credit_what_sage_allocated(warehouse_config: WarehouseConfig) -> None:
    """Sage Accounting alone (no GBP statement): each credit note credits each invoice what Sage's allocation set
    against it, the receipts pay the rest, and SCN-32's 50.00 stays the customer's credit."""
    with connect(warehouse_config) as engine:
        for statement in _SAGE:
            engine.execute(statement)
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        documents = dict(engine.query("SELECT invoice_number, amount_open FROM fct_invoice"))
        credited = engine.query(
            "SELECT m.payment_id, m.invoice_id, m.amount_applied FROM fct_match AS m "
            "WHERE m.rule = 'credit_note' AND m.state = 'auto' ORDER BY 1, 2")
        exceptions = engine.query("SELECT kind, payment_id FROM fct_reconciliation_exception WHERE resolved_at IS NULL")
    assert documents == {"SI-2001": Decimal("0.00"), "SI-2002": Decimal("0.00"), "SCN-31": Decimal("0.00"),
                         "SCN-32": Decimal("-50.00")}
    assert credited == [("n1", "i1", Decimal("100.00")), ("n1", "i2", Decimal("50.00")),
                        ("n2", "i2", Decimal("30.00"))]
    assert exceptions == []


def test_a_credit_memo_applied_the_next_night_is_taken_by_an_incremental_run(warehouse_config: WarehouseConfig) -> None:
    """Night 1: CM700 is not yet applied (its 150.00 the customer's credit; INV200 owes the 100.00 its payment of
    900.00 left). Night 2: NetSuite applies 100.00 of it to INV200. The nightly's incremental run credits INV200
    100.00 and leaves CM700 50.00, as a full run does."""
    rows = _rows()
    rows["raw_netsuite_payment_applications"] = [r for r in rows["raw_netsuite_payment_applications"]
                                                 if r["nextdoc"] != "700"]
    for tx in rows["raw_netsuite_transactions"]:
        if tx["id"] == "700":
            tx["foreignamountremaining"] = Decimal("-150.00")
        if tx["id"] == "200":
            tx["foreignamountremaining"] = Decimal("100.00")
    with built_raw_book(warehouse_config, as_of=AS_OF, more_bank_lines=LINES, more_rows=rows) as engine:
        reconcile(engine, as_of=AS_OF)
        night1 = dict(engine.query("SELECT invoice_number, amount_open FROM fct_invoice WHERE entity = 'US01' "
                                   "AND invoice_number IN ('INV200', 'CM700')"))
        engine.execute("UPDATE raw_netsuite_transactions SET foreignamountremaining = CASE id WHEN '700' THEN -50.00 "
                       "ELSE 0.00 END WHERE id IN ('200', '700')")
        engine.execute("INSERT INTO raw_netsuite_payment_applications (previousdoc, nextdoc, entity, foreignamount, "
                       "linktype, previoustype, nexttype, _dlt_load_id, _dlt_id) SELECT '200', '700', 'US01', 100.00, "
                       "'Payment', 'CustInvc', 'CustCred', min(_dlt_load_id), 'night2' "
                       "FROM raw_netsuite_payment_applications")
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        summary = reconcile(engine, as_of=AS_OF, incremental=True)
        night2 = dict(engine.query("SELECT invoice_number, amount_open FROM fct_invoice WHERE entity = 'US01' "
                                   "AND invoice_number IN ('INV200', 'CM700')"))
        incremental = sorted(engine.query("SELECT match_id, amount_applied FROM fct_match WHERE entity = 'US01' "
                                          "AND state = 'auto'"))
        reconcile(engine, as_of=AS_OF)
        full = sorted(engine.query("SELECT match_id, amount_applied FROM fct_match WHERE entity = 'US01' "
                                   "AND state = 'auto'"))
    assert night1 == {"INV200": Decimal("100.00"), "CM700": Decimal("-150.00")}
    assert summary.incremental
    assert night2 == {"INV200": Decimal("0.00"), "CM700": Decimal("-50.00")}
    assert incremental == full


@pytest.mark.parametrize("receipts", ["none", "on_account"])
def test_a_sage_business_without_allocated_receipts_builds(warehouse_config: WarehouseConfig, receipts: str) -> None:
    """A Sage business whose receipts are none yet, or one payment on account (nothing allocated): its connector
    loads no payment allocations, and the invoices' staging still builds (a blind API check: the whole nightly build
    failed, every entity's fct_payment missing, on a column the union's one remaining branch named otherwise)."""
    statements = [*_SAGE[:4]]  # contacts and invoices only
    if receipts == "on_account":
        statements += [TABLES["contact_payments"],
                       "INSERT INTO raw_sage_accounting_contact_payments VALUES "
                       "('p9', 'UK01', 'c1', DATE '2026-10-01', 250.00, 'GBP', 'on account', 'CUSTOMER_RECEIPT')"]
    with connect(warehouse_config) as engine:
        for statement in statements:
            engine.execute(statement)
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        invoices = engine.query("SELECT invoice_id, erp_lettrage FROM stg_sage_accounting__invoices ORDER BY 1")
        payments = engine.query("SELECT payment_id FROM fct_payment WHERE entity = 'UK01'")
    assert invoices == [("i1", None), ("i2", None)]
    assert payments == ([("SAGEACC-p9",)] if receipts == "on_account" else [])
