"""The residue's fast paths give the answers of the plain definitions they replace."""

from __future__ import annotations

import random
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from mappings.matching import load_matching_rules
from warehouse.reconcile.decisions import normalize_name
from warehouse.reconcile.references import fold
from warehouse.reconcile.residue import (
    ErpHint,
    ErpLine,
    Item,
    Payment,
    Residue,
    customer_number_key,
    within_tolerance,
)

RULES = load_matching_rules()
FORMS = RULES.fuzzy.legal_forms


def _by_definition(name: str, legal_forms: tuple[str, ...]) -> str:
    text = " ".join(re.sub(r"[^A-Z0-9]+", " ", fold(name)).split())
    # a single letter followed by another single letter: the space between goes (S A R L -> SARL)
    words = re.sub(r"(?<![A-Z0-9])([A-Z]) (?=[A-Z](?![A-Z0-9]))", r"\1", text).split()
    kept = [w for w in words if w not in set(legal_forms)]
    return " ".join(kept or words)


@pytest.mark.parametrize(("raw", "expected"), [
    ("  l'Atelier--du  Pain, S.A.R.L. ", "L ATELIER DU PAIN"),
    ("Bäckerei Müller\tGmbH", "BACKEREI MULLER"),
    ("Straße №5 GmbH", "STRASSE NO5"),
    ("Øresund A/S", "RESUND"),
    ("\x1fACME\x1c", "ACME"),
    ("", ""),
    ("J.P. Morgan S.A.", "JP MORGAN"),
    ("ACME S A R L", "ACME"),
    ("Lot 7 B C Services", "LOT 7 BC SERVICES"),
], ids=["punctuation", "accents-and-tab", "eszett-numero", "letter-without-ascii-form", "control-chars", "empty",
        "dotted-initials", "kept-before-initials-were-joined", "letters-beside-digits"])
def test_normalize_name_cases(raw: str, expected: str) -> None:
    assert normalize_name(raw, FORMS) == expected == _by_definition(raw, FORMS)


def test_normalize_name_ascii_table_splits_like_the_expression() -> None:
    # every ASCII character between two letters: a word character joins them, anything else splits
    for code in range(128):
        raw = f"A{chr(code)}B"
        assert normalize_name(raw) == _by_definition(raw, ()), repr(raw)


def test_tolerance_cap_never_hides_an_accepted_shortfall() -> None:
    rng = random.Random(7)
    batch = Residue(RULES, [], {}, {}, [], set())
    issue = date(2025, 1, 10)
    for _ in range(20_000):
        total = Decimal(rng.randint(1, 10_000_000)) / 100
        short = rng.choice([Decimal(rng.randint(1, 2_000)) / 100, (total * Decimal(rng.choice("23")) / 100).quantize(
            Decimal("0.01")) + Decimal(rng.randint(-3, 3)) / 100])
        paid_on = issue + timedelta(days=rng.choice([0, 5, 30]))
        item = Item("I1", "FA-1", "C1", "EUR", "invoice", issue, None, total, total)
        if within_tolerance(RULES, short, total, paid_on, issue) is not None:
            open_now, remaining = total, total - short
            assert int(open_now * 100) - int(remaining * 100) <= batch._tolerance_cap(item), (total, short)


def _item(invoice_id: str, due: int, open_: str) -> Item:
    return Item(invoice_id, f"FA-{invoice_id}", "C1", "EUR", "invoice", date(2025, 1, due), date(2025, 2, due),
                Decimal(open_), Decimal(open_))


def _payment(payment_id: str, day: int, amount: str, **kw: object) -> Payment:
    return Payment("FR01", payment_id, "EUR", date(2025, 3, day), Decimal(amount), None, None, None, "C1", "payment",
                   None, **kw)  # type: ignore[arg-type]


def test_open_item_index_follows_partial_payments() -> None:
    """A complex reference pays 40 of I1's 100: I1 now owes 60 like I2, and a later payment of 60
    finds both (a suggestion, oldest first), exactly as a scan of the open items would."""
    items = {i.invoice_id: i for i in (_item("I2", 5, "60.00"), _item("I1", 2, "100.00"), _item("I3", 9, "25.00"))}
    first = _payment("P1", 1, "40.00", candidates=[("I1", 1)], complex_=True)
    second = _payment("P2", 2, "60.00")
    batch = Residue(RULES, [first, second], items, {}, [], set())
    batch._open_items("C1")  # built before any money moves, so _apply has to keep it up to date
    out = batch.run()
    assert [(m["payment_id"], m["invoice_id"], m["amount_applied"], m["state"]) for m in out.matches] == [
        ("P1", "I1", Decimal("40.00"), "auto"),
        ("P2", "I1", Decimal("60.00"), "suggested"), ("P2", "I2", Decimal("60.00"), "suggested")]
    live, by_open = batch._open_items("C1")
    assert [i.invoice_id for i in live] == ["I1", "I2", "I3"]
    assert {k: [i.invoice_id for i in v] for k, v in by_open.items()} == {Decimal("60"): ["I1", "I2"],
                                                                         Decimal("25"): ["I3"]}


