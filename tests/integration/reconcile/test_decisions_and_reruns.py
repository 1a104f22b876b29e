"""Decisions survive re-runs, teach aliases; runs are idempotent and incremental."""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from lettrage.config import WarehouseConfig
from warehouse.reconcile import (
    confirm_match,
    export_lettrage_proposal,
    export_lettrage_proposals,
    reconcile,
    record_decision,
    reject_match,
)

from .conftest import AS_OF, Book, open_book

IBAN = "FR7630001007941234567890185"
PARENT_IBAN = "DE89370400440532013000"


def _snapshot(book: Book) -> tuple[list, list, list]:
    m = book.engine.query("SELECT match_id, amount_applied, state, matched_at FROM fct_match ORDER BY match_id")
    e = book.engine.query("SELECT exception_id, kind, opened_at, resolved_at FROM fct_reconciliation_exception "
                          "ORDER BY exception_id")
    i = book.engine.query("SELECT invoice_id, amount_open, status FROM fct_invoice ORDER BY invoice_id")
    return m, e, i


def test_rerun_is_idempotent(book: Book) -> None:
    book.customer("C1", "ACME", IBAN)
    book.invoice("I1", "100.00", number="FA-1")
    book.invoice("I2", "200.00")
    book.invoice("I3", "200.00")
    book.payment("P1", "100.00", "FA-1")
    book.payment("P2", "200.00", "x", payer_iban=IBAN)
    book.payment("P3", "9.00", "?")
    reconcile(book.engine, as_of=AS_OF)
    first = _snapshot(book)
    reconcile(book.engine, as_of=AS_OF)
    assert _snapshot(book) == first
    assert len(first[0]) == 3 and len(first[1]) == 2


def test_confirmed_suggestion_survives_and_rejected_is_never_proposed_again(book: Book) -> None:
    book.customer("C1", "ACME", IBAN)
    book.invoice("I1", "200.00")
    book.invoice("I2", "200.00")
    book.invoice("I3", "75.00", number="FA-3")
    book.payment("P1", "200.00", "x", payer_iban=IBAN)
    book.payment("P2", "75.00", "FA-3")
    reconcile(book.engine, as_of=AS_OF)
    suggestion = next(m for m in book.matches(states=("suggested",)) if m["invoice_id"] == "I2")
    confirm_match(book.engine, suggestion["match_id"], "alice", "customer called")
    auto = book.matches()[0]
    reject_match(book.engine, auto["match_id"], "bob", "wrong invoice")
    for _ in range(2):
        reconcile(book.engine, as_of=AS_OF)
        states = {(m["payment_id"], m["invoice_id"]): m["state"]
                  for m in book.matches(states=("auto", "confirmed", "rejected", "suggested"))}
        assert states == {("P1", "I2"): "confirmed", ("P2", "I3"): "rejected"}
        assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
        assert book.invoice_state("I3")[1] == Decimal("75.00")
        assert book.exception_kinds() == {"P2": "unmatched_payment"}  # its only candidate was rejected
        detail = book.exceptions()[0]["detail"]
        assert detail.startswith("its match to FA-3 was rejected by a person and no other invoice fits"), detail


def _confirmed_by_hand(book: Book, payment: str, invoice: str, amount: str) -> Any:
    """What the desk writes when a person pairs a payment with an invoice: the decision, and the aliases
    it teaches."""
    from warehouse.reconcile.decisions import Decision, learn_aliases

    decision = record_decision(book.engine, entity="FR01", kind="confirm_match", actor="alice", payment_id=payment,
                               invoice_id=invoice, amount=Decimal(amount), before={"rule": "manual", "currency": "EUR"})
    learn_aliases(book.engine, Decision.model_validate(decision.model_dump()))
    return decision


