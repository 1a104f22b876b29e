"""Credit notes an ERP refunded with a customer refund close, on DuckDB and Postgres.

NetSuite books money paid back to a customer as a customer refund that applies the credit memo
(NextTransactionLineLink: previousdoc the credit memo, nextdoc the refund); Sage Accounting as a contact payment of
type CUSTOMER_REFUND allocated to the credit note; SAP Business One as an outgoing payment to the customer
(VendorPayments, DocType rCustomer) whose line names the credit memo. Unread, such a credit note stayed open for ever in Lettrage,
lowering the customer's encours by money that had left. The refund is the ERP's word: within the bank statements'
period the debit of its amount near its date is the evidence (refund_id the bank line), before them, or in a
currency no statement shows, the refund itself. A refund of an unapplied payment pays no document; a credit memo
applied in part to an invoice and refunded for the rest does both.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import dlt

from connectors.sap_b1 import COLUMNS as B1_COLUMNS
from connectors.sap_b1 import to_row
from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_marts, build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline
from warehouse.reconcile import reconcile

from ..warehouse.raw_book import BANK, built_raw_book
from .sage_raw import JUNIPER, TABLES

AS_OF = date(2026, 11, 27)
ACCOUNT = "US33000000000000000000000001"   # the entity's USD account
ACME = "US44000000000000000000000099"      # the customer's account, unknown to NetSuite's customer record

_TX = [
    # id, tranid, type, trandate, duedate, total, remaining
    ("100", "INV100", "CustInvc", "2026-08-20", "2026-09-19", "1000.00", "0.00"),
    ("101", "INV101", "CustInvc", "2026-09-01", "2026-10-01", "500.00", "0.00"),
    ("103", "INV103", "CustInvc", "2026-09-05", "2026-10-05", "1000.00", "0.00"),
    ("400", "CM400", "CustCred", "2026-10-01", None, "-200.00", "0.00"),   # on INV100, paid: refunded by 600
    ("401", "CM401", "CustCred", "2026-07-20", None, "-300.00", "0.00"),   # refunded by 601 before the statements
    ("402", "CM402", "CustCred", "2026-10-02", None, "-150.00", "0.00"),   # 100.00 on INV101, 50.00 refunded by 602
    ("403", "CM403", "CustCred", "2026-10-03", None, "-80.00", "-80.00"),  # left as the customer's credit
    ("500", "PYMT500", "CustPymt", "2026-09-02", None, "1000.00", "0.00"),
    ("501", "PYMT501", "CustPymt", "2026-10-12", None, "400.00", "0.00"),
    ("503", "PYMT503", "CustPymt", "2026-10-06", None, "1100.00", "0.00"),  # 100.00 too much, refunded by 603
    ("600", "RFND600", "CustRfnd", "2026-10-05", None, "200.00", None),
    ("601", "RFND601", "CustRfnd", "2026-07-25", None, "300.00", None),
    ("602", "RFND602", "CustRfnd", "2026-10-09", None, "50.00", None),
    ("603", "RFND603", "CustRfnd", "2026-10-08", None, "100.00", None),
]
_LINKS = [
    # previousdoc, nextdoc, foreignamount, previoustype, nexttype
    ("100", "500", "1000.00", "CustInvc", "CustPymt"),
    ("101", "402", "100.00", "CustInvc", "CustCred"), ("101", "501", "400.00", "CustInvc", "CustPymt"),
    ("103", "503", "1000.00", "CustInvc", "CustPymt"),
    # (NetSuite writes a refund's link either way round: RFND600's with the refund as previousdoc)
    ("600", "400", "200.00", "CustRfnd", "CustCred"), ("401", "601", "300.00", "CustCred", "CustRfnd"),
    ("402", "602", "50.00", "CustCred", "CustRfnd"), ("503", "603", "100.00", "CustPymt", "CustRfnd"),
    # (RFND602's link loaded both ways round, as a connector reading it with the credit memo once did: counted once)
    ("602", "402", "50.00", "CustRfnd", "CustCred"),
]


def _line(line_id: str, amount: str, on: date, remittance: str) -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "entity": "US01", "account_iban": ACCOUNT, "currency": "USD",
            "amount": Decimal(amount), "booking_date": on, "value_date": on,
            "credit_debit": "CRDT" if Decimal(amount) > 0 else "DBIT", "remittance_unstructured": remittance,
            "counterparty_iban": ACME, "counterparty_name": "ACME INC", "bank_tx_code": "PMNT/ICDT/ESCT",
            "end_to_end_id": None}


LINES = [  # the statements begin on 2026-09-02
    _line("U1", "1000.00", date(2026, 9, 2), "INV100"),
    _line("U2", "-200.00", date(2026, 10, 6), "REFUND"),          # RFND600, a day later, says nothing
    _line("U3", "1100.00", date(2026, 10, 6), "INV103"),
    _line("U4", "-100.00", date(2026, 10, 8), "REFUND"),          # RFND603: the overpayment paid back
    _line("U5", "-50.00", date(2026, 10, 9), "REFUND"),           # RFND602
    _line("U6", "400.00", date(2026, 10, 12), "INV101"),
]


# a deposit received and never applied, refunded through the deposit application NetSuite creates for the refund
_DEPOSIT_TX = [("210", "DEP210", "CustDep", "2026-08-10", None, "250.00", "0.00"),
               ("310", "DA310", "DepAppl", "2026-08-20", None, "250.00", None),
               ("604", "RFND604", "CustRfnd", "2026-08-20", None, "250.00", None)]
_DEPOSIT_LINKS = [("210", "310", "250.00", "CustDep", "DepAppl"), ("604", "310", "250.00", "CustRfnd", "DepAppl")]


def _rows(tx: list[tuple[str, ...]] = _TX, links: list[tuple[str, ...]] = _LINKS) -> dict[str, list[dict[str, Any]]]:
    transactions = [{"id": i, "entity": "US01", "tranid": n, "type": t, "trandate": date.fromisoformat(d),
                     "duedate": date.fromisoformat(due) if due else None, "customer_id": "1", "currency_code": "USD",
                     "foreigntotal": Decimal(total), "foreignamountremaining": Decimal(rem) if rem else None,
                     "status": "B", "memo": "", "posting": "T", "voided": "F"}
                    for i, n, t, d, due, total, rem in tx]
    link_rows = [{"previousdoc": p, "nextdoc": n, "entity": "US01", "foreignamount": Decimal(a),
                  "linktype": "DepAppl" if nt == "DepAppl" else "Payment", "previoustype": pt, "nexttype": nt}
                 for p, n, a, pt, nt in links]
    customers = [{"id": "1", "entity": "US01", "entityid": "CUST-1", "companyname": "Acme Inc", "firstname": "",
                  "lastname": "", "isperson": "F", "email": "ap@acme.example", "creditlimit": Decimal("5000.00"), "terms_days": 30,
                  "currency_code": "USD"}]
    return {"raw_netsuite_transactions": transactions, "raw_netsuite_payment_applications": link_rows,
            "raw_netsuite_customers": customers}


def test_credit_memos_netsuite_refunded_close_on_the_debit_or_the_refund(warehouse_config: WarehouseConfig) -> None:
    """CM400's refund is paid by a debit a day later that says nothing; CM401's before the statements begin; CM402 is
    netted with INV101 for 100.00 and paid back for 50.00; CM403 stays the customer's credit. RFND603 pays back
    PYMT503's excess: the bank's overpayment closes on its debit, and no document is paid by it."""
    with built_raw_book(warehouse_config, as_of=AS_OF, more_bank_lines=LINES, more_rows=_rows()) as engine:
        receipts = engine.query("SELECT payment_id, amount, erp_lettrage FROM stg_netsuite__payments "
                                "WHERE source_id LIKE '6%' ORDER BY 1")
        evidence = engine.query("SELECT i.invoice_number, r.refund_id, r.amount, r.evidence "
                                "FROM int_credit_note_refunds AS r "
                                "JOIN int_invoices AS i ON i.entity = r.entity AND i.invoice_id = r.cn_id ORDER BY 1")
        reconcile(engine, as_of=AS_OF)
        documents = dict(engine.query("SELECT invoice_number, amount_open FROM fct_invoice WHERE entity = 'US01'"))
        refunds = engine.query(
            "SELECT i.invoice_number, m.payment_id, m.amount_applied, m.rule FROM fct_match AS m "
            "JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
            "WHERE m.entity = 'US01' AND m.state = 'auto' AND m.amount_applied < 0 ORDER BY 1")
        overpaid = engine.query("SELECT payment_id, amount, bank_line_id FROM fct_reconciliation_exception "
                                "WHERE entity = 'US01' AND kind = 'overpayment'")
        received = engine.query(
            "SELECT m.payment_id, sum(m.amount_applied) FROM fct_match AS m WHERE m.entity = 'US01' "
            "AND m.state = 'auto' AND m.payment_id LIKE 'U%' AND m.amount_applied > 0 GROUP BY 1 ORDER BY 1")
        build_marts(engine, as_of=date(2026, 11, 1))
        encours = engine.query("SELECT sum(amount_open) FROM mart_open_receivables WHERE entity = 'US01'")[0][0]

    # NetSuite's refunds are money paid out (negative ERP receipts), each lettered with what it refunds
    assert receipts == [("NS-600", Decimal("-200.00"), "400"), ("NS-601", Decimal("-300.00"), "401"),
                        ("NS-602", Decimal("-50.00"), "402"), ("NS-603", Decimal("-100.00"), "503")]
    assert evidence == [("CM400", "U2", Decimal("200.00"), "erp_lettrage"),
                        ("CM401", "NS-601", Decimal("300.00"), "erp_lettrage"),
                        ("CM402", "U5", Decimal("50.00"), "erp_lettrage")]
    assert documents == {"INV100": Decimal("0.00"), "INV101": Decimal("0.00"), "INV103": Decimal("0.00"),
                         "CM400": Decimal("0.00"), "CM401": Decimal("0.00"), "CM402": Decimal("0.00"),
                         "CM403": Decimal("-80.00")}
    assert refunds == [("CM400", "U2", Decimal("-200.00"), "credit_note_refund"),
                       ("CM401", "NS-601", Decimal("-300.00"), "credit_note_refund"),
                       ("CM402", "U5", Decimal("-50.00"), "credit_note_refund")]
    # the bank's credits pay their invoices; the refund of PYMT503's excess pays nothing
    assert overpaid == [("U3", Decimal("100.00"), "U4")]
    assert received == [("U1", Decimal("1000.00")), ("U3", Decimal("1000.00")), ("U6", Decimal("400.00"))]
    # as of 1 November every refund had left (dated by its debit, not by the day Lettrage matched it): CM403 alone
    assert Decimal(encours) == Decimal("-80.00")


def test_without_statements_netsuite_refunds_close_and_leave_no_credit(warehouse_config: WarehouseConfig) -> None:
    """The same book without a bank statement (NetSuite alone): each refund closes its credit memo on NetSuite's word,
    and what NetSuite paid back of a payment's excess or of a deposit left unapplied is no customer credit."""
    rows = _rows(_TX + _DEPOSIT_TX, _LINKS + _DEPOSIT_LINKS)
    with built_raw_book(warehouse_config, as_of=AS_OF, more_rows=rows) as engine:
        reconcile(engine, as_of=AS_OF)
        build_marts(engine, as_of=AS_OF)
        documents = dict(engine.query("SELECT invoice_number, amount_open FROM fct_invoice WHERE entity = 'US01'"))
        receipts = engine.query("SELECT payment_id, amount, erp_lettrage FROM stg_netsuite__payments "
                                "WHERE source_id IN ('210', '604')")
        unapplied = engine.query("SELECT coalesce(sum(amount_unapplied), 0) FROM mart_unapplied_cash "
                                 "WHERE entity = 'US01'")[0][0]
    assert documents == {"INV100": Decimal("0.00"), "INV101": Decimal("0.00"), "INV103": Decimal("0.00"),
                         "CM400": Decimal("0.00"), "CM401": Decimal("0.00"), "CM402": Decimal("0.00"),
                         "CM403": Decimal("-80.00")}
    # the deposit's refund reads as paying back the deposit, through the application that links them
    assert sorted(receipts) == [("NS-210", Decimal("250.00"), None), ("NS-604", Decimal("-250.00"), "210")]
    assert Decimal(unapplied) == Decimal("0.00")   # PYMT503's 100.00 and DEP210's 250.00 were paid back


