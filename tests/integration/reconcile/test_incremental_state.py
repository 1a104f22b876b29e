"""Incremental runs reuse what earlier runs kept (invoice keys, invoice state) and agree with a full run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from warehouse.reconcile import reconcile

from .conftest import AS_OF, Book


def _state(book: Book) -> tuple[list, list, list]:
    m = book.engine.query("SELECT payment_id, invoice_id, amount_applied, rule, state FROM fct_match "
                          "ORDER BY payment_id, invoice_id, rule")
    i = book.engine.query("SELECT invoice_id, amount_open, status FROM fct_invoice ORDER BY invoice_id")
    e = book.engine.query("SELECT kind, payment_id FROM fct_reconciliation_exception WHERE resolved_at IS NULL "
                          "ORDER BY kind, payment_id")
    return m, i, e


def _assert_a_full_run_agrees(book: Book) -> None:
    """A full run over the same book says what the incremental run just said."""
    incremental = _state(book)
    reconcile(book.engine, as_of=AS_OF)
    assert _state(book) == incremental


def _keys(book: Book, invoice_id: str) -> set[str]:
    """The reference keys reconcile_invoice_key keeps for one invoice (a column per key kind)."""
    rows = book.engine.query("SELECT k1, k2, k3, k4 FROM reconcile_invoice_key WHERE invoice_id = :i", {"i": invoice_id})
    return {str(k) for row in rows for k in row if k is not None}


def _two_paid_invoices(book: Book) -> None:
    """I1 (100) and I2 (200) each paid by a payment citing its number, after a full run: the
    starting point of the tests that then change a payment behind the reconciler's back."""
    book.invoice("I1", "100.00", number="FA-1")
    book.invoice("I2", "200.00", number="FA-2")
    book.payment("P1", "100.00", "FA-1")
    book.payment("P2", "200.00", "FA-2")
    reconcile(book.engine, as_of=AS_OF)


def test_incremental_rekeys_changed_invoices_and_matches_a_full_run(book: Book) -> None:
    book.customer("C1", "ACME")
    book.invoice("I1", "100.00", number="FA-2024-0001")
    book.invoice("I2", "250.00", number="TMP-7")           # renumbered by the ERP later
    book.invoice("I3", "80.00", number="FA-2024-0003")     # its payment arrives later
    book.payment("P1", "100.00", "FA-2024-0001")
    book.payment("P2", "250.00", "Facture FA-2024-0002")  # names the number I2 will get
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds()["P2"] == "unmatched_payment"
    keys = _keys(book, "I2")
    assert "TMP-7" in keys

    book.engine.execute("UPDATE int_invoices SET invoice_number = 'FA-2024-0002' WHERE invoice_id = 'I2'")
    book.payment("P3", "80.00", "Rechnung FA2024-0003", paid_on=date(2024, 6, 20))
    summary = reconcile(book.engine, as_of=AS_OF, incremental=True)

    assert summary.incremental and summary.payments_in_scope == 2  # P2 (unresolved) and P3 (new); P1 kept
    keys = _keys(book, "I2")
    assert "TMP-7" not in keys and "FA-2024-0002" in keys
    assert ("P2", "I2", Decimal("250.00")) in book.pairs() and ("P3", "I3", Decimal("80.00")) in book.pairs()
    assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))  # untouched by the run, still there
    _assert_a_full_run_agrees(book)


def test_incremental_with_a_new_as_of_date_moves_overdue_everywhere(book: Book) -> None:
    book.invoice("I1", "100.00", due=date(2024, 7, 15))
    book.invoice("I2", "300.00", number="FA-9", due=date(2024, 7, 15))
    book.payment("P1", "300.00", "FA-9")
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I1") == ("open", Decimal("100.00"))
    reconcile(book.engine, as_of=date(2024, 7, 31), incremental=True)  # nothing new, but time passed
    assert book.invoice_state("I1") == ("overdue", Decimal("100.00"))
    assert book.invoice_state("I2") == ("paid", Decimal("0.00"))


