"""Credit notes paid back to the customer by bank transfer close, on DuckDB and Postgres.

A credit note raised on an invoice already paid is either left as the customer's credit or paid back. Paid back,
the money leaves on a bank debit: one naming the credit note, one the ERP lettered with the credit note's refund
entry (a FEC 411 debit in a bank journal), or one of exactly its amount to the customer's own account. Each
closes the credit note (int_credit_note_refunds, 15_credit_notes); one the bank statements cannot show (before
they begin) closes on the ERP's word. Left open, such a credit note lowered the customer's encours for ever.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from actions.dunning.statement_select import accounts
from desk.queries import invoice_matches
from lettrage.config import WarehouseConfig
from warehouse.build import build_marts
from warehouse.engine import Engine
from warehouse.reconcile import reconcile
from warehouse.reconcile.decisions import confirm_match, reject_match

from ..warehouse.raw_book import BANK, _fec, built_raw_book

AS_OF = date(2025, 3, 31)
C001_IBAN = "FR7630006000011234567890189"   # ACME's account in the customer file


def _paid_invoice_and_credit_note(n: int, invoice: str, cn: str, amount: str, cn_amount: str, *,
                                  cn_on: date = date(2025, 3, 1), let: str = "") -> list[dict[str, Any]]:
    """An invoice paid in full by the bank (its receipt lettered with it), then a credit note on it."""
    return [
        _fec(f"{n}", "VE", 1, "411000", "C001", invoice, date(2025, 2, 1), amount, "0.00", f"I{n}"),
        _fec(f"{n}", "VE", 2, "706000", "", invoice, date(2025, 2, 1), "0.00", amount),
        _fec(f"{n + 1}", "BQ", 1, "512000", "", "VIR", date(2025, 2, 20), amount, "0.00"),
        _fec(f"{n + 1}", "BQ", 2, "411000", "C001", "VIR", date(2025, 2, 20), "0.00", amount, f"I{n}"),
        _fec(f"{n + 2}", "VE", 1, "411000", "C001", cn, cn_on, "0.00", cn_amount, let),
        _fec(f"{n + 2}", "VE", 2, "706000", "", cn, cn_on, cn_amount, "0.00"),
    ]


def _refund_entry(n: int, on: date, amount: str, let: str) -> list[dict[str, Any]]:
    """The accountant's booking of a transfer paying the customer back: 411 debit against the bank."""
    return [_fec(f"{n}", "BQ", 1, "512000", "", "REMB", on, "0.00", amount),
            _fec(f"{n}", "BQ", 2, "411000", "C001", "REMB", on, amount, "0.00", let)]


def _line(line_id: str, amount: str, on: date, remittance: str, *, iban: str | None = C001_IBAN,
          code: str = "PMNT/ICDT/ESCT") -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "amount": Decimal(amount), "booking_date": on, "value_date": on,
            "credit_debit": "CRDT" if Decimal(amount) > 0 else "DBIT", "remittance_unstructured": remittance,
            "counterparty_iban": iban, "counterparty_name": "ACME SAS" if iban else "", "bank_tx_code": code}


def _credit_note(engine: Engine, number: str) -> tuple[Decimal, str]:
    row = engine.query("SELECT amount_open, status FROM fct_invoice WHERE invoice_number = :n", {"n": number})[0]
    return Decimal(row[0]), str(row[1])


def _refund_matches(engine: Engine) -> dict[str, tuple[str, Decimal]]:
    return {str(r[1]): (str(r[0]), Decimal(r[2])) for r in engine.query(
        "SELECT m.payment_id, i.invoice_number, m.amount_applied FROM fct_match AS m "
        "JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
        "WHERE m.rule = 'credit_note_refund' AND m.state = 'auto'")}


