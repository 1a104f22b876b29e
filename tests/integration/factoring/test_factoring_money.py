"""After the handoff: invoices flagged factored, the factor's money reconciled, strays flagged, the mart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from actions.factoring.mart import build_mart_factoring, read_mart
from actions.factoring.outbox import run_contract
from actions.factoring.settlement import PAID_TO_US, reconcile_settlements
from mappings.factoring import FactorContract
from tests.integration.factoring.conftest import AS_OF, ELIGIBLE, INVOICES, E, FactoringBook
from tests.integration.factoring.sftp_server import LoopbackSftp
from warehouse.reconcile import reconcile
from warehouse.schema import ensure_table
from warehouse.shapes import SHAPES


def _int_invoices(book: FactoringBook) -> None:
    ensure_table(book.engine, "int_invoices", SHAPES["invoices"])
    for iid, cid, issue, due, amount, disputed in INVOICES:
        book.insert("int_invoices", {
            "entity": E, "invoice_id": iid, "invoice_number": f"F-{iid}", "customer_id": cid, "doc_type": "invoice",
            "issue_date": date.fromisoformat(issue), "due_date": date.fromisoformat(due), "currency": "EUR",
            "amount_total": Decimal(amount), "disputed": disputed, "source_system": "test", "source_id": iid})


def test_assigned_invoices_are_factored_and_stray_payments_flagged(
        fbook: FactoringBook, contract: FactorContract, sftp: LoopbackSftp, tmp_path: Path) -> None:
    _int_invoices(fbook)
    reconcile(fbook.engine, as_of=AS_OF)
    assert not fbook.rows("SELECT * FROM fct_invoice WHERE factored")
    run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path)

    reconcile(fbook.engine, as_of=AS_OF)  # 70_invoice.sql reads fct_factoring_assignment
    status = {r["invoice_id"]: (r["status"], r["factored"]) for r in fbook.rows("SELECT * FROM fct_invoice")}
    assert {i for i, (s, f) in status.items() if f} == ELIGIBLE
    assert all(status[i][0] == "factored" for i in ELIGIBLE)
    assert status["P1"] == ("open", False)

    # the customer pays A1 to us by mistake after the assignment
    fbook.insert("fct_payment", {"entity": E, "payment_id": "PAY1", "channel": "bank_transfer", "customer_id": "C1",
                                 "amount": Decimal("1000.00"), "fee": Decimal("0"), "currency": "EUR",
                                 "paid_on": date(2026, 11, 28), "status": "succeeded", "reference": "F-A1",
                                 "payer_name": "Risky SARL", "source_system": "test", "source_id": "PAY1"})
    reconcile(fbook.engine, as_of=date(2026, 11, 30))
    result = reconcile_settlements(fbook.engine, contract, E)
    assert result[PAID_TO_US] == 1
    (exc,) = fbook.rows("SELECT * FROM factoring_exception WHERE resolved_at IS NULL")
    assert (exc["kind"], exc["invoice_id"], exc["payment_id"], Decimal(exc["amount"])) == (
        PAID_TO_US, "A1", "PAY1", Decimal("1000.00"))
    # a re-run keeps the same exception (same id, same opened_at)
    reconcile_settlements(fbook.engine, contract, E)
    (again,) = fbook.rows("SELECT * FROM factoring_exception")
    assert again["exception_id"] == exc["exception_id"] and again["opened_at"] == exc["opened_at"]


def test_advance_and_reserve_follow_the_batch(fbook: FactoringBook, contract: FactorContract, sftp: LoopbackSftp,
                                              tmp_path: Path) -> None:
    report = run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path)
    batch_id = report.planned
    (batch,) = fbook.rows("SELECT * FROM factoring_batch")
    net = Decimal(batch["net_advance"])
    # advance 5100.00; commission 0.75 % of 6000 = 45.00; financing 4.8 %/360 on each advance until due + 10 days
    assert Decimal(batch["advance_amount"]) == Decimal("5100.00") and Decimal(batch["commission"]) == Decimal("45.00")
    assert net == Decimal("5100.00") - Decimal("45.00") - Decimal(batch["financing_fee"])

    fbook.bank_line("BL1", str(net), f"VIR AFFACTURAGE AVANCE {batch_id}")
    fbook.bank_line("BL2", "600.00", f"LIBERATION RESERVE {batch_id}", iban=None, booked=date(2026, 12, 20))
    fbook.bank_line("BL3", "77.00", "AFFACTURAGE REGULARISATION", iban=None)
    fbook.bank_line("BL4", "999.00", f"SOMEONE ELSE {batch_id}", name="OTHER SA", iban="FR7600000000000000000000000")
    reconcile_settlements(fbook.engine, contract, E)

    kinds = {r["bank_line_id"]: (r["kind"], r["batch_id"]) for r in fbook.rows("SELECT * FROM factoring_settlement")}
    assert kinds == {"BL1": ("advance", batch_id), "BL2": ("reserve_release", batch_id), "BL3": ("unallocated", None)}
    statuses = {r["status"] for r in fbook.rows("SELECT status FROM fct_factoring_assignment")}
    assert statuses == {"financed"}  # reserve 900.00 only partly released

    build_mart_factoring(fbook.engine, date(2026, 12, 31))
    (mart,) = read_mart(fbook.engine, E)
    assert Decimal(mart["financed_amount"]) == Decimal("6000.00")
    assert Decimal(mart["advance_received"]) == net
    assert Decimal(mart["fees_paid"]) == Decimal("5100.00") - net
    assert Decimal(mart["reserve_outstanding"]) == Decimal("300.00")
    assert Decimal(mart["open_factored"]) == Decimal("6000.00")
    # credit sales of the 90 days to 2026-12-31: every invoice but L2 (issued in June) = 12000.00
    assert Decimal(mart["credit_sales_90d"]) == Decimal("12000.00")
    assert Decimal(mart["dso_effect_days"]) == Decimal("45.00")

    fbook.bank_line("BL5", "300.00", f"RELEASE RESERVE {batch_id}", booked=date(2027, 1, 20))
    reconcile_settlements(fbook.engine, contract, E)
    assert {r["status"] for r in fbook.rows("SELECT status FROM fct_factoring_assignment")} == {"settled"}


def test_collections_fees_and_transfers_follow_the_factors_book(
        fbook: FactoringBook, contract: FactorContract, sftp: LoopbackSftp, tmp_path: Path) -> None:
    """The factor collects A1 (it releases A1's reserve), debits its commission apart, and a payment of A2
    we received is sent on: A1 leaves what the factor carries, the fee is paid, nothing is left to transfer."""
    from actions.factoring.selection import outstanding_by_customer

    _int_invoices(fbook)
    reconcile(fbook.engine, as_of=AS_OF)
    batch_id = run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path).planned
    reconcile(fbook.engine, as_of=AS_OF)
    (batch,) = fbook.rows("SELECT * FROM factoring_batch")
    net = Decimal(batch["net_advance"])
    fbook.insert("fct_payment", {"entity": E, "payment_id": "PAY2", "channel": "bank_transfer", "customer_id": "C1",
                                 "amount": Decimal("2000.00"), "fee": Decimal("0"), "currency": "EUR",
                                 "paid_on": date(2026, 12, 2), "status": "succeeded", "reference": "FACTURE F-A2",
                                 "payer_name": "Risky SARL", "source_system": "test", "source_id": "PAY2"})
    reconcile(fbook.engine, as_of=date(2026, 12, 5))
    assert outstanding_by_customer(fbook.engine, contract, E) == {"C1": Decimal("1000.00"), "C2": Decimal("3000.00")}

    fbook.bank_line("BL1", str(net), f"VIR AFFACTURAGE AVANCE {batch_id}")
    fbook.bank_line("BL2", "150.00", "LIBERATION RESERVE F-A1", booked=date(2026, 12, 3))
    fbook.bank_line("BL3", "-45.00", f"COMMISSION AFFACTURAGE {batch_id}", booked=date(2026, 12, 3))
    fbook.bank_line("BL4", "-1500.00", "REVERSEMENT REGLEMENT CLIENT F-A2", booked=date(2026, 12, 4))
    result = reconcile_settlements(fbook.engine, contract, E)
    assert (result["collected"], result[PAID_TO_US], result["transferred"]) == (1, 1, 0)
    (exc,) = fbook.rows("SELECT * FROM factoring_exception WHERE resolved_at IS NULL")
    assert (exc["payment_id"], Decimal(exc["amount"]), exc["bank_line_id"]) == ("PAY2", Decimal("500.00"), "BL4")
    assert "1500.00 EUR of 2000.00 transferred on 2026-12-04" in exc["detail"]
    assert str(exc["opened_at"])[:10] == "2026-12-02"  # the day the money reached us
    # the factor still carries what we have not sent on: L1 owed by its debtor, 500.00 of A2 with us
    build_mart_factoring(fbook.engine, date(2026, 12, 31))
    (mart,) = read_mart(fbook.engine, E)
    assert Decimal(mart["open_factored"]) == Decimal("3500.00")

    fbook.bank_line("BL5", "-500.00", "VIREMENT", booked=date(2026, 12, 8))  # names nothing: the amount left
    result = reconcile_settlements(fbook.engine, contract, E)
    assert (result[PAID_TO_US], result["transferred"]) == (0, 1)
    (exc,) = fbook.rows("SELECT * FROM factoring_exception")
    assert str(exc["resolved_at"])[:10] == "2026-12-08" and Decimal(exc["amount"]) == Decimal("2000.00")
    kinds = {r["bank_line_id"]: r["kind"] for r in fbook.rows("SELECT * FROM factoring_settlement")}
    assert kinds == {"BL1": "advance", "BL2": "reserve_release", "BL3": "fee", "BL4": "transfer", "BL5": "transfer"}
    (release,) = fbook.rows("SELECT * FROM factoring_settlement WHERE bank_line_id = 'BL2'")
    assert (release["batch_id"], Decimal(release["expected_amount"])) == (batch_id, Decimal("150.00"))
    statuses = {r["invoice_id"]: r["status"] for r in fbook.rows("SELECT * FROM fct_factoring_assignment")}
    assert statuses == {"A1": "collected", "A2": "financed", "L1": "financed"}
    # the concentration book: A1 collected by the factor, A2 paid (and sent on)
    assert outstanding_by_customer(fbook.engine, contract, E) == {"C1": Decimal("0.00"), "C2": Decimal("3000.00")}

    build_mart_factoring(fbook.engine, date(2026, 12, 31))
    (mart,) = read_mart(fbook.engine, E)
    assert Decimal(mart["fees_paid"]) == Decimal("5100.00") - net + Decimal("45.00")
    assert Decimal(mart["open_factored"]) == Decimal("3000.00")
    assert (Decimal(mart["to_transfer"]), Decimal(mart["transferred_to_factor"])) == (Decimal("0.00"),
                                                                                       Decimal("2000.00"))
    assert Decimal(mart["reserve_released"]) == Decimal("150.00")
    # re-run: the same rows
    before = fbook.rows("SELECT * FROM factoring_exception ORDER BY exception_id")
    reconcile_settlements(fbook.engine, contract, E)
    assert fbook.rows("SELECT * FROM factoring_exception ORDER BY exception_id") == before