def test_unresolved_payment_is_rerun_only_when_what_it_can_reach_moved(book: Book) -> None:
    book.customer("C1", "ACME", iban="FR7600000000000000000000001")
    book.customer("C2", "BETA", iban="FR7600000000000000000000002")
    book.invoice("I1", "100.00", number="FA-1", customer="C1")
    book.payment("P1", "55.55", "virement", payer_iban="FR7600000000000000000000001")  # C1 owes no 55.55
    book.payment("P2", "70.00", "virement", payer_iban="FR7600000000000000000000002")  # C2 owes nothing yet
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"P1": "unmatched_payment", "P2": "unmatched_payment"}

    book.invoice("I2", "70.00", number="FA-2", customer="C2")  # the ERP books C2's invoice a day late
    summary = reconcile(book.engine, as_of=AS_OF, incremental=True)

    assert summary.incremental and summary.payments_in_scope == 1  # P2 reaches C2; P1 (C1) is left alone
    assert ("P2", "I2", Decimal("70.00")) in book.pairs()
    assert book.exception_kinds() == {"P1": "unmatched_payment"}
    # P2 came into scope without changing: its kept row hash stays, so a night with nothing new takes nothing
    assert reconcile(book.engine, as_of=AS_OF, incremental=True).payments_in_scope == 0
    _assert_a_full_run_agrees(book)


def test_incremental_scope_closes_over_what_the_run_itself_moved(book: Book) -> None:
    book.customer("C1", "ACME", iban="FR7600000000000000000000001")
    book.invoice("I1", "100.00", number="FA-2024-0001", customer="C1")
    book.payment("P1", "60.00", "virement", payer_iban="FR7600000000000000000000001")  # no item of 60 yet
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"P1": "unmatched_payment"}

    # a new partial payment naming I1 leaves exactly 60 open: in a full run P1 then fits I1
    book.payment("P2", "40.00", "FA-2024-0001", paid_on=date(2024, 6, 20))
    summary = reconcile(book.engine, as_of=AS_OF, incremental=True)

    assert summary.payments_in_scope == 2  # P2 (new), then P1 because P2 consumed an item of C1
    assert {("P1", "I1", Decimal("60.00")), ("P2", "I1", Decimal("40.00"))} <= book.pairs()
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    _assert_a_full_run_agrees(book)


def test_incremental_reads_a_partial_book_and_still_finds_items_by_amount(book: Book) -> None:
    """An incremental run computes open amounts only for what it touches; the rest of the book (a
    credit note lettered long ago, an invoice half paid by a kept match) must come out the same."""
    book.customer("C1", "ACME", iban="FR7600000000000000000000001")
    book.customer("C2", "BETA")
    book.invoice("I1", "100.00", number="FA-1", customer="C1")
    book.invoice("I2", "300.00", number="FA-2", customer="C2", erp_lettrage="L7")
    book.invoice("N2", "-50.00", number="AV-2", customer="C2", doc_type="credit_note", erp_lettrage="L7")
    book.invoice("I4", "90.00", number="FA-4", customer="C2", erp_lettrage="L9", erp_open="0")  # ERP: settled
    book.payment("P1", "40.00", "FA-1")                                  # partial, kept by the next run
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"I4": "erp_disagreement"}

    # an unknown payer pays what I1 still owes: found by amount (fct_invoice) without reading the book
    book.payment("P2", "60.00", "virement", paid_on=date(2024, 6, 20))
    # a known payer (by IBAN) pays C1's invoice booked today
    book.invoice("I3", "75.00", number="FA-3", customer="C1")
    book.payment("P3", "75.00", "merci", payer_iban="FR7600000000000000000000001", paid_on=date(2024, 6, 21))
    summary = reconcile(book.engine, as_of=AS_OF, incremental=True)

    assert summary.incremental and summary.payments_in_scope == 2
    assert ("P2", "I1", Decimal("60.00")) in book.pairs(states=("suggested",))  # amount alone only suggests
    assert ("P3", "I3", Decimal("75.00")) in book.pairs()
    assert ("N2", "I2", Decimal("50.00")) in book.pairs()  # the credit note stays applied
    assert book.invoice_state("I2") == ("overdue", Decimal("250.00"))  # (credited in part, nothing paid)
    assert book.exception_kinds()["I4"] == "erp_disagreement"  # not moved by the run, still open
    _assert_a_full_run_agrees(book)


def test_changed_and_deleted_payments_are_found_by_their_row_hash(book: Book) -> None:
    _two_paid_invoices(book)
    digests = book.engine.query("SELECT payments_digest, invoices_digest FROM reconcile_run")[0]

    summary = reconcile(book.engine, as_of=AS_OF, incremental=True)  # nothing changed: digests equal
    assert summary.payments_in_scope == 0
    assert book.engine.query("SELECT payments_digest, invoices_digest FROM reconcile_run")[0] == digests

    book.engine.execute("UPDATE fct_payment SET reference = 'FA-2' WHERE payment_id = 'P1'")  # was FA-1
    book.engine.execute("DELETE FROM fct_payment WHERE payment_id = 'P2'")                     # reversed in the bank
    summary = reconcile(book.engine, as_of=AS_OF, incremental=True)

    assert summary.payments_in_scope == 1  # P1 changed; P2 is gone, its match with it
    assert book.pairs() == {("P1", "I2", Decimal("100.00"))}
    assert book.invoice_state("I1") == ("overdue", Decimal("100.00"))
    _assert_a_full_run_agrees(book)