def test_open_item_index_drops_settled_items() -> None:
    items = {i.invoice_id: i for i in (_item("I1", 2, "100.00"), _item("I2", 5, "25.00"))}
    batch = Residue(RULES, [_payment("P1", 1, "100.00"), _payment("P2", 2, "25.00")], items, {}, [], set())
    batch._open_items("C1")
    out = batch.run()
    assert [(m["invoice_id"], m["rule"], m["state"]) for m in out.matches] == [
        ("I1", "customer_amount", "auto"), ("I2", "customer_amount", "auto")]
    assert batch._open_items("C1") == ([], {})


@pytest.mark.parametrize(("written", "key"), [("0000010042", "10042"), ("10042", "10042"), (" c0042 ", "C0042"),
                                              ("0000", "0000"), ("KD-10042", "KD-10042")],
                         ids=["sap-padded", "as-written", "case-and-spaces", "only-zeros", "not-a-number"])
def test_customer_number_key(written: str, key: str) -> None:
    assert customer_number_key(written) == key


def _c_item(invoice_id: str, customer: str, open_: str) -> Item:
    return Item(invoice_id, f"FA-{invoice_id}", customer, "EUR", "invoice", date(2025, 1, 5), date(2025, 2, 5),
                Decimal(open_), Decimal(open_))


def test_a_payer_name_in_abbreviations_is_its_customer() -> None:
    """"ETS DUPONT CONSTR" is no fuzzy match for Etablissements Dupont Constructions (token ratio ~60), but each of
    its words abbreviates the customer's next one: the payer is C2, and its one open item of the amount is paid.
    "ACME" alone abbreviates nobody's whole name (Acme Industries and Acme Logistics both start so): unknown payer."""
    customers = {"C1": "Acme Industries SA", "C2": "Etablissements Dupont Constructions SARL", "C3": "Acme Logistics"}
    items = {i.invoice_id: i for i in (_c_item("I1", "C1", "480.00"), _c_item("I2", "C2", "480.00"),
                                       _c_item("I3", "C3", "75.00"))}
    pay = [Payment("FR01", "P1", "EUR", date(2025, 3, 1), Decimal("480.00"), "VIREMENT", "ETS DUPONT CONSTR", None,
                   None, None, None),
           Payment("FR01", "P2", "EUR", date(2025, 3, 1), Decimal("75.00"), "VIREMENT", "ACME", None, None, None,
                   None)]
    out = Residue(RULES, pay, items, customers, [], set()).run()
    assert [(m["payment_id"], m["invoice_id"], m["rule"], m["state"]) for m in out.matches] == [
        ("P1", "I2", "customer_amount", "auto"), ("P2", "I3", "amount_only", "suggested")]
    assert "abbreviated" in out.matches[0]["explanation"]


def test_a_payment_on_account_the_erp_settled_internally_pays_the_invoices_it_shows_settled() -> None:
    """The ERP booked this credit as a payment on account (its receipt names no invoice) and later reconciled it
    with I1 and I2 (SAP Business One's internal reconciliation: both paid there, no receipt named). I3 owes 2.36
    more than the credit, within the short-payment tolerance, and is still open in the ERP: the ERP's word wins."""
    items = {i.invoice_id: i for i in (
        Item("I1", "FA-1", "C1", "EUR", "invoice", date(2025, 1, 5), date(2025, 2, 5), Decimal("3110.00"),
             Decimal("3110.00"), True),
        Item("I2", "FA-2", "C1", "EUR", "invoice", date(2025, 1, 9), date(2025, 2, 9), Decimal("5370.62"),
             Decimal("5370.62"), True),
        Item("I3", "FA-3", "C1", "EUR", "invoice", date(2025, 2, 1), date(2025, 3, 1), Decimal("8482.98"),
             Decimal("8482.98")))}
    hint = ErpHint("sap_b1:PAY-135", date(2025, 3, 2), (ErpLine("C1", Decimal("8480.62"), None, "Pago a cuenta", (),
                                                                None, None),), Decimal("0"))
    pay = _payment("P1", 1, "8480.62", erp=hint)
    out = Residue(RULES, [pay], items, {}, [], set()).run()
    assert [(m["invoice_id"], m["amount_applied"], m["rule"], m["state"]) for m in out.matches] == [
        ("I1", Decimal("3110.00"), "erp_receipt", "auto"), ("I2", Decimal("5370.62"), "erp_receipt", "auto")]