def _parent_pays_for_its_subsidiary(book: Book) -> None:
    """SUB owes I1 and I2; GROUPE HOLDING, its parent, pays I1 from its own account without a reference."""
    book.customer("SUB", "Filiale Nord", None)
    book.customer("PARENT", "Groupe Holding", PARENT_IBAN)
    book.invoice("I1", "500.00", customer="SUB", issue=date(2024, 5, 1))
    book.invoice("I2", "640.00", customer="SUB", issue=date(2024, 6, 1), due=date(2024, 7, 1))
    book.payment("P1", "500.00", "april", payer_iban=PARENT_IBAN, payer_name="GROUPE HOLDING")
    reconcile(book.engine, as_of=AS_OF)


def test_confirmed_match_teaches_parent_alias(book: Book) -> None:
    _parent_pays_for_its_subsidiary(book)
    assert book.exception_kinds() == {"P1": "unmatched_payment"}
    decision = _confirmed_by_hand(book, "P1", "I1", "500.00")
    book.payment("P2", "640.00", "june", payer_iban=PARENT_IBAN, payer_name="GROUPE HOLDING",
                 paid_on=date(2024, 6, 20))
    reconcile(book.engine, as_of=AS_OF)
    learned = {m["payment_id"]: m for m in book.matches()}
    assert learned["P2"]["rule"] == "learned_alias"
    assert decision.id in learned["P2"]["explanation"]
    assert learned["P1"]["state"] == "confirmed"


def test_a_taught_parent_paying_another_subsidiary_is_suggested_not_filed_under_the_first(book: Book) -> None:
    """One confirmation taught that GROUPE HOLDING pays for SUB. It then pays OTHER's invoice, without a
    reference, an amount none of SUB's items owes: the only open item of that amount is suggested (never
    applied), and the cash is not attributed to SUB while the suggestion stands. Confirming it teaches the
    second subsidiary, and the next payment for OTHER matches by the learned alias; in an incremental run too."""
    _parent_pays_for_its_subsidiary(book)
    book.customer("OTHER", "Filiale Sud", None)
    book.invoice("I3", "2268.00", customer="OTHER", issue=date(2024, 6, 1), due=date(2024, 7, 1))
    book.invoice("I4", "310.00", customer="OTHER", issue=date(2024, 6, 2), due=date(2024, 7, 2))
    _confirmed_by_hand(book, "P1", "I1", "500.00")
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    book.payment("P2", "2268.00", "VIREMENT GROUPE", payer_iban=PARENT_IBAN, payer_name="GROUPE HOLDING",
                 paid_on=date(2024, 6, 20))
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    [suggestion] = [m for m in book.matches(states=("suggested",)) if m["payment_id"] == "P2"]
    assert (suggestion["invoice_id"], suggestion["rule"]) == ("I3", "amount_only")
    assert not [m for m in book.matches() if m["payment_id"] == "P2"]
    [exc] = [e for e in book.exceptions() if e["payment_id"] == "P2"]
    assert exc["kind"] == "unmatched_payment" and exc["customer_id"] is None and "I3" in exc["detail"]
    confirm_match(book.engine, suggestion["match_id"], "alice", "the group pays Filiale Sud too")
    book.payment("P3", "310.00", "VIREMENT GROUPE", payer_iban=PARENT_IBAN, payer_name="GROUPE HOLDING",
                  paid_on=date(2024, 6, 25))
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert {(m["payment_id"], m["invoice_id"], m["rule"]) for m in book.matches() if m["payment_id"] == "P3"} == {
        ("P3", "I4", "learned_alias")}