def test_a_payment_gone_with_nothing_else_changed_is_still_found(book: Book) -> None:
    """New and changed payments come from one anti-join; the gone ones only when the counts say so."""
    _two_paid_invoices(book)
    book.engine.execute("DELETE FROM fct_payment WHERE payment_id = 'P2'")  # nothing new, nothing changed
    summary = reconcile(book.engine, as_of=AS_OF, incremental=True)

    assert summary.payments_in_scope == 0  # P2 is in the scope, but no longer a payment to reconcile
    assert book.pairs() == {("P1", "I1", Decimal("100.00"))}
    assert book.invoice_state("I2") == ("overdue", Decimal("200.00"))
    _assert_a_full_run_agrees(book)


def test_an_invoice_gone_from_the_erp_takes_its_match_with_it(book: Book) -> None:
    """Invoices go through the same change detection as payments: a deleted one is found too."""
    _two_paid_invoices(book)
    book.engine.execute("DELETE FROM int_invoices WHERE invoice_id = 'I2'")  # cancelled in the ERP
    reconcile(book.engine, as_of=AS_OF, incremental=True)

    assert book.pairs() == {("P1", "I1", Decimal("100.00"))}
    assert book.engine.query("SELECT count(*) FROM fct_invoice WHERE invoice_id = 'I2'")[0][0] == 0
    _assert_a_full_run_agrees(book)


def test_customer_names_are_normalised_once_and_again_when_renamed(book: Book) -> None:
    book.customer("C1", "Acme SARL")
    book.invoice("I1", "55.00", number="FA-1", customer="C1")
    book.payment("P1", "55.00", "virement", payer_name="GLOBEX SAS")
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"P1": "unmatched_payment"}
    assert book.engine.query("SELECT customer_id, normalized FROM reconcile_customer_name") == [("C1", "ACME")]

    book.engine.execute("UPDATE dim_customer SET name = 'Globex SAS' WHERE customer_id = 'C1'")  # renamed
    reconcile(book.engine, as_of=AS_OF, incremental=True)

    assert book.engine.query("SELECT customer_id, normalized FROM reconcile_customer_name") == [("C1", "GLOBEX")]
    assert ("P1", "I1", Decimal("55.00")) in book.pairs()


def test_a_full_rerun_rewrites_only_the_matches_that_changed(book: Book) -> None:
    _two_paid_invoices(book)
    before = {r[0]: r[1:] for r in book.engine.query("SELECT payment_id, matched_at, _loaded_at FROM fct_match")}

    book.engine.execute("UPDATE fct_payment SET amount = 150.00 WHERE payment_id = 'P2'")  # corrected by the bank
    reconcile(book.engine, as_of=AS_OF)  # full again
    after = {r[0]: r[1:] for r in book.engine.query("SELECT payment_id, matched_at, _loaded_at FROM fct_match")}

    assert after["P1"] == before["P1"]  # unchanged: not rewritten
    assert after["P2"][0] == before["P2"][0] and after["P2"][1] != before["P2"][1]  # rewritten, first matched_at kept
    assert book.pairs() == {("P1", "I1", Decimal("100.00")), ("P2", "I2", Decimal("150.00"))}
    assert book.invoice_state("I2") == ("partially_paid", Decimal("50.00"))


def test_an_unmatched_payment_gets_a_second_chance_once_a_later_payment_leaves_its_amount(book: Book) -> None:
    """A payment that fits nothing on its date can fit what a later payment leaves of an invoice.

    The residue meets payments in date order, so without a second pass a full run left the
    earlier payment unmatched, while an incremental run (which finds the later payment already
    applied) matched it: the two disagreed.
    """
    book.customer("C1", "ACME")
    book.invoice("I1", "3057.46", number="FA-2024-0431")
    book.invoice("I2", "2497.34", number="FA-2024-0500")
    book.payment("PA", "1568.08", None, customer="C1", paid_on=date(2024, 6, 1))
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds()["PA"] == "unmatched_payment"  # two open items, neither fits 1568.08

    book.payment("PC", "1489.38", "Rechnung FA-2024-0431", customer="C1", paid_on=date(2024, 6, 5))
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    pairs = book.pairs()
    assert ("PC", "I1", Decimal("1489.38")) in pairs  # the payer's own invoice by its number: partial
    assert ("PA", "I1", Decimal("1568.08")) in pairs  # what PC left is exactly PA's amount
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I2")[1] == Decimal("2497.34")
    _assert_a_full_run_agrees(book)  # a full run meets PA before PC and must say the same