_SAGE = (
    TABLES["contacts"],
    JUNIPER,
    TABLES["sales_invoices"],
    "INSERT INTO raw_sage_accounting_sales_invoices VALUES "
    "('i1', 'UK01', 'SI-1024', 'c1', DATE '2026-10-01', DATE '2026-10-31', 1200.00, 0.00, 'GBP', 'PAID')",
    TABLES["sales_credit_notes"],
    # raised on SI-1024 once it was paid, then paid back to the customer; and one left as the customer's credit
    "INSERT INTO raw_sage_accounting_sales_credit_notes VALUES "
    "('n1', 'UK01', 'SCN-12', 'c1', DATE '2026-10-20', 'SI-1024', 95.40, 0.00, 'GBP', 'PAID'), "
    "('n2', 'UK01', 'SCN-13', 'c1', DATE '2026-10-21', NULL, 40.00, 40.00, 'GBP', 'UNPAID')",
    TABLES["contact_payments"],
    "INSERT INTO raw_sage_accounting_contact_payments VALUES "
    "('p1', 'UK01', 'c1', DATE '2026-10-15', 1200.00, 'GBP', 'SI-1024', 'CUSTOMER_RECEIPT'), "
    "('r1', 'UK01', 'c1', DATE '2026-10-25', 95.40, 'GBP', 'Refund SCN-12', 'CUSTOMER_REFUND'), "
    "('v1', 'UK01', 'c1', DATE '2026-10-26', 310.00, 'GBP', 'Rent', 'VENDOR_PAYMENT')",
    TABLES["payment_allocations"],
    "INSERT INTO raw_sage_accounting_payment_allocations VALUES "
    "('p1', 'i1', 'UK01', 1200.00), ('r1', 'n1', 'UK01', -95.40)",
)