def test_rejecting_a_confirmed_match_unlearns_its_payer_and_what_that_matched(book: Book) -> None:
    """Someone confirmed that GROUPE HOLDING's payment pays SUB's I1 (an alias is learnt, and June's
    payment is matched with it), then took it back: the alias goes, and June's payment, matched only
    through it, is judged again without it, in the very next incremental run."""
    _parent_pays_for_its_subsidiary(book)
    _confirmed_by_hand(book, "P1", "I1", "500.00")
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    book.payment("P2", "640.00", "june", payer_iban=PARENT_IBAN, payer_name="GROUPE HOLDING",
                 paid_on=date(2024, 6, 20))
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert {m["payment_id"]: m["rule"] for m in book.matches()}["P2"] == "learned_alias"
    confirmed = next(m for m in book.matches() if m["payment_id"] == "P1")
    reject_match(book.engine, confirmed["match_id"], "bob", "Groupe Holding does not pay for Filiale Nord")
    assert book.engine.query("SELECT count(*) FROM payer_alias")[0][0] == 0
    summary = reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert not summary.incremental  # the run state was made stale: every payment judged again
    auto = {(m["payment_id"], m["rule"]) for m in book.matches() if m["state"] in ("auto", "confirmed")}
    assert ("P2", "learned_alias") not in auto and not any(p == "P1" for p, _ in auto)
    assert book.invoice_state("I2")[1] == Decimal("640.00")


def test_dispute_write_off_and_resolve_exception_decisions(book: Book) -> None:
    book.invoice("I1", "100.00")
    book.invoice("I2", "50.00")
    book.payment("P1", "12.34", "?")
    reconcile(book.engine, as_of=AS_OF)
    exc = book.exceptions()[0]
    record_decision(book.engine, entity="FR01", kind="dispute", actor="carol", invoice_id="I1")
    record_decision(book.engine, entity="FR01", kind="write_off", actor="carol", invoice_id="I2")
    record_decision(book.engine, entity="FR01", kind="resolve_exception", actor="carol",
                    exception_id=exc["exception_id"], reason="refunded by hand")
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I1") == ("disputed", Decimal("100.00"))
    assert book.invoice_state("I2") == ("written_off", Decimal("0.00"))
    assert book.exceptions() == []
    assert len(book.exceptions(open_only=False)) == 1


def test_incremental_reconciles_only_new_payments(book: Book) -> None:
    for n in range(1, 6):
        book.invoice(f"I{n}", f"{n}00.00", number=f"FA-{n}")
        book.payment(f"P{n}", f"{n}00.00", f"FA-{n}") if n < 4 else None
    first = reconcile(book.engine, as_of=AS_OF)
    before = {m["match_id"]: m["matched_at"] for m in book.matches()}
    book.payment("P4", "400.00", "FA-4", paid_on=date(2024, 6, 25))
    second = reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert second.incremental and second.payments_in_scope == 1 and first.payments_in_scope == 3
    after = {m["match_id"]: m["matched_at"] for m in book.matches()}
    assert set(after) - set(before) and all(after[k] == v for k, v in before.items())
    assert book.invoice_state("I4") == ("paid", Decimal("0.00"))
    full = _snapshot(book)
    reconcile(book.engine, as_of=AS_OF)
    assert [r[:3] for r in _snapshot(book)[0]] == [r[:3] for r in full[0]]