def test_an_erp_settlement_arriving_later_is_applied_incrementally_as_a_full_run_would(book: Book) -> None:
    """The ERP's export of last year arrives after the first runs: I1 now lettered with a receipt
    older than the bank data. The incremental run takes the receipt into scope (it is new) and then,
    when the bank data reach further back, weighs every settlement again."""
    book.customer("C1", "ACME SARL")
    book.invoice("I1", "500.00", number="FA-2024-0001")
    book.payment("P1", "80.00", "virement", customer="C1", paid_on=date(2024, 3, 10))
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I1")[1] == Decimal("500.00")

    book.engine.execute("UPDATE int_invoices SET erp_lettrage = 'AA', erp_amount_open = 0 WHERE invoice_id = 'I1'")
    book.payment("R1", "500.00", "VIR ACME", customer="C1", channel="erp", paid_on=date(2024, 2, 1))
    book.erp_settled("I1", "R1", date(2024, 2, 1), "AA")
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert book.pairs() == {("R1", "I1", Decimal("500.00"))}
    _assert_a_full_run_agrees(book)

    # a bank statement of January is loaded: the receipt is now within the bank data's period
    book.payment("P0", "10.00", "frais", customer="C1", paid_on=date(2024, 1, 5))
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert ("R1", "I1", Decimal("500.00")) not in book.pairs()
    assert book.exception_kinds()["I1"] == "erp_disagreement"
    _assert_a_full_run_agrees(book)


def test_an_erp_receipt_booked_after_the_bank_line_places_it_in_the_next_incremental_run(book: Book) -> None:
    """The bank credit comes first (no reference, a payer the book does not know: unmatched); the FEC
    with the accountant's receipt and lettering arrives a night later. The unresolved credit is weighed
    again (the ERP's receipts are part of what identifies payers) and pays I1, as a full run would."""
    book.customer("C1", "ALPHA SARL")
    book.invoice("I1", "100.00", number="FA-0001", customer="C1")
    book.invoice("I2", "100.00", number="FA-0002", customer="C1")
    book.payment("P1", "100.00", "VIREMENT", payer_name="M DUPONT", paid_on=date(2024, 6, 10))
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds()["P1"] == "unmatched_payment"

    book.engine.execute("UPDATE int_invoices SET erp_lettrage = 'AA', erp_amount_open = 0 WHERE invoice_id = 'I2'")
    book.erp_receipt("R1", "100.00", customer="C1", movement="BQ-1", booked=date(2024, 6, 12), code="AA")
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert book.pairs() == {("P1", "I2", Decimal("100.00"))}
    assert "P1" not in book.exception_kinds()
    _assert_a_full_run_agrees(book)


def test_a_refund_after_the_payment_was_applied_applies_it_again_net(book: Book) -> None:
    """P1 paid FA-1 and P2 paid FA-2 by card, both applied in full. Days later P1 is refunded 30.00 with
    credit note AV-1 (not lettered), and P2 20.00 with none: the next incremental run applies each payment
    again, net (the charges' own rows did not change), AV-1 closes what P1's refund took back, and FA-2
    owes the 20.00 handed back. A full run says the same."""
    book.customer("C1", "ACME")
    book.invoice("I1", "100.00", number="FA-1", customer="C1")
    book.invoice("I2", "50.00", number="FA-2", customer="C1")
    book.payment("P1", "100.00", "Invoice FA-1", channel="stripe")
    book.payment("P2", "50.00", "Invoice FA-2", channel="stripe")
    reconcile(book.engine, as_of=AS_OF)
    book.refund("re_1", "P1", "30.00")
    book.refund("re_2", "P2", "20.00")
    book.invoice("CN", "-30.00", number="AV-1", customer="C1", doc_type="credit_note", issue=date(2024, 6, 12))
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert book.pairs() == {("P1", "I1", Decimal("70.00")), ("CN", "I1", Decimal("30.00")),
                            ("P2", "I2", Decimal("30.00"))}
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    assert book.invoice_state("CN") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I2") == ("partially_paid", Decimal("20.00"))
    _assert_a_full_run_agrees(book)
