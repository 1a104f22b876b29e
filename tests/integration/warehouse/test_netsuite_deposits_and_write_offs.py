"""NetSuite's other ways of settling an invoice, on DuckDB and Postgres: a customer deposit applied by a deposit
application, a credit memo applied to two invoices, and a journal entry's credit applied by a payment of 0.00 (a
write-off).

Rows are as the connector loads them from SuiteQL (``transaction``, ``NextTransactionLineLink``): a deposit
application links both the deposit and the invoice it pays (``nextdoc`` the application); a payment applying a journal
entry's credit links the invoice and the journal entry (``previoustype`` 'Journal').
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import connect
from warehouse.reconcile import reconcile

AS_OF = date(2026, 11, 27)
_TX = [
    # id, tranid, type, trandate, duedate, customer, total, remaining
    ("100", "INV100", "CustInvc", "2026-09-01", "2026-10-01", 4000.00, 0.00),
    ("101", "INV101", "CustInvc", "2026-09-02", "2026-10-02", 300.00, 0.00),
    ("102", "INV102", "CustInvc", "2026-09-03", "2026-10-03", 450.00, 0.00),
    ("103", "INV103", "CustInvc", "2026-09-04", "2026-10-04", 1890.00, 0.00),
    ("104", "INV104", "CustInvc", "2026-09-05", "2026-10-05", 2000.00, 500.00),
    ("200", "DEP200", "CustDep", "2026-08-20", None, 4000.00, 0.00),
    ("201", "DEP201", "CustDep", "2026-08-21", None, 1500.00, 0.00),
    ("300", "DA300", "DepAppl", "2026-09-01", None, 4000.00, None),
    ("301", "DA301", "DepAppl", "2026-09-05", None, 1500.00, None),
    ("400", "CM400", "CustCred", "2026-09-10", None, -750.00, 0.00),
    ("500", "PYMT500", "CustPymt", "2026-10-20", None, 0.00, 0.00),
]
_LINKS = [
    # previousdoc, nextdoc, foreignamount, previoustype, nexttype
    ("200", "300", 4000.00, "CustDep", "DepAppl"), ("100", "300", 4000.00, "CustInvc", "DepAppl"),
    ("201", "301", 1500.00, "CustDep", "DepAppl"), ("104", "301", 1500.00, "CustInvc", "DepAppl"),
    ("101", "400", 300.00, "CustInvc", "CustCred"), ("102", "400", 450.00, "CustInvc", "CustCred"),
    ("103", "500", 1890.00, "CustInvc", "CustPymt"), ("999", "500", 1890.00, "Journal", "CustPymt"),
]


def test_deposits_credit_memos_over_two_invoices_and_journal_write_offs_settle_what_netsuite_says(
        warehouse_config: WarehouseConfig) -> None:
    """INV100 was paid in advance by DEP200 (through DA300); INV104 half by DEP201 and 500.00 still open; CM400
    credits INV101 and INV102; journal entry 999 wrote INV103 off, applied by PYMT500 of 0.00. Without bank data
    the ERP's word settles them (rule erp_lettrage for the deposits, credit_note for the credit memo and the
    journal entry's credit); the deposits are receipts, the 0.00 payment and the applications are not."""
    with connect(warehouse_config) as engine:
        engine.execute("CREATE TABLE raw_netsuite_customers (id TEXT, entity TEXT, entityid TEXT, companyname TEXT, "
                       "firstname TEXT, lastname TEXT, isperson TEXT, email TEXT, creditlimit DECIMAL(18,2), "
                       "terms_days BIGINT, currency_code TEXT)")
        engine.execute("INSERT INTO raw_netsuite_customers VALUES "
                       "('1', 'US01', 'CUST-1', 'Acme Inc', NULL, NULL, 'F', NULL, NULL, 30, 'USD')")
        engine.execute("CREATE TABLE raw_netsuite_transactions (id TEXT, entity TEXT, tranid TEXT, type TEXT, "
                       "trandate DATE, duedate DATE, customer_id TEXT, currency_code TEXT, foreigntotal DECIMAL(18,2), "
                       "foreignamountremaining DECIMAL(18,2), status TEXT, memo TEXT, posting TEXT, voided TEXT)")
        for tid, tranid, kind, trandate, duedate, total, remaining in _TX:
            engine.execute(
                "INSERT INTO raw_netsuite_transactions VALUES (:id, 'US01', :tranid, :type, CAST(:d AS DATE), "
                "CAST(:due AS DATE), '1', 'USD', :total, :remaining, 'B', NULL, 'T', 'F')",
                {"id": tid, "tranid": tranid, "type": kind, "d": trandate, "due": duedate,
                 "total": Decimal(str(total)), "remaining": None if remaining is None else Decimal(str(remaining))})
        engine.execute("CREATE TABLE raw_netsuite_payment_applications (previousdoc TEXT, nextdoc TEXT, entity TEXT, "
                       "foreignamount DECIMAL(18,2), linktype TEXT, previoustype TEXT, nexttype TEXT)")
        for prev, nxt, amount, prevtype, nexttype in _LINKS:
            engine.execute("INSERT INTO raw_netsuite_payment_applications VALUES (:p, :n, 'US01', :a, 'Payment', "
                           ":pt, :nt)", {"p": prev, "n": nxt, "a": Decimal(str(amount)), "pt": prevtype, "nt": nexttype})
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        payments = engine.query("SELECT payment_id, amount, erp_lettrage FROM stg_netsuite__payments ORDER BY 1")
        applications = engine.query("SELECT invoice_id, payment_id, amount FROM stg_netsuite__applications "
                                    "ORDER BY 1, 2")
        credits = engine.query("SELECT invoice_id, invoice_number, doc_type, amount_total, erp_lettrage "
                               "FROM stg_netsuite__invoices WHERE doc_type = 'credit_note' ORDER BY 1")
        reconcile(engine, as_of=AS_OF)
        invoices = engine.query("SELECT invoice_number, amount_open FROM fct_invoice ORDER BY 1")
        statuses = dict(engine.query("SELECT invoice_number, status FROM fct_invoice WHERE invoice_number IN ('INV101', 'INV103')"))
        rules = engine.query("SELECT i.invoice_number, m.payment_id, m.rule, m.amount_applied FROM fct_match AS m "
                             "JOIN fct_invoice AS i ON i.invoice_id = m.invoice_id WHERE m.state = 'auto' ORDER BY 1, 2")
    assert payments == [("NS-200", Decimal("4000.00"), "100"), ("NS-201", Decimal("1500.00"), "104")]
    assert applications == [("100", "NS-200", Decimal("4000.00")), ("103", "NS-500", Decimal("1890.00")),
                            ("104", "NS-201", Decimal("1500.00"))]
    assert credits == [("400", "CM400", "credit_note", Decimal("-750.00"), "400"),
                       ("999", "Journal 999", "credit_note", Decimal("-1890.00"), "500")]
    assert invoices == [("CM400", Decimal("0.00")), ("INV100", Decimal("0.00")), ("INV101", Decimal("0.00")),
                        ("INV102", Decimal("0.00")), ("INV103", Decimal("0.00")), ("INV104", Decimal("500.00")),
                        ("Journal 999", Decimal("0.00"))]
    assert rules == [("INV100", "NS-200", "erp_lettrage", Decimal("4000.00")),
                     ("INV101", "400", "credit_note", Decimal("300.00")),
                     ("INV102", "400", "credit_note", Decimal("450.00")),
                     ("INV103", "999", "credit_note", Decimal("1890.00")),
                     ("INV104", "NS-201", "erp_lettrage", Decimal("1500.00"))]
    # the journal's credit wrote INV103 off (the contract's status), the credit memo credited INV101
    assert statuses == {"INV101": "credited", "INV103": "written_off"}