def test_erp_lettrage_agreement_disagreement_and_proposal(book: Book, tmp_path: Path) -> None:
    book.invoice("I1", "100.00", number="FA-1", erp_lettrage="AA", erp_open="0")
    book.invoice("I2", "200.00", number="FA-2", erp_lettrage="AB", erp_open="0")
    book.invoice("I3", "50.00", number="FA-3", erp_lettrage="AC", erp_open="0")
    book.invoice("I4", "70.00", number="FA-4")
    book.invoice("I5", "90.00", number="FA-5", erp_lettrage="AD", erp_open="0")
    book.invoice("CN5", "-90.00", number="AV-5", doc_type="credit_note", erp_lettrage="AD", erp_open="0")
    book.payment("P1", "100.00", "FA-1")
    book.payment("P2", "250.00", "FA-2 FA-3")   # ERP settled them separately: disagreement
    book.payment("P4", "70.00", "FA-4")          # ERP lacks it: proposal
    book.payment("R1", "100.00", "VIR", channel="erp", paid_on=date(2024, 6, 11))  # the ERP's receipt of FA-1
    book.erp_settled("I1", "R1", date(2024, 6, 11), "AA", received="100.00")
    reconcile(book.engine, as_of=AS_OF)
    by_payment = {m["payment_id"]: m for m in book.matches()}
    assert Decimal(by_payment["P1"]["confidence"]) == Decimal("0.99") or by_payment["P1"]["confidence"] == 1
    assert "agrees with ERP lettrage AA" in by_payment["P1"]["explanation"]
    assert book.exception_kinds() == {"P2": "erp_disagreement"}
    assert book.invoice_state("I5") == ("credited", Decimal("0.00"))
    path = tmp_path / "proposal.csv"
    assert export_lettrage_proposal(book.engine, "FR01", path) == 1
    rows = list(csv.DictReader(path.open(), delimiter=";"))
    assert rows[0]["invoice_number"] == "FA-4" and rows[0]["lettrage_code"].startswith("L")
    # what the ERP needs to find both sides: its own document key, the money's date, channel and remittance
    assert (rows[0]["invoice_source_system"], rows[0]["invoice_source_id"], rows[0]["paid_on"],
            rows[0]["payment_channel"], rows[0]["payment_reference"]) == ("test", "I4", "2024-06-10", "bank_transfer",
                                                                        "FA-4")
    files = export_lettrage_proposals(book.engine, tmp_path / "erp", AS_OF)
    assert {e: n for e, (_, n) in files.items()} == {"FR01": 1}
    assert files["FR01"][0].name == f"lettrage-proposal-FR01-{AS_OF.isoformat()}.csv"


def test_a_payment_of_an_invoice_the_erp_lettered_with_a_credit_note_only_is_proposed(book: Book, tmp_path: Path) -> None:
    """Sage set credit note SCN-1 against SI-1042 (both carry its allocation code) and still shows 3,658.27 open;
    a direct debit then paid exactly that, which Sage never recorded. The proposal holds that payment (the ERP
    lacks it), not the credit note's application (the ERP made it). SI-1050, settled in the ERP by its own
    receipt, proposes nothing."""
    book.invoice("I1", "4877.70", number="SI-1042", erp_lettrage="ALLOC-7", erp_open="3658.27")
    book.invoice("CN1", "-1219.43", number="SCN-1", doc_type="credit_note", erp_lettrage="ALLOC-7", erp_open="0")
    book.invoice("I2", "500.00", number="SI-1050", erp_lettrage="ALLOC-8", erp_open="0")
    book.payment("P1", "3658.27", "SI-1042", channel="gocardless")
    book.payment("P2", "500.00", "SI-1050")
    book.payment("R2", "500.00", "SI-1050", channel="erp", paid_on=date(2024, 6, 11))
    book.erp_settled("I2", "R2", date(2024, 6, 11), "ALLOC-8", received="500.00")
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    path = tmp_path / "proposal.csv"
    assert export_lettrage_proposal(book.engine, "FR01", path) == 1
    (row,) = list(csv.DictReader(path.open(), delimiter=";"))
    assert (row["payment_id"], row["invoice_number"], row["amount_applied"]) == ("P1", "SI-1042", "3658.27")


def test_invoices_listing_the_same_receipt_agree_whatever_else_they_list(book: Book) -> None:
    """NetSuite lists what settled each invoice: INV-1 by receipt 7040, INV-2 by 7040 and credit memo 9033. A
    transfer paying both (less the memo) agrees with the ERP: no erp_disagreement. INV-3 and INV-4, settled by
    two different receipts, still disagree with a payment paying both."""
    book.invoice("I1", "100.00", number="INV-1", erp_lettrage="7040", erp_open="0")
    book.invoice("I2", "200.00", number="INV-2", erp_lettrage="7040,9033", erp_open="0")
    book.invoice("I3", "50.00", number="INV-3", erp_lettrage="7050", erp_open="0")
    book.invoice("I4", "60.00", number="INV-4", erp_lettrage="7051", erp_open="0")
    book.payment("P1", "300.00", "INV-1 INV-2")
    book.payment("P2", "110.00", "INV-3 INV-4")
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"P2": "erp_disagreement"}