ENTRIES = [
    # named by the transfer; a credit of exactly its amount came from the same account before (not a duplicate
    # payment refunded for all that: the transfer names the credit note)
    *_paid_invoice_and_credit_note(30, "FA-2025-000030", "AV-2025-000030", "600.00", "60.00"),
    # paid back in part: 40.00 of 100.00
    *_paid_invoice_and_credit_note(40, "FA-2025-000040", "AV-2025-000040", "500.00", "100.00"),
    # lettered in the FEC with its refund entry; the transfer says nothing and comes from an unknown account
    *_paid_invoice_and_credit_note(50, "FA-2025-000050", "AV-2025-000050", "900.00", "75.00", let="R50"),
    *_refund_entry(53, date(2025, 3, 12), "75.00", "R50"),
    # refunded before the first statement (2025-02-09): the ERP's entry is the only evidence
    _fec("60", "VE", 1, "411000", "C001", "AV-2025-000060", date(2025, 1, 5), "0.00", "33.00", "R60"),
    _fec("60", "VE", 2, "706000", "", "AV-2025-000060", date(2025, 1, 5), "33.00", "0.00"),
    *_refund_entry(61, date(2025, 1, 20), "33.00", "R60"),
    # the customer's one credit note of 48.00, paid back to its account with no reference
    *_paid_invoice_and_credit_note(70, "FA-2025-000070", "AV-2025-000070", "480.00", "48.00"),
    # two credit notes of 25.00 and one transfer of 25.00 with no reference: which one is not known
    *_paid_invoice_and_credit_note(80, "FA-2025-000080", "AV-2025-000080", "250.00", "25.00"),
    *_paid_invoice_and_credit_note(90, "FA-2025-000090", "AV-2025-000090", "350.00", "25.00"),
    # two credit notes paid back by one transfer naming both, for exactly their total
    *_paid_invoice_and_credit_note(100, "FA-2025-000100", "AV-2025-000100", "700.00", "30.00"),
    _fec("103", "VE", 1, "411000", "C001", "AV-2025-000101", date(2025, 3, 2), "0.00", "20.00"),
    _fec("103", "VE", 2, "706000", "", "AV-2025-000101", date(2025, 3, 2), "20.00", "0.00"),
]
LINES = [
    _line("B30", "600.00", date(2025, 2, 20), "FACTURE FA-2025-000030"),
    _line("B40", "500.00", date(2025, 2, 20), "FACTURE FA-2025-000040"),
    _line("B50", "900.00", date(2025, 2, 20), "FACTURE FA-2025-000050"),
    _line("B70", "480.00", date(2025, 2, 20), "FACTURE FA-2025-000070"),
    _line("B80", "250.00", date(2025, 2, 20), "FACTURE FA-2025-000080"),
    _line("B90", "350.00", date(2025, 2, 20), "FACTURE FA-2025-000090"),
    _line("B31", "60.00", date(2025, 2, 25), "ACOMPTE"),
    _line("R30", "-60.00", date(2025, 3, 10), "REMBOURSEMENT AVOIR AV 2025 000030"),
    _line("R40", "-40.00", date(2025, 3, 10), "REMBOURSEMENT PARTIEL AV-2025-000040"),
    _line("R50", "-75.00", date(2025, 3, 14), "VIREMENT", iban="DE89370400440532013000"),
    _line("R70", "-48.00", date(2025, 3, 15), "REMBOURSEMENT"),
    _line("R80", "-25.00", date(2025, 3, 16), "VIREMENT CLIENT"),
    _line("B100", "700.00", date(2025, 2, 20), "FACTURE FA-2025-000100"),
    _line("R100", "-50.00", date(2025, 3, 17), "REMB AVOIRS AV-2025-000100 ET AV-2025-000101"),
]