def test_a_credit_note_sage_refunded_closes_on_the_refund(warehouse_config: WarehouseConfig) -> None:
    """No bank statement shows GBP: Sage's customer refund, allocated to SCN-12, is the only evidence. A vendor
    payment to the same contact is nobody's receipt."""
    with connect(warehouse_config) as engine:
        for statement in _SAGE:
            engine.execute(statement)
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        receipts = engine.query("SELECT payment_id, amount, erp_lettrage FROM stg_sage_accounting__payments ORDER BY 1")
        reconcile(engine, as_of=AS_OF)
        documents = dict(engine.query("SELECT invoice_number, amount_open FROM fct_invoice"))
        refunds = engine.query("SELECT invoice_id, payment_id, amount_applied, explanation FROM fct_match "
                               "WHERE rule = 'credit_note_refund' AND state = 'auto'")
    assert receipts == [("SAGEACC-p1", Decimal("1200.00"), "i1"), ("SAGEACC-r1", Decimal("-95.40"), "n1")]
    assert documents == {"SI-1024": Decimal("0.00"), "SCN-12": Decimal("0.00"), "SCN-13": Decimal("-40.00")}
    assert [r[:3] for r in refunds] == [("n1", "SAGEACC-r1", Decimal("-95.40"))]
    assert "refunded in the ERP (entry SAGEACC-r1) in GBP, which no bank statement shows" in refunds[0][3]