def test_erp_settled_invoice_without_payment_is_flagged(book: Book) -> None:
    book.invoice("I1", "100.00", number="FA-1", erp_lettrage="ZZ", erp_open="0")
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"I1": "erp_disagreement"}


def test_an_invoice_the_erp_shows_paid_beyond_what_lettrage_applied_is_flagged(book: Book) -> None:
    """NetSuite applied receipt 7092 (11,985.34) to INV-1012 though the bank line's remittance names INV-1042,
    which Lettrage pays: INV-1012, partly paid in the ERP and not at all here, is an erp_disagreement saying how
    much the ERP shows paid. INV-1050, paid in part in both by the same amount, and INV-1060, which the ERP shows
    settled and Lettrage paid short within tolerance, are not."""
    book.invoice("I12", "13474.00", number="INV-1012", erp_lettrage="7092", erp_open="1488.66")
    book.invoice("I42", "11985.34", number="INV-1042")
    book.invoice("I50", "1000.00", number="INV-1050", erp_lettrage="7100", erp_open="600.00")
    book.invoice("I60", "500.00", number="INV-1060", erp_lettrage="7101", erp_open="0")
    book.payment("P1", "11985.34", "INV-1042")
    book.payment("P2", "400.00", "INV-1050")
    book.payment("P3", "499.98", "INV-1060")
    for incremental in (False, True):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.exception_kinds() == {"I12": "erp_disagreement"}
    (flagged,) = book.exceptions()
    assert flagged["detail"].startswith("ERP shows 11985.34 of invoice INV-1012 paid (7092) but Lettrage applied 0.00")
    assert Decimal(flagged["amount"]) == Decimal("11985.34")


def test_a_lettrage_code_without_a_balanced_erp_receipt_is_no_settlement(book: Book) -> None:
    """A FEC gives no open amount: an invoice is settled in the ERP only when its code balances with
    the ERP's receipt (int_erp_settlements). A partial lettering (lowercase `ab` in many packages)
    is not, so no disagreement; and a match to an invoice the ERP settled with a receipt of another
    amount does not "agree" with the ERP."""
    book.invoice("I1", "100.00", number="FA-1", erp_lettrage="ab")             # partially lettered
    book.invoice("I2", "300.00", number="FA-2", erp_lettrage="AC")             # settled by R2 (300)
    book.invoice("I3", "400.00", number="FA-3", erp_lettrage="AD")             # settled by R3 (400)
    book.payment("R2", "300.00", "VIR", channel="erp", paid_on=date(2024, 6, 11))
    book.payment("R3", "400.00", "VIR", channel="erp", paid_on=date(2024, 6, 11))
    book.erp_settled("I2", "R2", date(2024, 6, 11), "AC", received="300.00")
    book.erp_settled("I3", "R3", date(2024, 6, 11), "AD", received="400.00")
    book.payment("P3", "150.00", "FA-3")                                       # a partial payment of FA-3
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"I2": "erp_disagreement"}
    p3 = book.matches()[0]
    assert p3["payment_id"] == "P3" and "agrees with ERP" not in p3["explanation"]


def test_payout_composition_and_missing_deposit(book: Book) -> None:
    book.payout("po_ok", "97.00", bank_line_id="B1", components=[("100.00", "3.00")])
    book.payout("po_bad", "90.00", bank_line_id="B2", components=[("100.00", "3.00")])
    book.payout("po_lost", "50.00", arrival=date(2024, 6, 1), components=[("50.00", "0.00")])
    book.payout("po_recent", "50.00", arrival=date(2024, 6, 28), components=[("50.00", "0.00")])
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"po_bad": "payout_mismatch", "po_lost": "payout_not_banked"}