def test_credit_notes_paid_back_close_and_only_those(warehouse_config: WarehouseConfig) -> None:
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=ENTRIES, more_bank_lines=LINES) as engine:
        evidence = {str(r[0]): str(r[1]) for r in engine.query(
            "SELECT i.invoice_number, r.evidence FROM int_credit_note_refunds AS r "
            "JOIN int_invoices AS i ON i.entity = r.entity AND i.invoice_id = r.cn_id")}
        reconcile(engine, as_of=AS_OF)
        build_marts(engine, as_of=AS_OF)
        matches = _refund_matches(engine)
        states = {n: _credit_note(engine, n) for n in ("AV-2025-000030", "AV-2025-000040", "AV-2025-000050",
                                                        "AV-2025-000060", "AV-2025-000070", "AV-2025-000080",
                                                        "AV-2025-000090", "AV-2025-000100", "AV-2025-000101")}
        duplicate = engine.query("SELECT status FROM fct_payment WHERE payment_id = 'B31'")[0][0]
        encours = engine.query("SELECT coalesce(sum(amount_open), 0) FROM fct_invoice WHERE customer_id = 'C001' "
                               "AND status NOT IN ('paid', 'credited')")[0][0]
        open_exceptions = {str(r[0]) for r in engine.query(
            "SELECT payment_id FROM fct_reconciliation_exception WHERE resolved_at IS NULL AND payment_id LIKE 'R%'")}
        (statement,) = accounts(engine, "FR01", AS_OF, date(2025, 3, 1), ["C001"])
        cn_id = engine.query("SELECT invoice_id FROM fct_invoice WHERE invoice_number = 'AV-2025-000030'")[0][0]
        on_the_desk = [(r["payment_id"], r["paid_on"], r["channel"]) for r in invoice_matches(engine, "FR01", cn_id)]

    assert evidence == {"AV-2025-000030": "named", "AV-2025-000040": "named", "AV-2025-000050": "erp_lettrage",
                        "AV-2025-000060": "erp_lettrage", "AV-2025-000070": "customer_amount",
                        "AV-2025-000100": "named", "AV-2025-000101": "named",
                        "AV-2025-000080": "customer_amount_ambiguous", "AV-2025-000090": "customer_amount_ambiguous"}
    assert matches == {"AV-2025-000030": ("R30", Decimal("-60.00")), "AV-2025-000040": ("R40", Decimal("-40.00")),
                       "AV-2025-000050": ("R50", Decimal("-75.00")),
                       "AV-2025-000060": ("FEC-BQ-61-2", Decimal("-33.00")),
                       "AV-2025-000070": ("R70", Decimal("-48.00")),
                       "AV-2025-000100": ("R100", Decimal("-30.00")), "AV-2025-000101": ("R100", Decimal("-20.00"))}
    assert states["AV-2025-000030"] == (Decimal("0.00"), "paid")
    assert states["AV-2025-000040"] == (Decimal("-60.00"), "open")       # 60.00 of it still the customer's
    assert states["AV-2025-000050"] == (Decimal("0.00"), "paid")
    assert states["AV-2025-000060"] == (Decimal("0.00"), "paid")
    assert states["AV-2025-000070"] == (Decimal("0.00"), "paid")
    assert states["AV-2025-000080"] == (Decimal("-25.00"), "open")       # either could be the one paid back
    assert states["AV-2025-000090"] == (Decimal("-25.00"), "open")
    assert states["AV-2025-000100"] == states["AV-2025-000101"] == (Decimal("0.00"), "paid")
    assert duplicate == "succeeded"
    assert Decimal(encours) == Decimal("-110.00")                         # -60 - 25 - 25
    assert not open_exceptions
    assert on_the_desk == [("R30", date(2025, 3, 10), "bank_transfer")]   # the desk's invoice page: the debit's day
    # the customer's statement of account shows the money paid back, the day it left
    assert sorted((m.on, m.reference, m.amount) for m in statement.movements if m.kind == "refund") == [
        (date(2025, 3, 10), "AV-2025-000030", Decimal("60.00")), (date(2025, 3, 10), "AV-2025-000040", Decimal("40.00")),
        (date(2025, 3, 14), "AV-2025-000050", Decimal("75.00")), (date(2025, 3, 15), "AV-2025-000070", Decimal("48.00")),
        (date(2025, 3, 17), "AV-2025-000100", Decimal("30.00")), (date(2025, 3, 17), "AV-2025-000101", Decimal("20.00"))]


