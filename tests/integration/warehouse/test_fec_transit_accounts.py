"""Cheques and bills of exchange reach the bank through transit accounts, on DuckDB and Postgres.

A French accountant books a cheque 5112/411 when it arrives and 512/5112 when the deposit is credited;
an LCR (lettre de change relevé) 413/411 when the customer accepts it, 5113/413 when it is remitted for
collection and 512/5113 when the bank credits the bordereau. The bank entry holds no customer line: the
lettering of 5112, 5113 and 413 links it to those that do, and the bank credit of the deposit or the
bordereau pays the invoices those lines settled.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import connect
from warehouse.reconcile import reconcile

from .raw_book import BANK, _fec, load_raw_book

AS_OF = date(2025, 4, 30)

ENTRIES = [
    # two invoices paid by LCR, one by cheque
    _fec("30", "VE", 1, "411000", "C001", "FA-2025-000301", date(2025, 2, 3), "1000.00", "0.00", "AB"),
    _fec("30", "VE", 2, "706000", "", "FA-2025-000301", date(2025, 2, 3), "0.00", "1000.00"),
    _fec("31", "VE", 1, "411000", "C002", "FA-2025-000302", date(2025, 2, 4), "500.00", "0.00", "AA"),
    _fec("31", "VE", 2, "706000", "", "FA-2025-000302", date(2025, 2, 4), "0.00", "500.00"),
    _fec("32", "VE", 1, "411000", "C001", "FA-2025-000303", date(2025, 2, 5), "300.00", "0.00", "AC"),
    _fec("32", "VE", 2, "706000", "", "FA-2025-000303", date(2025, 2, 5), "0.00", "300.00"),
    # the bills accepted at the end of the month (413 lettered XA, XB with the remittance)
    _fec("1", "EF", 1, "413000", "", "LCR1", date(2025, 2, 28), "1000.00", "0.00", "XA"),
    _fec("1", "EF", 2, "411000", "C001", "LCR1", date(2025, 2, 28), "0.00", "1000.00", "AB"),
    _fec("2", "EF", 1, "413000", "", "LCR2", date(2025, 2, 28), "500.00", "0.00", "XB"),
    _fec("2", "EF", 2, "411000", "C002", "LCR2", date(2025, 2, 28), "0.00", "500.00", "AA"),
    # remitted for collection (5113 lettered YA with the bank's credit of the bordereau)
    _fec("3", "EF", 1, "511300", "", "BRD001", date(2025, 3, 20), "1500.00", "0.00", "YA"),
    _fec("3", "EF", 2, "413000", "", "BRD001", date(2025, 3, 20), "0.00", "1000.00", "XA"),
    _fec("3", "EF", 3, "413000", "", "BRD001", date(2025, 3, 20), "0.00", "500.00", "XB"),
    _fec("40", "BQ", 1, "512000", "", "BRD001", date(2025, 3, 31), "1500.00", "0.00"),
    _fec("40", "BQ", 2, "511300", "", "BRD001", date(2025, 3, 31), "0.00", "1500.00", "YA"),
    # a cheque received, then deposited (5112 lettered ZA)
    _fec("1", "RCH", 1, "511200", "", "REM4726", date(2025, 3, 10), "300.00", "0.00", "ZA"),
    _fec("1", "RCH", 2, "411000", "C001", "REM4726", date(2025, 3, 10), "0.00", "300.00", "AC"),
    _fec("41", "BQ", 1, "512000", "", "REM4726", date(2025, 3, 12), "300.00", "0.00"),
    _fec("41", "BQ", 2, "511200", "", "REM4726", date(2025, 3, 12), "0.00", "300.00", "ZA"),
]


def _credit(line_id: str, amount: str, booked: date, remittance: str) -> dict[str, object]:
    return {**BANK[0], "bank_line_id": line_id, "amount": Decimal(amount), "booking_date": booked,
            "value_date": booked, "counterparty_name": None, "counterparty_iban": None, "end_to_end_id": None,
            "bank_tx_code": "PMNT/DRFT/STAM" if "LCR" in remittance else "PMNT/RCHQ/CCHQ",
            "remittance_unstructured": remittance}


def test_a_deposit_and_a_bordereau_pay_what_their_cheques_and_bills_settled(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config, more_fec_lines=ENTRIES, more_bank_lines=(
        _credit("LCR-1", "1500.00", date(2025, 3, 31), "REMISE LCR BRD001"),
        _credit("CHQ-1", "300.00", date(2025, 3, 12), "REMISE CHEQUES 4726"),
    ))
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        receipts = {(r["payment_id"], r["movement_id"], r["customer_id"], r["amount"], r["erp_lettrage"])
                    for r in engine.query_dicts("SELECT payment_id, movement_id, customer_id, amount, erp_lettrage "
                                                "FROM int_erp_receipts WHERE movement_id IN "
                                                "('sage_fec:BQ-40', 'sage_fec:BQ-41')")}
        bills = {r[0]: (r[1], r[2]) for r in engine.query("SELECT bill_id, amount, kind FROM int_bills")}
        collected = {r[0] for r in engine.query("SELECT payment_id FROM fct_payment WHERE payment_id LIKE 'FEC-EF-%' "
                                                "OR payment_id LIKE 'FEC-RCH-%'")}
        reconcile(engine, as_of=AS_OF)
        matches = {(r["payment_id"], r["invoice_id"], r["amount_applied"], r["rule"]) for r in engine.query_dicts(
            "SELECT payment_id, invoice_id, amount_applied, rule FROM fct_match WHERE payment_id IN ('LCR-1', 'CHQ-1') "
            "AND state = 'auto'")}
        open_ = dict(engine.query("SELECT invoice_id, amount_open FROM fct_invoice WHERE invoice_id LIKE 'FA-2025-0003%'"))
        exceptions = engine.query("SELECT kind, payment_id FROM fct_reconciliation_exception "
                                  "WHERE resolved_at IS NULL AND payment_id IN ('LCR-1', 'CHQ-1')")

    # the acceptances' and the cheque's customer lines are the bank entries' receipts (the remittance, an
    # entry of transit accounts only, is the hop between)
    assert receipts == {
        ("FEC-EF-1-2", "sage_fec:BQ-40", "C001", Decimal("1000.00"), "AB"),
        ("FEC-EF-2-2", "sage_fec:BQ-40", "C002", Decimal("500.00"), "AA/C002"),  # AA is also C001's code
        ("FEC-RCH-1-2", "sage_fec:BQ-41", "C001", Decimal("300.00"), "AC"),
    }
    # the acceptances are bills and the cheque received a cheque (money on its way until collected), all collected
    assert bills == {"FEC-EF-1-2": (Decimal("1000.00"), "bill"), "FEC-EF-2-2": (Decimal("500.00"), "bill"),
                     "FEC-RCH-1-2": (Decimal("300.00"), "cheque")}
    assert set(bills) == collected
    assert matches == {("LCR-1", "FA-2025-000301", Decimal("1000.00"), "erp_receipt"),
                       ("LCR-1", "FA-2025-000302", Decimal("500.00"), "erp_receipt"),
                       ("CHQ-1", "FA-2025-000303", Decimal("300.00"), "erp_receipt")}
    assert set(open_.values()) == {Decimal("0.00")}
    assert exceptions == []


# C002's bill (FA-2025-000302, collected in the bordereau of 31 March) comes back unpaid on 4 April: the bank
# debits 500.00 and the accountant books the customer's 411 back against the bank (lettered AE, open in the ERP).
RETURNED = [
    _fec("42", "BQ", 1, "411000", "C002", "IMPLCR2", date(2025, 4, 4), "500.00", "0.00", "AE"),
    _fec("42", "BQ", 2, "512000", "", "IMPLCR2", date(2025, 4, 4), "0.00", "500.00"),
]
RETURN_LINE = {**_credit("RET-1", "500.00", date(2025, 4, 4), "LCR IMPAYEE BRD001"), "amount": Decimal("-500.00"),
               "credit_debit": "DBIT", "bank_tx_code": "PMNT/DRFT/UDFT"}
# ... and C002 pays it again by transfer on 20 April, lettered with the reinstated line
PAID_AGAIN = [
    _fec("43", "BQ", 1, "512000", "", "VIR", date(2025, 4, 20), "500.00", "0.00"),
    _fec("43", "BQ", 2, "411000", "C002", "VIR", date(2025, 4, 20), "0.00", "500.00", "AE"),
]
TRANSFER = {**_credit("VIR-9", "500.00", date(2025, 4, 20), "REGLEMENT FA-2025-000302"),
            "bank_tx_code": "PMNT/RCDT/ESCT"}
BORDEREAU = (_credit("LCR-1", "1500.00", date(2025, 3, 31), "REMISE LCR BRD001"),
             _credit("CHQ-1", "300.00", date(2025, 3, 12), "REMISE CHEQUES 4726"))


def _state(engine) -> tuple[dict, set, list]:  # type: ignore[no-untyped-def]
    open_ = dict(engine.query("SELECT invoice_id, amount_open FROM fct_invoice WHERE invoice_id LIKE 'FA-2025-0003%'"))
    matches = {(r[0], r[1], r[2]) for r in engine.query(
        "SELECT payment_id, invoice_id, amount_applied FROM fct_match WHERE state = 'auto' "
        "AND payment_id IN ('LCR-1', 'VIR-9')")}
    exceptions = engine.query_dicts(
        "SELECT kind, payment_id, invoice_id, amount, detail, resolved_at IS NOT NULL AS closed "
        "FROM fct_reconciliation_exception WHERE payment_id IN ('LCR-1', 'VIR-9') ORDER BY kind")
    return open_, matches, exceptions


def test_a_bill_returned_unpaid_pays_nothing_and_its_invoice_is_owed_again(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config, more_fec_lines=ENTRIES + RETURNED, more_bank_lines=(*BORDEREAU, RETURN_LINE))
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        returned = engine.query("SELECT payment_id, returned_on, returned_by FROM int_erp_receipts "
                                "WHERE returned_by IS NOT NULL")
        reconcile(engine, as_of=AS_OF)
        open_, matches, exceptions = _state(engine)

    # the return names the bill it sends back: C002's, of its amount, collected before it
    assert returned == [("FEC-EF-2-2", date(2025, 4, 4), "sage_fec:BQ-42")]
    # the bordereau pays the bill that was honoured, not the one that came back; no overpayment either
    assert matches == {("LCR-1", "FA-2025-000301", Decimal("1000.00"))}
    assert open_ == {"FA-2025-000301": Decimal("0.00"), "FA-2025-000302": Decimal("500.00"),
                     "FA-2025-000303": Decimal("0.00")}
    [exc] = exceptions
    assert (exc["kind"], exc["invoice_id"], exc["amount"], exc["closed"]) == (
        "failed_debit", "FA-2025-000302", Decimal("500.00"), False)
    assert "returned unpaid on 2025-04-04 (sage_fec:BQ-42)" in exc["detail"]
    assert "still owed: FA-2025-000302" in exc["detail"]


def test_a_returned_bill_paid_again_closes_its_exception(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config, more_fec_lines=ENTRIES + RETURNED + PAID_AGAIN,
                  more_bank_lines=(*BORDEREAU, RETURN_LINE, TRANSFER))
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        open_, matches, exceptions = _state(engine)

    assert matches == {("LCR-1", "FA-2025-000301", Decimal("1000.00")),
                       ("VIR-9", "FA-2025-000302", Decimal("500.00"))}
    assert set(open_.values()) == {Decimal("0.00")}
    # raised closed: nothing left to chase, and the bordereau's 500.00 is not customer credit
    assert [(e["kind"], e["closed"]) for e in exceptions] == [("failed_debit", True)]
    assert exceptions[0]["detail"].endswith("since paid [closed: settled since]")


def test_a_return_booked_after_the_last_run_reopens_the_invoice_incrementally(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config, more_fec_lines=ENTRIES, more_bank_lines=BORDEREAU)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        assert _state(engine)[0]["FA-2025-000302"] == Decimal("0.00")
    load_raw_book(warehouse_config, more_fec_lines=ENTRIES + RETURNED, more_bank_lines=(*BORDEREAU, RETURN_LINE))
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        summary = reconcile(engine, as_of=AS_OF, incremental=True)
        incremental = _state(engine)
        reconcile(engine, as_of=AS_OF)
        full = _state(engine)

    assert summary.incremental
    assert incremental[0]["FA-2025-000302"] == Decimal("500.00")
    assert incremental == full


def test_a_bill_the_bank_nets_from_the_bordereau_is_returned_without_counting_twice(
        warehouse_config: WarehouseConfig) -> None:
    # the bank credits the bordereau net of the unpaid bill (1,000.00), and the accountant books the return
    # in the collection's own entry: 512 1,000.00 and 411 C002 500.00 in debit against 5113 1,500.00
    netted = [e for e in ENTRIES if not (e["journal_code"] == "BQ" and e["ecriture_num"] == "40")] + [
        _fec("40", "BQ", 1, "512000", "", "BRD001", date(2025, 3, 31), "1000.00", "0.00"),
        _fec("40", "BQ", 2, "411000", "C002", "BRD001", date(2025, 3, 31), "500.00", "0.00", "AE"),
        _fec("40", "BQ", 3, "511300", "", "BRD001", date(2025, 3, 31), "0.00", "1500.00", "YA"),
    ]
    load_raw_book(warehouse_config, more_fec_lines=netted, more_bank_lines=(
        _credit("LCR-1", "1000.00", date(2025, 3, 31), "REMISE LCR BRD001"), BORDEREAU[1]))
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        open_, matches, exceptions = _state(engine)

    assert matches == {("LCR-1", "FA-2025-000301", Decimal("1000.00"))}
    assert open_["FA-2025-000302"] == Decimal("500.00")
    assert [(e["kind"], e["amount"], e["closed"]) for e in exceptions] == [("failed_debit", Decimal("500.00"), False)]


def test_a_cheque_returned_unpaid_reopens_its_invoice(warehouse_config: WarehouseConfig) -> None:
    # C001's cheque for FA-2025-000303, deposited on 12 March, bounces on 20 March (chèque impayé)
    bounced = [_fec("44", "BQ", 1, "411000", "C001", "CHQIMP", date(2025, 3, 20), "300.00", "0.00"),
               _fec("44", "BQ", 2, "512000", "", "CHQIMP", date(2025, 3, 20), "0.00", "300.00")]
    back = {**_credit("RET-2", "300.00", date(2025, 3, 20), "CHEQUE IMPAYE 0004726"), "amount": Decimal("-300.00"),
            "credit_debit": "DBIT", "bank_tx_code": "PMNT/RCHQ/UPCQ"}
    load_raw_book(warehouse_config, more_fec_lines=ENTRIES + bounced, more_bank_lines=(*BORDEREAU, back))
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        open_ = dict(engine.query("SELECT invoice_id, amount_open FROM fct_invoice WHERE invoice_id LIKE 'FA-2025-0003%'"))
        matches = engine.query("SELECT invoice_id FROM fct_match WHERE payment_id = 'CHQ-1'")
        exceptions = engine.query("SELECT kind, invoice_id, amount FROM fct_reconciliation_exception "
                                  "WHERE payment_id = 'CHQ-1' AND resolved_at IS NULL")

    assert open_ == {"FA-2025-000301": Decimal("0.00"), "FA-2025-000302": Decimal("0.00"),
                     "FA-2025-000303": Decimal("300.00")}
    assert matches == []
    assert exceptions == [("failed_debit", "FA-2025-000303", Decimal("300.00"))]