def _b1_doc(entry: int, total: str, paid: str, **more: Any) -> dict[str, Any]:
    return {"DocEntry": entry, "DocNum": 26000000 + entry, "DocDate": "2026-10-02T00:00:00Z",
            "DocDueDate": "2026-11-01T00:00:00Z", "CardCode": "C1", "CardName": "Construcciones Ruiz SL",
            "NumAtCard": None, "DocCurrency": "EUR", "DocTotal": Decimal(total), "DocTotalFc": Decimal("0"),
            "PaidToDate": Decimal(paid), "PaidToDateFC": Decimal("0"), "VatSum": Decimal("0"),
            "DocumentStatus": "bost_Close", "Cancelled": "tNO", "CancelStatus": "csNo",
            "UpdateDate": "2026-10-20T00:00:00Z", "UpdateTime": "10:00:00", **more}


def _b1_payment(entry: int, day: str, amount: str, **more: Any) -> dict[str, Any]:
    return {"DocEntry": entry, "DocNum": entry, "DocDate": f"2026-10-{day}T00:00:00Z", "CardCode": "C1",
            "CardName": "Construcciones Ruiz SL", "DocCurrency": "EUR", "TransferSum": Decimal(amount),
            "Cancelled": "tNO", "UpdateDate": f"2026-10-{day}T00:00:00Z", **more}