def test_incremental_runs_keep_refunds_and_take_new_ones(warehouse_config: WarehouseConfig) -> None:
    first = [ln for ln in LINES if ln["bank_line_id"] != "R70"]
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=ENTRIES, more_bank_lines=first) as engine:
        reconcile(engine, as_of=AS_OF)
        before = _refund_matches(engine)
    assert "AV-2025-000070" not in before

    # the next night: a payment for something else, and the transfer paying AV-2025-000070 back
    more = [*LINES, _line("B99", "12.00", date(2025, 3, 20), "DIVERS", iban=None)]
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=ENTRIES, more_bank_lines=more) as engine:
        reconcile(engine, as_of=AS_OF, incremental=True)
        after = _refund_matches(engine)
        states = {n: _credit_note(engine, n) for n in ("AV-2025-000030", "AV-2025-000040", "AV-2025-000070")}
        reconcile(engine, as_of=AS_OF, incremental=True)
        again = _refund_matches(engine)
        count = engine.query("SELECT count(*) FROM fct_match WHERE rule = 'credit_note_refund' AND state = 'auto'")[0][0]

    assert after == {**before, "AV-2025-000070": ("R70", Decimal("-48.00"))}
    assert states == {"AV-2025-000030": (Decimal("0.00"), "paid"), "AV-2025-000040": (Decimal("-60.00"), "open"),
                      "AV-2025-000070": (Decimal("0.00"), "paid")}
    assert again == after and count == len(after)


def test_a_rejected_refund_is_not_proposed_again(warehouse_config: WarehouseConfig) -> None:
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=ENTRIES, more_bank_lines=LINES) as engine:
        reconcile(engine, as_of=AS_OF)
        match_id = engine.query("SELECT match_id FROM fct_match WHERE rule = 'credit_note_refund' "
                                "AND payment_id = 'R70'")[0][0]
        reject_match(engine, str(match_id), "alice", "paid a supplier invoice, not the credit note")
        reconcile(engine, as_of=AS_OF)
        state = _credit_note(engine, "AV-2025-000070")
        kept = engine.query("SELECT state FROM fct_match WHERE match_id = :m", {"m": match_id})[0][0]
    assert state == (Decimal("-48.00"), "open")
    assert kept == "rejected"


def test_a_transfer_two_credit_notes_fit_is_suggested_until_a_person_says_which(
        warehouse_config: WarehouseConfig) -> None:
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=ENTRIES, more_bank_lines=LINES) as engine:
        reconcile(engine, as_of=AS_OF)
        suggested = {str(r[0]): str(r[1]) for r in engine.query(
            "SELECT i.invoice_number, m.match_id FROM fct_match AS m JOIN fct_invoice AS i "
            "ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
            "WHERE m.rule = 'credit_note_refund' AND m.state = 'suggested' AND m.payment_id = 'R80'")}
        queued = engine.query("SELECT kind, amount, detail FROM fct_reconciliation_exception "
                              "WHERE bank_line_id = 'R80' AND resolved_at IS NULL")
        assert set(suggested) == {"AV-2025-000080", "AV-2025-000090"}
        assert [(k, Decimal(a)) for k, a, _ in queued] == [("ambiguous", Decimal("25.00"))]
        assert "AV-2025-000080, AV-2025-000090" in queued[0][2]
        # the customer's credit is lower by the money paid back, whichever credit note it was (encours - unapplied
        # cash is the customer's ledger balance)
        build_marts(engine, as_of=AS_OF)
        unapplied = engine.query("SELECT amount_unapplied, payment_count FROM mart_unapplied_cash "
                                 "WHERE customer_id = 'C001'")
        assert [(Decimal(a), int(n)) for a, n in unapplied] == [(Decimal("35.00"), 1)]   # B31's 60.00, less 25.00

        confirm_match(engine, suggested["AV-2025-000090"], "alice", "the customer's email says so")
        reconcile(engine, as_of=AS_OF)
        states = {n: _credit_note(engine, n) for n in ("AV-2025-000080", "AV-2025-000090")}
        left = engine.query("SELECT count(*) FROM fct_match WHERE payment_id = 'R80' AND state = 'suggested'")[0][0]
        still_queued = engine.query("SELECT count(*) FROM fct_reconciliation_exception "
                                    "WHERE bank_line_id = 'R80' AND resolved_at IS NULL")[0][0]
        build_marts(engine, as_of=AS_OF)
        unapplied_after = engine.query("SELECT amount_unapplied FROM mart_unapplied_cash WHERE customer_id = 'C001'")[0][0]
    assert states == {"AV-2025-000080": (Decimal("-25.00"), "open"), "AV-2025-000090": (Decimal("0.00"), "paid")}
    assert left == 0 and still_queued == 0 and Decimal(unapplied_after) == Decimal("60.00")