def test_a_payout_that_arrived_before_the_first_statement_is_not_missing(book: Book) -> None:
    """The statements begin on 1 June (a bank line loaded that day): a payout that arrived on 12 May cannot be on
    them, so it raises no payout_not_banked; one of 3 June, not found, still does."""
    book._insert("fct_bank_line", {"entity": book.entity, "bank_line_id": "B0", "booking_date": date(2024, 6, 1),
                                   "amount": Decimal("10.00"), "currency": "EUR", "source_system": "test",
                                   "source_id": "B0"})
    book.payout("po_before", "40.00", arrival=date(2024, 5, 12), components=[("40.00", "0.00")])
    book.payout("po_lost", "50.00", arrival=date(2024, 6, 3), components=[("50.00", "0.00")])
    reconcile(book.engine, as_of=AS_OF)
    assert {k: v for k, v in book.exception_kinds().items() if k.startswith("po_")} == {"po_lost": "payout_not_banked"}


def test_cli_writes_the_proposal_of_each_entity(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from lettrage.cli import app

    with open_book(warehouse_config) as book:
        book.invoice("I4", "70.00", number="FA-4")
        book.payment("P4", "70.00", "FA-4")
        reconcile(book.engine, as_of=AS_OF)
    result = CliRunner().invoke(app, ["proposals", "--out", str(tmp_path), "--as-of", AS_OF.isoformat()],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    path = tmp_path / f"lettrage-proposal-FR01-{AS_OF.isoformat()}.csv"
    assert f"FR01: 1 match(es) to letter in the ERP -> {path}" in result.output
    assert [r["invoice_id"] for r in csv.DictReader(path.open(encoding="utf-8"), delimiter=";")] == ["I4"]


def test_cli_lists_confirms_and_rejects_matches(warehouse_config: WarehouseConfig) -> None:
    """`lettrage matches`: the suggestion to look at, confirmed from a terminal and applied at once; an
    auto match rejected and never proposed again; both kept through the next run."""
    from typer.testing import CliRunner

    from lettrage.cli import app

    with open_book(warehouse_config) as book:
        book.invoice("I1", "321.00", number="FA-1")
        book.payment("P1", "321.00", "virement", payer_name="SOMEONE")  # amount only: a suggestion
        book.invoice("I2", "70.00", number="FA-2")
        book.payment("P2", "70.00", "FA-2")
        reconcile(book.engine, as_of=AS_OF)
        suggested = next(m["match_id"] for m in book.matches(states=("suggested",)) if m["payment_id"] == "P1")
        auto = next(m["match_id"] for m in book.matches() if m["payment_id"] == "P2")
    runner, env = CliRunner(), {"COLUMNS": "250"}
    listed = runner.invoke(app, ["matches", "list", "--entity", "FR01"], env=env)
    assert listed.exit_code == 0, listed.output
    assert suggested in listed.output and "FA-1" in listed.output and auto not in listed.output
    confirmed = runner.invoke(app, ["matches", "confirm", suggested, "--by", "alice", "--reason", "remittance by mail"],
                              env=env)
    assert confirmed.exit_code == 0, confirmed.output
    assert f"confirmed match {suggested} (FR01) as decision" in confirmed.output and "reconciled in" in confirmed.output
    rejected = runner.invoke(app, ["matches", "reject", auto, "--by", "bob", "--no-apply"], env=env)
    assert rejected.exit_code == 0 and "applied by the next sync" in rejected.output
    unknown = runner.invoke(app, ["matches", "reject", "nope", "--by", "bob"], env=env)
    assert unknown.exit_code == 2 and "no match 'nope'" in unknown.output
    with open_book(warehouse_config) as book:
        reconcile(book.engine, as_of=AS_OF, incremental=True)
        states = {m["payment_id"]: m["state"] for m in book.matches(states=("auto", "confirmed", "suggested"))}
        assert states == {"P1": "confirmed"}
        assert book.invoice_state("I1")[1] == Decimal("0.00") and book.invoice_state("I2")[1] == Decimal("70.00")
        assert {d["actor"] for d in book.engine.query_dicts("SELECT actor FROM decision")} == {"alice", "bob"}


def test_cli_assigns_a_payment_no_rule_proposed(warehouse_config: WarehouseConfig) -> None:
    """`lettrage matches assign`: a person applies a payment nobody could place (no reference, an amount no
    open item owes) to two invoices by number, one with the amount given, the other with what is left;
    kept through the next run. A wrong invoice or an amount beyond what the invoice owes is refused."""
    from typer.testing import CliRunner

    from lettrage.cli import app

    with open_book(warehouse_config) as book:
        book.invoice("I1", "300.00", number="FA-10")
        book.invoice("I2", "500.00", number="FA-11")
        book.payment("P1", "450.00", "virement groupe", payer_name="HOLDING")
        reconcile(book.engine, as_of=AS_OF)
        assert book.exception_kinds() == {"P1": "unmatched_payment"}
    runner, env = CliRunner(), {"COLUMNS": "250"}
    refused = runner.invoke(app, ["matches", "assign", "P1", "FA-99", "--by", "alice"], env=env)
    assert refused.exit_code == 2 and "no invoice 'FA-99' in FR01" in refused.output
    too_much = runner.invoke(app, ["matches", "assign", "P1", "FA-10=350.00", "--by", "alice"], env=env)
    assert too_much.exit_code == 2 and "more than invoice FA-10 still owes" in " ".join(too_much.output.split())
    done = runner.invoke(app, ["matches", "assign", "P1", "FA-10=300.00", "FA-11", "--by", "alice",
                               "--reason", "remittance by mail"], env=env)
    assert done.exit_code == 0, done.output
    assert "assigned payment P1 (FR01) to I1 300.00, I2 150.00" in done.output and "reconciled in" in done.output
    with open_book(warehouse_config) as book:
        reconcile(book.engine, as_of=AS_OF, incremental=True)
        assert book.pairs() == {("P1", "I1", Decimal("300.00")), ("P1", "I2", Decimal("150.00"))}
        assert {m["state"] for m in book.matches()} == {"confirmed"}
        assert book.invoice_state("I2") == ("partially_paid", Decimal("350.00"))
        assert book.exceptions() == []


def test_the_proposal_letters_what_belongs_together_and_completes_a_partial_lettering(book: Book,
                                                                                       tmp_path: Path) -> None:
    """The accountant imported last night's proposal: FA-125's line carries code LSX with the first 2,000.00 (a
    partial lettering: Sage letters the rest when it comes; a FEC gives no open amount of its own). Tonight the bank
    shows the other 2,800.00: the proposal holds it under LSX, not the 2,000.00 again. FA-127 was paid net of its
    credit note AV-1: the transfer, the invoice and the credit note share one code (a FEC line carries one)."""
    book.invoice("I125", "4800.00", number="FA-125", erp_lettrage="LSX")
    book.payment("P1A", "2000.00", "FA-125", paid_on=date(2024, 6, 1))
    book.payment("P1B", "2800.00", "FA-125", paid_on=date(2024, 6, 20))
    book.erp_receipt("R1", "2000.00", customer="C1", movement="BQ-1", booked=date(2024, 6, 3), code="LSX")
    book.invoice("I127", "3000.00", number="FA-127", issue=date(2024, 5, 2))
    book.invoice("AV1", "-600.00", number="AV-1", doc_type="credit_note", issue=date(2024, 5, 20),
                 description="Avoir AV-1 sur facture FA-127")
    book.payment("P2", "2400.00", "FA-127 moins avoir AV-1")
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I125") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I127") == ("paid", Decimal("0.00"))
    path = tmp_path / "proposal.csv"
    export_lettrage_proposal(book.engine, "FR01", path)
    rows = {(r["payment_id"], r["invoice_number"], r["amount_applied"], r["lettrage_code"])
            for r in csv.DictReader(path.open(), delimiter=";")}
    code = next(c for p, _, _, c in rows if p == "P2")
    assert rows == {("P1B", "FA-125", "2800.00", "LSX"), ("P2", "FA-127", "2400.00", code),
                    ("AV1", "FA-127", "600.00", code)}