def _b1_line(payment: int, document: int, amount: str, kind: str) -> dict[str, Any]:
    return {"PaymentDocEntry": payment, "LineNum": 0, "entity": "ES01", "DocEntry": document,
            "SumApplied": Decimal(amount), "AppliedFC": Decimal("0"), "InvoiceType": kind, "CardCode": "C1",
            "PaymentDate": "2026-10-10"}


def test_a_credit_memo_b1_refunded_closes_on_the_outgoing_payment(warehouse_config: WarehouseConfig) -> None:
    """INV-20 was paid; credit memo CN-21 on it (based on INV-20) was paid back by outgoing payment 30. No EUR
    statement of ES01 is loaded: B1's word closes CN-21, and the invoice stays paid (the credit memo is not set
    against it as well). CN-22 is the customer's credit. An outgoing payment to a supplier is nobody's refund."""
    partners = [{"CardCode": "C1", "CardName": "Construcciones Ruiz SL", "CardType": "cCustomer", "Currency": "##",
                 "UpdateDate": "2026-01-02T00:00:00Z"}]
    tables = {
        "invoices": [_b1_doc(20, "1000.00", "1000.00")],
        "credit_notes": [_b1_doc(21, "120.00", "120.00", BaseEntry=20), _b1_doc(22, "45.00", "0", DocumentStatus="bost_Open")],
        "incoming_payments": [_b1_payment(20, "10", "1000.00")],
        "payment_invoices": [_b1_line(20, 20, "1000.00", "it_Invoice")],
        "outgoing_payments": [_b1_payment(30, "20", "120.00", DocType="rCustomer"),
                              _b1_payment(31, "21", "310.00", DocType="rSupplier", CardCode="S9")],
        "outgoing_payment_invoices": [_b1_line(30, 21, "120.00", "it_CredItnote")],
        "business_partners": partners,
    }
    run_pipeline("test_b1_refunds", [
        dlt.resource([r if "PaymentDocEntry" in r else to_row(r, "ES01") for r in rows], name=name,
                     table_name=f"raw_sap_b1_{name}", write_disposition="replace", columns=B1_COLUMNS[name])
        for name, rows in tables.items()], warehouse_config)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        receipts = engine.query("SELECT payment_id, amount, erp_lettrage FROM stg_sap_b1__payments ORDER BY 1")
        reconcile(engine, as_of=AS_OF)
        documents = dict(engine.query("SELECT invoice_id, amount_open FROM fct_invoice WHERE entity = 'ES01'"))
        refunds = engine.query("SELECT invoice_id, payment_id, amount_applied FROM fct_match "
                               "WHERE rule = 'credit_note_refund' AND state = 'auto'")
    assert receipts == [("B1-OUT-30", Decimal("-120.00"), "CN-21"), ("B1-PAY-20", Decimal("1000.00"), "INV-20")]
    assert documents == {"INV-20": Decimal("0.00"), "CN-21": Decimal("0.00"), "CN-22": Decimal("-45.00")}
    assert refunds == [("CN-21", "B1-OUT-30", Decimal("-120.00"))]