def test_a_credit_note_paid_back_in_part_and_deducted_for_the_rest(warehouse_config: WarehouseConfig) -> None:
    """AV 600.00 lettered in the FEC with its invoice (1,500.00), the payment (1,260.00: the invoice less 240.00)
    and the refund entry of 360.00: the invoice takes 240.00 of the credit note, the transfer the other 360.00."""
    entries = [
        _fec("110", "VE", 1, "411000", "C001", "FA-2025-000110", date(2025, 2, 1), "1500.00", "0.00", "K1"),
        _fec("110", "VE", 2, "706000", "", "FA-2025-000110", date(2025, 2, 1), "0.00", "1500.00"),
        _fec("111", "VE", 1, "411000", "C001", "AV-2025-000111", date(2025, 2, 10), "0.00", "600.00", "K1"),
        _fec("111", "VE", 2, "706000", "", "AV-2025-000111", date(2025, 2, 10), "600.00", "0.00"),
        _fec("112", "BQ", 1, "512000", "", "VIR", date(2025, 3, 3), "1260.00", "0.00"),
        _fec("112", "BQ", 2, "411000", "C001", "VIR", date(2025, 3, 3), "0.00", "1260.00", "K1"),
        *_refund_entry(113, date(2025, 3, 12), "360.00", "K1"),
    ]
    lines = [_line("B110", "1260.00", date(2025, 3, 3), "FACTURE FA-2025-000110 MOINS AVOIR"),
             _line("R111", "-360.00", date(2025, 3, 11), "RBT AV 2025-000111 PARTIEL")]
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=entries, more_bank_lines=lines) as engine:
        reconcile(engine, as_of=AS_OF)
        invoice = _credit_note(engine, "FA-2025-000110")
        credit_note = _credit_note(engine, "AV-2025-000111")
        overpaid = engine.query("SELECT count(*) FROM fct_reconciliation_exception WHERE payment_id = 'B110' "
                                "AND resolved_at IS NULL")[0][0]
        applied = {str(r[0]): Decimal(r[1]) for r in engine.query(
            "SELECT rule, sum(amount_applied) FROM fct_match WHERE invoice_id IN ('FA-2025-000110', 'AV-2025-000111') "
            "AND state = 'auto' GROUP BY rule")}
    assert invoice[0] == Decimal("0.00") and credit_note == (Decimal("0.00"), "paid")
    assert overpaid == 0
    assert applied["credit_note_refund"] == Decimal("-360.00")


def test_an_account_the_customer_paid_from_identifies_it_when_the_master_has_no_iban(
        warehouse_config: WarehouseConfig) -> None:
    other = "FR7617569000301234567890142"
    entries = _paid_invoice_and_credit_note(120, "FA-2025-000120", "AV-2025-000120", "300.00", "45.00")
    lines = [_line("B120", "300.00", date(2025, 2, 20), "FACTURE FA-2025-000120", iban=other),
             _line("R120", "-45.00", date(2025, 3, 18), "REMBOURSEMENT", iban=other)]
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=entries, more_bank_lines=lines) as engine:
        reconcile(engine, as_of=AS_OF)   # the first night learns nothing yet: no match of that account existed
        first = _credit_note(engine, "AV-2025-000120")
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=entries, more_bank_lines=lines) as engine:
        reconcile(engine, as_of=AS_OF, incremental=True)
        second = _credit_note(engine, "AV-2025-000120")
    assert first == (Decimal("-45.00"), "open")
    assert second == (Decimal("0.00"), "paid")
