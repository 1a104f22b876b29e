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


def test_incremental_rekeys_changed_invoices_and_matches_a_full_run(book: Book) -> None:
    book.customer("C1", "ACME")
    book.invoice("I1", "100.00", number="FA-2024-0001")
    book.invoice("I2", "250.00", number="TMP-7")           # renumbered by the ERP later
    book.invoice("I3", "80.00", number="FA-2024-0003")     # its payment arrives later
    book.payment("P1", "100.00", "FA-2024-0001")
    book.payment("P2", "250.00", "Facture FA-2024-0002")  # names the number I2 will get
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds()["P2"] == "unmatched_payment"
    keys = {str(r[0]) for r in book.engine.query("SELECT k FROM reconcile_invoice_key WHERE invoice_id = 'I2'")}
    assert "TMP-7" in keys

    book.engine.execute("UPDATE int_invoices SET invoice_number = 'FA-2024-0002' WHERE invoice_id = 'I2'")
    book.payment("P3", "80.00", "Rechnung FA2024-0003", paid_on=date(2024, 6, 20))
    summary = reconcile(book.engine, as_of=AS_OF, incremental=True)

    assert summary.incremental and summary.payments_in_scope == 2  # P2 (unresolved) and P3 (new); P1 kept
    keys = {str(r[0]) for r in book.engine.query("SELECT k FROM reconcile_invoice_key WHERE invoice_id = 'I2'")}
    assert "TMP-7" not in keys and "FA-2024-0002" in keys
    assert ("P2", "I2", Decimal("250.00")) in book.pairs() and ("P3", "I3", Decimal("80.00")) in book.pairs()
    assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))  # untouched by the run, still there
    incremental = _state(book)

    reconcile(book.engine, as_of=AS_OF)  # a full run over the same book says the same
    assert _state(book) == incremental


def test_incremental_with_a_new_as_of_date_moves_overdue_everywhere(book: Book) -> None:
    book.invoice("I1", "100.00", due=date(2024, 7, 15))
    book.invoice("I2", "300.00", number="FA-9", due=date(2024, 7, 15))
    book.payment("P1", "300.00", "FA-9")
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I1") == ("open", Decimal("100.00"))
    reconcile(book.engine, as_of=date(2024, 7, 31), incremental=True)  # nothing new, but time passed
    assert book.invoice_state("I1") == ("overdue", Decimal("100.00"))
    assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