@pytest.mark.parametrize("with_note", [False, True], ids=["no-credit-note", "its-credit-note"])
def test_a_payment_refunded_in_part_pays_the_invoice_it_paid_before_the_refund(with_note: bool) -> None:
    """A Payment Link charge of 549.55 naming nothing, 100.00 of it refunded: the customer's one open item of
    549.55 takes the 449.55 left and still owes the 100.00, unless the customer has one open credit note of 100.00
    (the refund's), which closes it with the payment."""
    items = {"I1": _c_item("I1", "C1", "549.55"), "I2": _c_item("I2", "C1", "120.00")}
    if with_note:
        items["CN1"] = Item("CN1", "AV-1", "C1", "EUR", "credit_note", date(2025, 2, 10), date(2025, 2, 10),
                            Decimal("-100.00"), Decimal("-100.00"))
    pay = _payment("P1", 1, "449.55", refunded=Decimal("100.00"))
    out = Residue(RULES, [pay], items, {}, [], set()).run()
    applied = [(m["invoice_id"], m["amount_applied"], m["state"]) for m in out.matches]
    if with_note:
        assert applied == [("I1", Decimal("549.55"), "auto"), ("CN1", Decimal("-100.00"), "auto")]
        assert items["I1"].open == 0 and items["CN1"].open == 0
    else:
        assert applied == [("I1", Decimal("449.55"), "auto")]
        assert items["I1"].open == Decimal("100.00")


@pytest.mark.parametrize(("reference", "state"), [("AKONTO ZAHLUNG LT. VEREINBARUNG", "suggested"),
                                                  ("Payment on account", "suggested"),
                                                  ("ZAHLUNG", "auto"),
                                                  ("AKONTOZAHLUNG", "auto")])  # (one word: no phrase of the list)
def test_a_payment_on_account_is_not_laid_on_a_combination_of_items(reference: str, state: str) -> None:
    """8,300.00 "AKONTO ZAHLUNG": the oldest two of the customer's items sum to it (as do the next two). The payer
    said it pays on account: the combination is suggested, with an unmatched_payment exception, not applied."""
    items = {i.invoice_id: i for i in (_item("I1", 2, "4998.40"), _item("I2", 4, "3301.60"),
                                       _item("I3", 6, "5000.00"), _item("I4", 8, "3300.00"))}
    pay = Payment("FR01", "P1", "EUR", date(2025, 3, 1), Decimal("8300.00"), reference, None, None, "C1", "payment",
                  None)
    out = Residue(RULES, [pay], items, {}, [], set()).run()
    assert [(m["invoice_id"], m["rule"], m["state"]) for m in out.matches] == [
        ("I1", "subset_sum", state), ("I2", "subset_sum", state)]
    if state == "suggested":
        assert [(e["kind"], e["invoice_id"]) for e in out.exceptions] == [("unmatched_payment", "I1")]
        assert "payment on account" in out.exceptions[0]["detail"]


def test_a_payment_on_account_of_exactly_one_items_amount_still_pays_it() -> None:
    items = {i.invoice_id: i for i in (_item("I1", 2, "4998.40"), _item("I2", 4, "3301.60"))}
    pay = Payment("FR01", "P1", "EUR", date(2025, 3, 1), Decimal("3301.60"), "AKONTO", None, None, "C1", "payment",
                  None)
    out = Residue(RULES, [pay], items, {}, [], set()).run()
    assert [(m["invoice_id"], m["state"]) for m in out.matches] == [("I2", "auto")]


def test_a_reference_placed_here_is_explained_word_for_word_as_30_allocate_explains_it() -> None:
    """A payment naming its invoice that the run's SQL sent here (another amount) is explained as 30_allocate
    explains the same match, token included: a full run placing here what a nightly placed in SQL rewrote the match
    for its wording alone, with a new _loaded_at (an independent operations check)."""
    items = {"I1": _item("I1", 2, "100.00"), "I2": _item("I2", 3, "50.00")}
    one = _payment("P1", 1, "40.00", candidates=[("I1", 1)], candidate_tokens={"I1": "FA-I1"})
    out = Residue(RULES, [one], items, {}, [], set()).run()
    assert [m["explanation"] for m in out.matches] == ["reference FA-I1 names invoice FA-I1 ; partial payment"]
