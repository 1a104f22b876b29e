"""One test per matching rule and edge case, on a tiny book, on both engines."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from warehouse.reconcile import reconcile, record_decision

from .conftest import AS_OF, Book

IBAN = "FR7630001007941234567890185"


def _rules(book: Book) -> dict[str, str]:
    return {m["payment_id"] + ">" + m["invoice_id"]: m["rule"] for m in book.matches(states=("auto", "suggested"))}


def test_exact_reference_applies_and_closes_invoice(book: Book) -> None:
    book.invoice("I1", "100.00", number="FA-2024-00123")
    book.payment("P1", "100.00", "Facture FA-2024-00123 merci", channel="stripe")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("100.00"))}
    assert _rules(book) == {"P1>I1": "exact_reference"}
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    assert book.exceptions() == []


def test_normalized_groups_and_tail_references(book: Book) -> None:
    book.invoice("I1", "10.00", number="FA-2024-00123")
    book.invoice("I2", "20.00", number="FA-2024-00124")
    book.invoice("I3", "30.00", number="FA-2024-00125", customer="C1")
    book.payment("P1", "10.00", "fa2024.00123")
    book.payment("P2", "20.00", "Invoice 2024/124")
    book.payment("P3", "30.00", "payment 00125", customer="C1")
    book.invoice("I4", "40.00", number="FA-2025-0123")
    book.payment("P4", "40.00", "ACOMPTE F2025/123")  # a one-letter prefix, the year and the number unpadded
    reconcile(book.engine, as_of=AS_OF)
    assert _rules(book) == {"P1>I1": "normalized_reference", "P2>I2": "reference_groups", "P3>I3": "reference_tail",
                            "P4>I4": "reference_groups"}


def test_references_as_banks_and_other_erps_write_them(book: Book) -> None:
    """A SWIFT field code (/INV/), digit groups typed with spaces, a Sage Accounting number (SI-1042)."""
    book.invoice("I1", "100.00", number="FA-2024-00123")
    book.invoice("I2", "250.00", number="SI-1042")
    book.invoice("I3", "80.00", number="FA-2024-00456")
    book.invoice("I4", "80.00", number="FA-2024-00457")
    book.payment("P1", "100.00", "/INV/FA-2024-00123/ROC/PO-4711")
    book.payment("P2", "250.00", "Payment for invoice 1042")
    book.payment("P3", "80.00", "FACTURE 2024 00456 MERCI")
    reconcile(book.engine, as_of=AS_OF)
    assert _rules(book) == {"P1>I1": "exact_reference", "P2>I2": "normalized_reference",
                            "P3>I3": "normalized_reference"}
    assert book.exceptions() == []


def test_a_list_of_invoice_numbers_written_with_slashes_pays_each(book: Book) -> None:
    book.customer("C1", "Mueller GmbH", IBAN)
    book.invoice("I1", "1190.00", number="0090001341")
    book.invoice("I2", "2380.00", number="0090001342")
    book.payment("P1", "3570.00", "SAMMELZAHLUNG 90001341/90001342", payer_iban=IBAN)
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("1190.00")), ("P1", "I2", Decimal("2380.00"))}


def test_a_payer_known_by_name_paying_part_of_an_invoice_named_without_its_year(book: Book) -> None:
    """No IBAN in the master: the residue finds the customer by name, then its invoice by the number
    without the year part, as the cascade does for a payer known by IBAN (partial payment)."""
    book.customer("C12", "Imprimerie Girard SARL")
    book.invoice("I50", "9512.90", number="FA2024-0050", customer="C12")
    book.invoice("I51", "4756.45", number="FA2024-0051", customer="C12")  # the amount is not the rule here
    book.payment("P1", "4756.45", "PAIEMENT PARTIEL FACT 0050", payer_name="IMPRIMERIE GIRARD")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I50", Decimal("4756.45"))}
    assert _rules(book) == {"P1>I50": "reference_tail"}
    assert book.invoice_state("I50") == ("partially_paid", Decimal("4756.45"))


def test_a_payer_known_by_name_listing_invoices_without_their_year(book: Book) -> None:
    """Two numbers paid in full are applied; listed with a credit note the tail keys do not read
    (AVOIR 0006), the amount rules net them (subset sum), as before the tail keys were read here."""
    book.customer("C5", "Batiments Oeuvre SA")
    book.invoice("I15", "4668.41", number="FA2024-0015", customer="C5")
    book.invoice("I25", "9003.35", number="FA2024-0025", customer="C5")
    book.invoice("I24", "1978.62", number="FA2024-0024", customer="C5", issue=date(2024, 4, 1))
    book.invoice("A6", "-989.32", number="AV2024-0006", customer="C5", doc_type="credit_note", issue=date(2024, 4, 2))
    book.payment("P1", "13671.76", "Fact. n°15 et 25", payer_name="BATIMENTS OEUVRE")
    book.payment("P2", "989.30", "FACTURES 0024 MOINS AVOIR 0006", payer_name="BATIMENTS OEUVRE",
                 paid_on=date(2024, 6, 12))
    reconcile(book.engine, as_of=AS_OF)
    assert {k: v for k, v in _rules(book).items() if k.startswith("P1")} == {"P1>I15": "reference_tail",
                                                                             "P1>I25": "reference_tail"}
    assert book.invoice_state("I15")[0] == book.invoice_state("I25")[0] == "paid"
    assert book.invoice_state("I24") == ("paid", Decimal("0.00"))


def test_a_payer_known_by_name_listing_short_numbers_less_a_discount_or_charges(book: Book) -> None:
    """"Rg.-Nr. 00145, 00146 abzgl. 2% Skonto": the short numbers name two invoices of the payer the residue
    found by name, and the payment is what they owe less 2 % of each, in time: each closes with its own
    discount, as a remittance with the full numbers would. Short by charges the tolerance accepts, the last
    one closes with them; short by more, the numbers are not this group's payment and nothing is applied."""
    book.customer("C1", "Weber Verpackungen GmbH")
    for n, amount in ((145, "12362.00"), (146, "13930.00"), (147, "500.00"), (148, "700.00"),
                      (149, "800.00"), (150, "900.00")):
        book.invoice(f"I{n}", amount, number=f"RE-2026-00{n}", issue=date(2024, 6, 1), due=date(2024, 7, 1))
    book.payment("P1", "25766.16", "Rg.-Nr. 00145, 00146 abzgl. 2% Skonto", payer_name="WEBER VERPACKUNGEN GMBH",
                 paid_on=date(2024, 6, 5))
    book.payment("P2", "1192.50", "Rg.-Nr. 00147, 00148", payer_name="WEBER VERPACKUNGEN GMBH",
                 paid_on=date(2024, 6, 25))
    book.payment("P3", "1500.00", "Rg.-Nr. 00149, 00150", payer_name="WEBER VERPACKUNGEN GMBH",
                 paid_on=date(2024, 6, 26))
    reconcile(book.engine, as_of=AS_OF)
    assert {(p, i, a) for p, i, a in book.pairs() if p in ("P1", "P2")} == {
        ("P1", "I145", Decimal("12114.76")), ("P1", "I146", Decimal("13651.40")),
        ("P2", "I147", Decimal("500.00")), ("P2", "I148", Decimal("692.50"))}
    assert {k for k, v in _rules(book).items() if v == "reference_tail"} == {"P1>I145", "P1>I146", "P2>I147", "P2>I148"}
    reasons = {m["invoice_id"]: m["adjustment_reason"] for m in book.matches() if m["adjustment_reason"]}
    assert reasons == {"I145": "early-payment discount 2.0%", "I146": "early-payment discount 2.0%",
                       "I148": "bank charges within tolerance"}
    for n in (145, 146, 147, 148):
        assert book.invoice_state(f"I{n}") == ("paid", Decimal("0.00"))
    assert [m for m in book.matches() if m["payment_id"] == "P3"] == []


def test_a_discount_taken_after_its_term_stays_open_and_asks_a_person(book: Book) -> None:
    """Paid 28 days after the invoice less exactly 2 %: the discount is granted within 10 days only, so the
    95.20 stays open, and an amount_mismatch says why (a plain partial payment raises nothing)."""
    book.invoice("I1", "4760.00", number="RE-2026-00170", issue=date(2024, 6, 1), due=date(2024, 7, 1))
    book.invoice("I2", "4760.00", number="RE-2026-00171", issue=date(2024, 6, 1), due=date(2024, 7, 1))
    book.payment("P1", "4664.80", "RE-2026-00170 abzgl. 2% Skonto", paid_on=date(2024, 6, 29))
    book.payment("P2", "4000.00", "RE-2026-00171 Teilzahlung", paid_on=date(2024, 6, 29))
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I1") == ("partially_paid", Decimal("95.20"))
    assert book.invoice_state("I2") == ("partially_paid", Decimal("760.00"))
    [exc] = book.exceptions()
    assert (exc["kind"], exc["payment_id"], exc["invoice_id"], Decimal(exc["amount"])) == (
        "amount_mismatch", "P1", "I1", Decimal("95.20"))
    assert "28 days after the invoice date" in exc["detail"] and "(2.0%) granted only within 10 days" in exc["detail"]


def test_an_unlettered_credit_note_naming_its_invoice_in_its_label_credits_it(book: Book) -> None:
    """"Avoir AV-2026-00010 sur facture FA-2026-00151": the ERP did not letter the partial credit note, but its
    label names the invoice, so the invoice owes the net (what a reminder asks, what the payer pays), in full and
    incremental runs alike. A label naming two invoices, or another customer's, credits none."""
    book.invoice("I151", "3081.60", number="FA-2026-00151", issue=date(2024, 5, 2))
    book.invoice("A10", "-1232.64", number="AV-2026-00010", doc_type="credit_note", issue=date(2024, 5, 20),
                 description="Avoir AV-2026-00010 sur facture FA-2026-00151")
    book.invoice("I152", "500.00", number="FA-2026-00152", issue=date(2024, 5, 2))
    book.invoice("I153", "600.00", number="FA-2026-00153", issue=date(2024, 5, 2))
    book.invoice("A11", "-100.00", number="AV-2026-00011", doc_type="credit_note", issue=date(2024, 5, 20),
                 description="Avoir sur factures FA-2026-00152 et FA-2026-00153")
    book.invoice("I201", "900.00", number="FA-2026-00201", customer="C2", issue=date(2024, 5, 2))
    book.invoice("A12", "-90.00", number="AV-2026-00012", doc_type="credit_note", issue=date(2024, 5, 20),
                 description="Avoir sur facture FA-2026-00201")
    reconcile(book.engine, as_of=AS_OF)
    # (credited in part, nothing paid yet: past due, it is overdue for the net)
    assert book.invoice_state("I151") == ("overdue", Decimal("1848.96"))
    assert book.invoice_state("A10")[1] == Decimal("0.00")
    assert book.invoice_state("I152")[1] == Decimal("500.00") and book.invoice_state("I201")[1] == Decimal("900.00")
    # the payer pays the net, by reference: the invoice closes; an incremental run keeps the credit note's match
    book.payment("P1", "1848.96", "FA-2026-00151")
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert book.invoice_state("I151") == ("paid", Decimal("0.00"))
    assert {(m["payment_id"], m["rule"]) for m in book.matches() if m["invoice_id"] == "I151"} == {
        ("A10", "credit_note"), ("P1", "exact_reference")}


def test_a_credit_note_raised_after_its_invoice_was_paid_is_the_customers_credit(book: Book) -> None:
    """"Avoir sur facture FA-2026-00160", raised after the customer paid that invoice in full: the invoice stays
    paid by the money, and the credit note is the customer's to use, here deducted from the next invoice's payment
    (a Stripe customer balance, a payer deducting it). Netted with the invoice it names, the paid invoice's money
    overpaid it and the next payment fell short."""
    book.invoice("I160", "600.00", number="FA-2026-00160", issue=date(2024, 5, 2))
    book.payment("P1", "600.00", "FA-2026-00160", paid_on=date(2024, 5, 10))
    reconcile(book.engine, as_of=AS_OF)
    # the next night (incremental): the credit note, the next invoice and its payment net of the credit
    book.invoice("A20", "-150.00", number="AV-2026-00020", doc_type="credit_note", issue=date(2024, 5, 20),
                 description="Avoir sur facture FA-2026-00160")
    book.invoice("I161", "600.00", number="FA-2026-00161", issue=date(2024, 6, 1), due=date(2024, 7, 1))
    book.payment("P2", "450.00", "FA-2026-00161", paid_on=date(2024, 6, 10))
    for incremental in (True, False):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.invoice_state("I160") == ("paid", Decimal("0.00"))
        assert book.invoice_state("I161") == ("paid", Decimal("0.00"))
        assert book.invoice_state("A20")[1] == Decimal("0.00")
        assert not [m for m in book.matches() if m["invoice_id"] == "I160" and m["payment_id"] == "A20"]
        assert not book.exceptions()


def test_a_structured_reference_printed_in_groups_of_four(book: Book) -> None:
    """A creditor reference and a Dutch payment reference as banking apps print them."""
    book.invoice("I1", "120.00", number="RF18539007547034")
    book.invoice("I2", "80.00", number="1234567890123456")
    book.payment("P1", "120.00", "RF18 5390 0754 7034")
    book.payment("P2", "80.00", "BETALINGSKENMERK 1234 5678 9012 3456 BEDANKT")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("120.00")), ("P2", "I2", Decimal("80.00"))}


def test_tail_reference_needs_same_customer(book: Book) -> None:
    book.invoice("I1", "30.00", number="FA-2024-00125", customer="C1")
    book.payment("P1", "30.00", "payment 00125", customer="C2")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == set()
    assert book.exception_kinds() == {"P1": "unmatched_payment"}


def test_fuzzy_reference_one_typo_same_amount(book: Book) -> None:
    book.customer("C1", "ACME SARL", IBAN)
    book.invoice("I1", "410.00", number="FA-2024-00123")
    book.invoice("I2", "999.00", number="FA-2024-00987")
    book.payment("P1", "410.00", "FA-2024-00132", payer_iban=IBAN)  # transposed digits
    reconcile(book.engine, as_of=AS_OF)
    assert _rules(book) == {"P1>I1": "fuzzy_reference"}


def test_a_reference_one_typo_away_with_another_amount_is_only_suggested(book: Book) -> None:
    """FA-2024-0050 was paid; FA-2024-0080 of the same customer is open for more. One digit away and
    a smaller amount: a partial payment of 0080 or a second payment of 0050, so a person decides."""
    book.customer("C1", "ACME SARL", IBAN)
    book.invoice("I80", "12847.34", number="FA-2024-0080")
    book.payment("P1", "9063.28", "FA-2024-0050", payer_iban=IBAN)
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == set()
    assert book.pairs(states=("suggested",)) == {("P1", "I80", Decimal("9063.28"))}
    assert book.exception_kinds()["P1"] == "amount_mismatch"
    assert book.invoice_state("I80")[1] == Decimal("12847.34")


def test_customer_and_amount_from_iban_and_from_fuzzy_name(book: Book) -> None:
    book.customer("C1", "ACME SARL", IBAN)
    book.customer("C2", "Boulangerie Dupont", None)
    book.invoice("I1", "120.00", customer="C1")
    book.invoice("I2", "75.50", customer="C2")
    book.invoice("I3", "80.00", customer="C2")
    book.payment("P1", "120.00", "virement", payer_iban=IBAN)
    book.payment("P2", "75.50", "paiement", payer_name="BOULANGERIE DUPONT SARL")
    reconcile(book.engine, as_of=AS_OF)
    assert _rules(book) == {"P1>I1": "customer_amount", "P2>I2": "customer_amount"}


def test_payer_names_with_dotted_legal_forms(book: Book) -> None:
    """S.A.S. and S.A.R.L. are the legal forms SAS and SARL; a name alias kept before that rule still counts."""
    book.customer("C1", "Boulangerie Dupont SAS", None)
    book.customer("C2", "Holding Martin", None)
    book.invoice("I1", "75.50", customer="C1")
    book.invoice("I2", "310.00", customer="C2")
    book.engine.execute(
        "INSERT INTO payer_alias (entity, customer_id, kind, value, decision_id, created_at) "
        "VALUES ('FR01', 'C2', 'name', 'GROUPE MARTIN S A R L', 'd-1', CAST('2024-01-02 00:00:00+00' AS TIMESTAMP WITH TIME ZONE))")
    book.payment("P1", "75.50", "paiement", payer_name="BOULANGERIE DUPONT S.A.S.")
    book.payment("P2", "310.00", "reglement", payer_name="Groupe Martin S.A.R.L.")
    reconcile(book.engine, as_of=AS_OF)
    assert _rules(book) == {"P1>I1": "customer_amount", "P2>I2": "learned_alias"}


def test_customer_number_in_the_remittance_identifies_an_unknown_payer(book: Book) -> None:
    """Kd-Nr. 10042 for SAP's zero-padded 0000010042; a number two customers share identifies neither."""
    book.customer("0000010042", "Maschinenbau Koch", None)
    book.customer("C0042", "Atelier Roux", None)
    book.customer("7788", "Alpha", None)
    book.customer("0007788", "Beta", None)
    book.invoice("I1", "480.00", customer="0000010042")
    book.invoice("I2", "95.00", customer="C0042")
    book.invoice("I3", "60.00", customer="7788")
    book.payment("P1", "480.00", "Kd-Nr. 10042 Zahlung", payer_name="MK HOLDING")
    book.payment("P2", "95.00", "Client C0042", payer_name="SOCIETE XYZ")
    book.payment("P3", "60.00", "compte 7788", payer_name="QQQ")
    reconcile(book.engine, as_of=AS_OF)
    assert _rules(book) == {"P1>I1": "customer_amount", "P2>I2": "customer_amount", "P3>I3": "amount_only"}
    explanations = {m["payment_id"]: m["explanation"] for m in book.matches()}
    assert explanations["P1"] == ("customer 0000010042 (from customer number in the reference): "
                                  "only open item of 480.00 EUR")


def test_a_number_naming_an_invoice_is_not_read_as_a_customer_number(book: Book) -> None:
    """Customer 1001 and invoice 1001 of another customer: the remittance names the invoice."""
    book.customer("1001", "Alpha", None)
    book.customer("C2", "Beta", None)
    book.invoice("I1", "50.00", number="1001", customer="C2")
    book.invoice("I2", "80.00", customer="1001")
    book.payment("P1", "80.00", "Facture 1001", payer_name="QQQ")  # more than invoice 1001 owes
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == set()
    assert _rules(book) == {"P1>I1": "exact_reference"}  # suggested, as an unknown payer's overpayment is


def test_two_equal_open_items_are_suggested_never_applied(book: Book) -> None:
    book.customer("C1", "ACME", IBAN)
    book.invoice("I1", "200.00")
    book.invoice("I2", "200.00")
    book.payment("P1", "200.00", "virement", payer_iban=IBAN)
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == set()
    assert {(m["invoice_id"], m["state"]) for m in book.matches(states=("suggested",))} == {
        ("I1", "suggested"), ("I2", "suggested")}
    assert book.exception_kinds() == {"P1": "ambiguous"}
    assert book.invoice_state("I1")[0] == "overdue"


def test_remittance_listing_several_invoices_with_credit_note(book: Book) -> None:
    book.invoice("I1", "100.00", number="FA-1001")
    book.invoice("I2", "300.00", number="FA-1002")
    book.invoice("CN1", "-50.00", number="AV-9001", doc_type="credit_note")
    book.payment("P1", "350.00", "FA-1001 FA-1002 AV-9001")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("100.00")), ("P1", "I2", Decimal("300.00")),
                            ("P1", "CN1", Decimal("-50.00"))}
    assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
    assert book.invoice_state("CN1")[1] == Decimal("0.00")
    assert book.exceptions() == []


def test_an_early_payment_discount_on_several_listed_invoices_is_taken_on_each(book: Book) -> None:
    """RE 90001337 90001338 ./. 2% SKONTO: 2,940 for 1,000 + 2,000, within the discount days. Each
    invoice closes with its own 2 % (20 and 40), not 60 booked on the last one as a 3 % discount."""
    book.customer("C1", "Mueller GmbH", IBAN)
    book.invoice("I1", "1000.00", number="0090001337", issue=date(2024, 6, 1), due=date(2024, 7, 1))
    book.invoice("I2", "2000.00", number="0090001338", issue=date(2024, 6, 2), due=date(2024, 7, 2))
    book.payment("P1", "2940.00", "RE 90001337 90001338 ./. 2% SKONTO", payer_iban=IBAN, paid_on=date(2024, 6, 8))
    reconcile(book.engine, as_of=AS_OF)
    got = {m["invoice_id"]: (m["amount_applied"], m["adjustment"], m["adjustment_reason"]) for m in book.matches()}
    assert got == {"I1": (Decimal("980.00"), Decimal("20.00"), "early-payment discount 2.0%"),
                   "I2": (Decimal("1960.00"), Decimal("40.00"), "early-payment discount 2.0%")}
    assert book.invoice_state("I1") == book.invoice_state("I2") == ("paid", Decimal("0.00"))
    assert book.exceptions() == []


def test_a_credit_note_lettered_with_two_invoices_nets_them_before_the_payment(book: Book) -> None:
    """The accountant lettered CN with I1 and I2 and the transfer that paid their net (AAC): the credit
    note is applied to them by due date, and the transfer naming both pays what is left. Every document
    ends settled, not I2 half open beside an open credit note."""
    book.customer("C1", "MENUISERIE DUPUIS SASU")
    book.invoice("I1", "400.00", number="F2025-0301", customer="C1", erp_lettrage="AAC", due=date(2024, 5, 10))
    book.invoice("I2", "529.20", number="F2025-0328", customer="C1", erp_lettrage="AAC", due=date(2024, 5, 20))
    book.invoice("CN", "-529.20", number="AV2025-0010", customer="C1", doc_type="credit_note", erp_lettrage="AAC")
    book.payment("P1", "400.00", "FACT F2025-0301 F2025-0328 MOINS AVOIR")
    reconcile(book.engine, as_of=AS_OF)
    credits = {(m["invoice_id"], Decimal(m["amount_applied"])) for m in book.matches() if m["rule"] == "credit_note"}
    assert credits == {("I1", Decimal("400.00")), ("I2", Decimal("129.20"))}
    assert book.invoice_state("I1") == ("credited", Decimal("0.00"))
    assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
    assert book.invoice_state("CN")[1] == Decimal("0.00")
    assert book.exceptions() == []


def test_two_credit_notes_lettered_with_two_invoices_net_them_in_order(book: Book) -> None:
    """SAP cleared two invoices and two credit notes with one transfer (one clearing document): the credit
    notes, in date order, are laid against the invoices by due date, and the transfer pays the rest."""
    book.invoice("I1", "1000.00", number="FT 2025/0144", erp_lettrage="1400000300", due=date(2024, 5, 10))
    book.invoice("I2", "800.00", number="FT 2025/0237", erp_lettrage="1400000300", due=date(2024, 5, 20))
    book.invoice("CN1", "-150.00", number="NC 2025/011", doc_type="credit_note", erp_lettrage="1400000300",
                 issue=date(2024, 5, 2))
    book.invoice("CN2", "-900.00", number="NC 2025/024", doc_type="credit_note", erp_lettrage="1400000300",
                 issue=date(2024, 5, 3))
    book.payment("P1", "750.00", "SALDO FT 2025/0144 E 2025/0237")
    reconcile(book.engine, as_of=AS_OF)
    credits = {(m["payment_id"], m["invoice_id"], Decimal(m["amount_applied"]))
               for m in book.matches() if m["rule"] == "credit_note"}
    assert credits == {("CN1", "I1", Decimal("150.00")), ("CN2", "I1", Decimal("850.00")),
                       ("CN2", "I2", Decimal("50.00"))}
    assert book.pairs() >= {("P1", "I2", Decimal("750.00"))}
    assert all(book.invoice_state(i)[1] == Decimal("0.00") for i in ("I1", "I2", "CN1", "CN2"))
    assert book.exceptions() == []


def test_a_number_written_after_a_credit_note_word_never_names_an_invoice(book: Book) -> None:
    """"PAGAMENTO FT 2025/0347 AL NETTO NS NC 2025/008" from a payer the book does not know: 2025/008 is the
    payer's credit note and, read by its digit groups, also another customer's older invoice 2025/0008.
    After "NC" it names a credit note only: without that, the partial payment paid 2025/0008 first. The amount
    is the invoice less NC-8 to the cent, so NC-8 (which the remittance writes in a way no key reads) is netted
    in the payment and both documents close."""
    book.invoice("I347", "14457.46", number="2025/0347", customer="C1")
    book.invoice("CN8", "-4337.24", number="NC-8", customer="C1", doc_type="credit_note")
    book.invoice("I8", "3889.87", number="2025/0008", customer="C2", due=date(2024, 2, 28))
    book.payment("P1", "10120.22", "PAGAMENTO FT 2025/0347 AL NETTO NS NC 2025/008", payer_name="MORETTI OLEODINAMICA")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I347", Decimal("14457.46")), ("P1", "CN8", Decimal("-4337.24"))}
    assert book.invoice_state("I8") == ("overdue", Decimal("3889.87"))
    assert book.invoice_state("I347") == ("paid", Decimal("0.00"))


def test_other_numbers_the_erp_keeps_for_an_invoice_are_read_last(book: Book) -> None:
    """SAP keeps the customer's order 4500065326 in XBLNR (Lettrage's printed number) and the invoice's own
    document number 90012078 beside it; a Swiss QR reference sits in the assignment. "Rg. 90012063 /
    90012078" names two invoices, the second by its document number; a QR payment names the third."""
    book.invoice("I0", "500.00", number="90012063")
    book.invoice("I1", "908.65", number="4500065326")
    book.invoice("I2", "1200.00", number="RE-55")
    for invoice_id, alias in (("I1", "90012078"), ("I2", "000000000001001459001200947")):
        book._insert("int_invoice_aliases", {"entity": book.entity, "invoice_id": invoice_id, "alias": alias,
                                             "source_system": "test"})
    book.payment("P1", "1408.65", "Rg. 90012063 / 90012078")
    book.payment("P2", "1200.00", "000000000001001459001200947")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I0", Decimal("500.00")), ("P1", "I1", Decimal("908.65")),
                            ("P2", "I2", Decimal("1200.00"))}
    assert _rules(book) == {"P1>I0": "exact_reference", "P1>I1": "alias_reference", "P2>I2": "alias_reference"}


def test_subset_sum_of_customer_open_items_oldest_first(book: Book) -> None:
    book.customer("C1", "ACME", IBAN)
    book.invoice("I1", "100.00", issue=date(2024, 3, 1), due=date(2024, 3, 31))
    book.invoice("I2", "250.00", issue=date(2024, 4, 1), due=date(2024, 4, 30))
    book.invoice("I3", "400.00", issue=date(2024, 5, 1), due=date(2024, 5, 31))
    book.invoice("CN1", "-20.00", doc_type="credit_note", issue=date(2024, 5, 2), due=date(2024, 5, 2))
    book.payment("P1", "480.00", "releve mai", payer_iban=IBAN)  # I1 + I3 - CN1
    reconcile(book.engine, as_of=AS_OF)
    assert {(p, i) for p, i, _ in book.pairs()} == {("P1", "I1"), ("P1", "I3"), ("P1", "CN1")}
    assert set(_rules(book).values()) == {"subset_sum"}


def test_partial_payments_each_match_and_close_when_they_add_up(book: Book) -> None:
    book.invoice("I1", "1000.00", number="FA-777")
    book.payment("P1", "400.00", "FA-777 acompte", paid_on=date(2024, 6, 1))
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I1") == ("partially_paid", Decimal("600.00"))
    book.payment("P2", "600.00", "FA-777 solde", paid_on=date(2024, 6, 20))
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("400.00")), ("P2", "I1", Decimal("600.00"))}
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))


def test_short_payment_within_tolerance_closes_with_reason(book: Book) -> None:
    book.invoice("I1", "1000.00", number="FA-500", issue=date(2024, 1, 1), due=date(2024, 1, 31))
    book.invoice("I2", "1000.00", number="FA-501", issue=date(2024, 6, 1), due=date(2024, 7, 1))
    book.payment("P1", "988.50", "FA-500")                      # 11.50 bank charges
    book.payment("P2", "980.00", "FA-501", paid_on=date(2024, 6, 5))  # 2 % early-payment discount
    reconcile(book.engine, as_of=AS_OF)
    reasons = {m["invoice_id"]: (Decimal(m["adjustment"]), m["adjustment_reason"]) for m in book.matches()}
    assert reasons == {"I1": (Decimal("11.50"), "bank charges within tolerance"),
                       "I2": (Decimal("20.00"), "early-payment discount 2.0%")}
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    assert book.exceptions() == []


def test_a_duplicate_after_a_discount_taken_in_time_leaves_the_discount_and_the_duplicate_whole(book: Book) -> None:
    """FA-501 (1,000.00) paid 980.00 within the discount days, then the same 980.00 again: the first payment closes
    it with its 2 % discount and the duplicate stays the customer's money, whole (it once filled the 20.00 discount
    and left 960.00), in a full run as in the incremental run of the day it arrives. FA-502, short 20.00 after its
    discount term, is topped up by exactly 20.00: that payment completes it."""
    book.invoice("I2", "1000.00", number="FA-501", issue=date(2024, 6, 1), due=date(2024, 7, 1))
    book.invoice("I3", "1000.00", number="FA-502", issue=date(2024, 3, 1), due=date(2024, 3, 31))
    book.payment("P2", "980.00", "FA-501", paid_on=date(2024, 6, 5))
    book.payment("P4", "980.00", "FA-502", paid_on=date(2024, 6, 5))
    reconcile(book.engine, as_of=AS_OF)
    book.payment("P3", "980.00", "FA-501", paid_on=date(2024, 6, 12))
    book.payment("P5", "20.00", "FA-502 solde", paid_on=date(2024, 6, 12))
    for incremental in (True, False):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        got = {(m["payment_id"], m["invoice_id"]): (Decimal(m["amount_applied"]), Decimal(m["adjustment"] or 0))
               for m in book.matches()}
        assert got == {("P2", "I2"): (Decimal("980.00"), Decimal("20.00")),
                       ("P4", "I3"): (Decimal("980.00"), Decimal("0")), ("P5", "I3"): (Decimal("20.00"), Decimal("0"))}
        assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
        assert book.invoice_state("I3") == ("paid", Decimal("0.00"))
        assert [(e["payment_id"], Decimal(e["amount"])) for e in book.exceptions()] == [("P3", Decimal("980.00"))]


def test_short_payment_beyond_tolerance_stays_partial(book: Book) -> None:
    book.invoice("I1", "1000.00", number="FA-500")
    book.payment("P1", "900.00", "FA-500")
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I1") == ("partially_paid", Decimal("100.00"))


def test_a_reference_cut_short_pays_the_invoice_it_names_and_the_one_the_rest_fits(book: Book) -> None:
    """BACS keeps 18 characters: "INV 90012140 90012" for two invoices. The named one is paid; the rest
    is exactly another open invoice of the payer, so it is that one, not customer credit."""
    book.customer("C1", "Harrow Tools Ltd", IBAN)
    book.invoice("I1", "6188.02", number="90012140")
    book.invoice("I2", "6268.62", number="90012038")
    book.invoice("I3", "999.00", number="90012041")
    book.payment("P1", "12456.64", "INV 90012140 90012", payer_iban=IBAN)
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("6188.02")), ("P1", "I2", Decimal("6268.62"))}
    assert _rules(book)["P1>I2"] == "customer_amount"
    assert book.exceptions() == []


def test_a_payer_found_by_name_paying_its_named_invoice_and_another(book: Book) -> None:
    """The same without the payer's IBAN in the master: the residue finds it by name, the named invoice
    is its own, so it is paid, and the rest pays the invoice it fits."""
    book.customer("C7", "Clyde Fabrication Ltd")
    book.invoice("I1", "4127.90", number="90012228", customer="C7")
    book.invoice("I2", "4911.38", number="90012014", customer="C7")
    book.payment("P1", "9039.28", "INV 90012228 90012", payer_name="CLYDE FABRICATION")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("4127.90")), ("P1", "I2", Decimal("4911.38"))}
    assert book.exceptions() == []


def test_overpayment_leaves_credit_and_exception(book: Book) -> None:
    book.invoice("I1", "100.00", number="FA-900")
    book.payment("P1", "150.00", "FA-900", customer="C1")
    book.payment("P2", "100.00", "FA-900 again", customer="C1", paid_on=date(2024, 6, 20))  # duplicate payment
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("100.00"))}
    exc = {e["payment_id"]: (e["kind"], Decimal(e["amount"])) for e in book.exceptions()}
    assert exc == {"P1": ("overpayment", Decimal("50.00")), "P2": ("overpayment", Decimal("100.00"))}


def test_reference_not_corroborated_by_payer_or_amount_is_only_suggested(book: Book) -> None:
    """A typo that is another valid number (FA-000040 for FA-000004) must not auto-apply."""
    book.customer("C1", "Alpha SARL", iban="FR7630001007941234567890185")
    book.customer("C2", "Beta SAS", iban="FR7630004000031234567890143")
    book.invoice("I4", "857.36", number="FA-2025-000004", customer="C2")
    book.invoice("I40", "1200.00", number="FA-2025-000040", customer="C1")
    book.payment("P1", "857.36", "FA-2025-000040", payer_iban="FR7630004000031234567890143")  # C2 pays, typo
    book.payment("P2", "1500.00", "FA-2025-000040")   # unknown payer, pays more than owed
    reconcile(book.engine, as_of=AS_OF)
    # the payer's own invoice one typo away with exactly the amount wins; nothing lands on I40
    assert book.pairs() == {("P1", "I4", Decimal("857.36"))}
    assert book.matches()[0]["rule"] == "fuzzy_reference"
    assert ("P2", "I40", Decimal("1200.00")) in book.pairs(states=("suggested",))
    assert book.exception_kinds()["P2"] == "amount_mismatch"
    assert book.invoice_state("I40")[1] == Decimal("1200.00")


def test_a_payer_named_as_a_customer_typing_another_customer_s_invoice_is_not_a_partial_payment(book: Book) -> None:
    """Helvetia (no IBAN in the master) pays its own FA2024-0028 but types FA2024-0082, another
    customer's larger invoice. As an unknown payer paying less than owed, the reference would be
    trusted as a partial payment of the wrong invoice; its name is exactly one customer's, so the
    residue looks among that customer's invoices for the one a typo away with the amount."""
    book.customer("C7", "Helvetia Consulting AG")
    book.customer("C22", "Rhone Outillage SAS")
    book.invoice("I28", "6062.47", number="FA2024-0028", customer="C7")
    book.invoice("I82", "9239.81", number="FA2024-0082", customer="C22")
    book.payment("P1", "6062.47", "FACTURE FA2024-0082", payer_name="HELVETIA CONSULTING AG")
    book.payment("P2", "4000.00", "FA2024-0082 acompte", payer_name="RHONE OUTILLAGE")  # its own: a partial
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I28", Decimal("6062.47")), ("P2", "I82", Decimal("4000.00"))}
    assert _rules(book) == {"P1>I28": "fuzzy_reference", "P2>I82": "exact_reference"}


def test_an_invoice_the_erp_settled_before_the_bank_data_begin_is_paid_on_the_erp_s_word(book: Book) -> None:
    """History older than the statements: I1 was lettered in January with the ERP's receipt, the bank
    lines start in June. I2's receipt is dated within the statements' period, where the bank line is
    the evidence: without one, the ERP and Lettrage disagree. A later payment naming I1 is a second one."""
    book.customer("C1", "ACME SARL")
    book.invoice("I1", "500.00", number="FA-2024-0001", erp_lettrage="AA", erp_open="0")
    book.invoice("I2", "300.00", number="FA-2024-0002", erp_lettrage="AB", erp_open="0")
    book.invoice("I3", "200.00", number="FA-2024-0003")
    book.payment("R1", "500.00", "VIR ACME", customer="C1", channel="erp", paid_on=date(2024, 1, 15))
    book.payment("R2", "300.00", "VIR ACME", customer="C1", channel="erp", paid_on=date(2024, 6, 12))
    book.erp_settled("I1", "R1", date(2024, 1, 15), "AA")
    book.erp_settled("I2", "R2", date(2024, 6, 12), "AB")
    book.payment("P1", "200.00", "FA-2024-0003", customer="C1", paid_on=date(2024, 6, 3))  # the bank data begin
    book.payment("P2", "500.00", "FA-2024-0001", customer="C1", paid_on=date(2024, 6, 20))
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("R1", "I1", Decimal("500.00")), ("P1", "I3", Decimal("200.00"))}
    assert _rules(book)["R1>I1"] == "erp_lettrage"
    assert "lettrage AA, receipt of 2024-01-15" in book.matches()[1]["explanation"]
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    kinds = book.exception_kinds()
    assert kinds["I2"] == "erp_disagreement" and "I1" not in kinds
    assert kinds["P2"] == "amount_mismatch" and not any(m["payment_id"] == "P2" for m in book.matches())


def test_a_receipt_just_before_the_bank_data_counts_unless_a_bank_credit_of_its_amount_follows(book: Book) -> None:
    """Two receipts booked in the ERP two days before the first bank line: one the statements show
    (a credit of its amount follows within the margin: the bank line is the evidence), one they
    cannot (no such credit: the ERP's word)."""
    book.customer("C1", "ACME SARL")
    book.invoice("I4", "70.00", number="FA-2024-0004", erp_lettrage="AC", erp_open="0")
    book.invoice("I5", "90.00", number="FA-2024-0005", erp_lettrage="AD", erp_open="0")
    book.payment("R4", "70.00", "VIR ACME", customer="C1", channel="erp", paid_on=date(2024, 6, 1))
    book.payment("R5", "90.00", "VIR ACME", customer="C1", channel="erp", paid_on=date(2024, 6, 1))
    book.erp_settled("I4", "R4", date(2024, 6, 1), "AC", received="70.00")
    book.erp_settled("I5", "R5", date(2024, 6, 1), "AD", received="90.00")
    book.payment("P0", "10.00", "frais", customer="C1", paid_on=date(2024, 6, 3))  # the bank data begin
    book.payment("P4", "70.00", "VIREMENT ACME", customer="C1", paid_on=date(2024, 6, 4))
    reconcile(book.engine, as_of=AS_OF)
    assert {k: v for k, v in _rules(book).items() if not k.startswith("P0")} == {
        "R5>I5": "erp_lettrage", "P4>I4": "customer_amount"}


def test_a_receipt_just_before_the_bank_data_is_not_taken_for_another_customer_s_credit(book: Book) -> None:
    """The ERP settled C5's FA-18 with a receipt the day before the first bank line; a credit of the same
    amount follows, but from C1's known account, paying C1's own invoice: that is C1's money, so FA-18 is
    settled on the ERP's word (it was reminded as unpaid), and C1's credit pays C1's invoice."""
    book.customer("C1", "ACME SARL", "FR7630001007941234567890185")
    book.customer("C5", "BETA SAS")
    book.invoice("I18", "6302.40", number="FA-2026-00018", customer="C5", erp_lettrage="AE", erp_open="0")
    book.invoice("I30", "6302.40", number="FA-2026-00030", customer="C1")
    book.payment("R18", "6302.40", "VIR BETA", customer="C5", channel="erp", paid_on=date(2024, 6, 1))
    book.erp_settled("I18", "R18", date(2024, 6, 1), "AE", received="6302.40")
    book.payment("P0", "10.00", "frais", customer="C1", paid_on=date(2024, 6, 2))  # the bank data begin
    book.payment("P30", "6302.40", "FA-2026-00030", customer="C1", paid_on=date(2024, 6, 4))
    reconcile(book.engine, as_of=AS_OF)
    assert {k: v for k, v in _rules(book).items() if not k.startswith("P0")} == {
        "R18>I18": "erp_lettrage", "P30>I30": "exact_reference"}
    assert book.invoice_state("I18") == ("paid", Decimal("0.00"))


def test_a_transfer_the_erp_booked_before_the_statements_but_after_the_provider_data_begin(book: Book) -> None:
    """GoCardless data begin on 8 August, the statements on 1 September. The ERP lettered I1 with a transfer
    it booked on 25 August: no statement can show it, so I1 is paid on the ERP's word (it used to stand
    open, an erp_disagreement, because the bound was the provider's first payment). I2's receipt of 12 August
    is a collection the GoCardless data show (same amount, days before): the collection pays I2, not the
    ERP's word, and no second payment appears."""
    book.customer("C1", "ACME SL")
    book.invoice("I1", "968.00", number="260102", erp_lettrage="PAY-7041", erp_open="0")
    book.invoice("I2", "250.00", number="260104", erp_lettrage="PAY-7042", erp_open="0")
    book.payment("R1", "968.00", "TRANSFER", customer="C1", channel="erp", paid_on=date(2024, 8, 25))
    book.payment("R2", "250.00", "PM0001", customer="C1", channel="erp", paid_on=date(2024, 8, 15))
    book.erp_settled("I1", "R1", date(2024, 8, 25), "PAY-7041", received="968.00")
    book.erp_settled("I2", "R2", date(2024, 8, 15), "PAY-7042", received="250.00")
    book.payment("G1", "250.00", "260104", customer="C1", channel="gocardless", paid_on=date(2024, 8, 8))
    book.payment("P0", "10.00", "frais", customer="C1", paid_on=date(2024, 9, 1))  # the statements begin
    for incremental in (False, True):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert {k: v for k, v in _rules(book).items() if not k.startswith("P0")} == {
            "R1>I1": "erp_lettrage", "G1>I2": "exact_reference"}
        assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
        assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
        assert "I1" not in book.exception_kinds()
    (settled,) = [m for m in book.matches() if m["payment_id"] == "R1"]
    assert settled["explanation"].endswith("before the bank statements begin (2024-09-01)")


def test_a_bank_credit_pays_the_invoice_the_erp_receipt_lists(book: Book) -> None:
    """NetSuite, SAP Business One and Sage Accounting list on a receipt the invoices it applied to ("5056"):
    HARBORVIEW's ACH credit of 2,500 names nothing and HARBORVIEW owes two invoices of 2,500. NetSuite's receipt
    7248 of that amount, two days later, applied to INV-1009: the credit pays INV-1009 (rule erp_receipt), where
    it used to be a suggestion of both."""
    book.customer("308", "Harborview Hotel")
    book.invoice("5056", "2500.00", number="INV-1009", customer="308", issue=date(2024, 4, 3), erp_lettrage="7248")
    book.invoice("5231", "2500.00", number="INV-1034", customer="308", issue=date(2024, 5, 2))
    book.erp_receipt("NS-7248", "2500.00", customer="308", movement="test:7248", booked=date(2024, 6, 12),
                     code="5056", label="PYMT01248 ACH")
    book.payment("B1", "2500.00", "ORIG CO NAME:HARBORVIEW HOTEL CO ENTRY DESCR:AP PAYMENT",
                 payer_name="HARBORVIEW HOTEL", paid_on=date(2024, 6, 10))
    reconcile(book.engine, as_of=AS_OF)
    assert {(m["payment_id"], m["invoice_id"], m["rule"], m["state"]) for m in book.matches()} == {
        ("B1", "5056", "erp_receipt", "auto")}
    assert book.invoice_state("5231")[1] == Decimal("2500.00")
    assert book.matches()[0]["explanation"] == ("the ERP booked this credit (test:7248, 2024-06-12) and applied it to "
                                                "INV-1009")


def test_a_deposit_the_erp_later_allocated_to_its_invoice_pays_it(book: Book) -> None:
    """JUNIPER paid a 3,000 deposit on 21 September; the invoice of 3,600 was issued on 20 November and the ERP
    (Sage's payment on account, allocated then) lettered its receipt with it. The bank credit pays the invoice
    by the ERP's word, though a payment made two months before an invoice is outside the matching rules' date
    window: 600 stays open."""
    book.customer("C1", "JUNIPER EVENTS LTD")
    book.invoice("I37", "3600.00", number="SI-12037", customer="C1", issue=date(2024, 11, 20), due=date(2024, 12, 20),
                 erp_lettrage="AA", erp_open="600.00")
    book.erp_receipt("R1", "3000.00", customer="C1", movement="test:poa1", booked=date(2024, 9, 21), code="AA",
                     label="DEPOSIT PO7781")
    book.payment("B1", "3000.00", "DEPOSIT PO7781 FP66E859B98C", payer_name="JUNIPER EVENTS LTD",
                 paid_on=date(2024, 9, 21))
    reconcile(book.engine, as_of=date(2024, 12, 31))
    assert {(m["payment_id"], m["invoice_id"], Decimal(m["amount_applied"]), m["rule"]) for m in book.matches()} == {
        ("B1", "I37", Decimal("3000.00"), "erp_receipt")}
    assert book.invoice_state("I37")[1] == Decimal("600.00")


def test_a_bank_credit_the_erp_booked_pays_what_the_erp_lettered_it_with(book: Book) -> None:
    """Within the statements' period the accountant booked these credits, line by line.

    P1 (no reference, a payer the book does not know) is the ERP's receipt R1 of exactly its amount a
    day later, lettered AA with I1: it pays I1, not I4 of the same amount. The FEC letters per account:
    C2's code AA names C2's own I2, not C1's. P2, a cheque remittance, is one bank-journal entry of two
    customers' lines: C2's lettered, C3's not but its label names FA-0003. P3 is C3's receipt the
    accountant neither lettered nor labelled: C3's one open item of that amount. P4 is a card settlement,
    the bank net of the commission the entry books beside the customer's gross line: the invoice is
    paid, the commission its adjustment."""
    for cid, name in (("C1", "ALPHA SARL"), ("C2", "BETA SA"), ("C3", "GAMMA SAS"), ("C4", "DELTA SNC")):
        book.customer(cid, name)
    book.invoice("I1", "100.00", number="FA-0001", customer="C1", erp_lettrage="AA", erp_open="0")
    book.invoice("I4", "100.00", number="FA-0004", customer="C1")
    book.invoice("I2", "250.00", number="FA-0002", customer="C2", erp_lettrage="AA", erp_open="0")
    book.invoice("I3", "80.00", number="FA-0003", customer="C3")
    book.invoice("I5", "70.00", number="FA-0005", customer="C3")
    book.invoice("I6", "404.74", number="FA-0006", customer="C4", erp_lettrage="AC", erp_open="0")
    book.payment("P1", "100.00", "VIREMENT", payer_name="M DUPONT", paid_on=date(2024, 6, 10))
    book.payment("P2", "330.00", "REMISE CHEQUES 123", paid_on=date(2024, 6, 12))
    book.payment("P3", "70.00", None, payer_name="COMPTE JOINT", paid_on=date(2024, 6, 14))
    book.payment("P4", "399.78", "REMISE CB 4587213 DU 150624 NB 1", payer_name="CB REMISES", paid_on=date(2024, 6, 17))
    book.erp_receipt("R1", "100.00", customer="C1", movement="BQ-1", booked=date(2024, 6, 11), code="AA")
    book.erp_receipt("R2", "250.00", customer="C2", movement="BQ-2", booked=date(2024, 6, 11), code="AA")
    book.erp_receipt("R3", "80.00", customer="C3", movement="BQ-2", booked=date(2024, 6, 11),
                     label="Chq GAMMA FA-0003")
    book.erp_receipt("R5", "70.00", customer="C3", movement="BQ-3", booked=date(2024, 6, 14))
    book.erp_receipt("R6", "404.74", customer="C4", movement="BQ-4", booked=date(2024, 6, 16), code="AC",
                     bank="399.78")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("100.00")), ("P2", "I2", Decimal("250.00")),
                            ("P2", "I3", Decimal("80.00")), ("P3", "I5", Decimal("70.00")),
                            ("P4", "I6", Decimal("399.78"))}
    assert set(_rules(book).values()) == {"erp_receipt"}
    explained = {m["payment_id"] + ">" + m["invoice_id"]: m for m in book.matches()}
    assert "the ERP booked this credit (BQ-1, 2024-06-11) and lettered C1's line AA with FA-0001" in (
        explained["P1>I1"]["explanation"])
    assert "line 'Chq GAMMA FA-0003' names FA-0003" in explained["P2>I3"]["explanation"]
    assert "line of 70.00 is the only open item of that amount" in explained["P3>I5"]["explanation"]
    assert Decimal(explained["P4>I6"]["adjustment"]) == Decimal("4.96")
    assert explained["P4>I6"]["adjustment_reason"] == "fees the ERP booked with the receipt"
    assert book.invoice_state("I6") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I4") == ("overdue", Decimal("100.00"))
    assert book.exceptions() == []


def test_an_erp_receipt_names_the_payer_when_its_line_names_no_invoice(book: Book) -> None:
    """C1 owes two invoices of 100: the ERP's unlettered receipt says C1 paid, not which invoice, so the
    customer rules suggest both, as for any payer known to owe two equal items."""
    book.customer("C1", "ALPHA SARL")
    book.invoice("I1", "100.00", number="FA-0001", customer="C1")
    book.invoice("I2", "100.00", number="FA-0002", customer="C1")
    book.payment("P1", "100.00", "VIREMENT", payer_name="M DUPONT", paid_on=date(2024, 6, 10))
    book.erp_receipt("R1", "100.00", customer="C1", movement="BQ-1", booked=date(2024, 6, 10))
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == set()
    suggested = book.matches(states=("suggested",))
    assert {m["invoice_id"] for m in suggested} == {"I1", "I2"}
    assert all("ERP receipt" in m["explanation"] for m in suggested)


def test_an_erp_receipt_that_could_be_another_credit_or_is_far_off_names_nothing(book: Book) -> None:
    """Two credits of 100 the same week and one receipt of 100: which one the ERP booked is not known,
    so neither takes its invoice. A receipt booked three weeks after a credit is not that credit."""
    book.customer("C1", "ALPHA SARL")
    book.invoice("I1", "100.00", number="FA-0001", customer="C1", erp_lettrage="AA", erp_open="0")
    book.invoice("I2", "60.00", number="FA-0002", customer="C1", erp_lettrage="AB", erp_open="0")
    book.invoice("I9", "999.00", number="FA-0009", customer="C1")  # (C1 owes more: no oldest-items fit)
    book.payment("P1", "100.00", "VIREMENT", payer_name="X", paid_on=date(2024, 6, 10))
    book.payment("P2", "100.00", "VIREMENT", payer_name="Y", paid_on=date(2024, 6, 12))
    book.payment("P3", "60.00", "VIREMENT", payer_name="Z", paid_on=date(2024, 6, 1))
    book.erp_receipt("R1", "100.00", customer="C1", movement="BQ-1", booked=date(2024, 6, 11), code="AA")
    book.erp_receipt("R2", "60.00", customer="C1", movement="BQ-2", booked=date(2024, 6, 22), code="AB")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == set()
    assert book.exception_kinds()["P1"] == book.exception_kinds()["P2"] == "unmatched_payment"


def test_a_discount_the_erp_booked_with_the_receipt_closes_the_invoice_it_names(book: Book) -> None:
    """"REGLEMENT FACTURE FA01601 ESC 1%": the payer took a 1 % discount the tolerances do not grant, and the
    accountant booked the receipt as 512 3,543.91, 665 35.80, 411 3,579.71 without lettering it. The
    remittance pays FA01601; the discount the ERP booked beside the receipt closes it. A payment short by
    the same amount that the ERP booked otherwise (FA01602) stays partially paid."""
    book.customer("C1", "AGENCEMENT BENOIT SAS")
    book.invoice("I1", "3579.71", number="FA01601", customer="C1")
    book.invoice("I2", "3579.71", number="FA01602", customer="C1")
    book.payment("P1", "3543.91", "REGLEMENT FACTURE FA01601 ESC 1%", paid_on=date(2024, 6, 3))
    book.payment("P2", "3543.91", "REGLEMENT FACTURE FA01602", paid_on=date(2024, 6, 24))
    book.erp_receipt("R1", "3579.71", customer="C1", movement="BQ1-771", booked=date(2024, 6, 4), bank="3543.91")
    reconcile(book.engine, as_of=AS_OF)
    by_invoice = {m["invoice_id"]: m for m in book.matches()}
    assert by_invoice["I1"]["rule"] == "exact_reference"
    assert Decimal(by_invoice["I1"]["adjustment"]) == Decimal("35.80")
    assert by_invoice["I1"]["adjustment_reason"] == "discount or charges the ERP booked with the receipt"
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I2") == ("partially_paid", Decimal("35.80"))


def test_a_payer_paying_more_than_its_only_invoice_pays_it_and_keeps_the_rest_as_credit(book: Book) -> None:
    """C1 owes one invoice and pays 100 more: the invoice is paid, 100 stays as customer credit. Not when
    the payment is more than twice the only invoice (more likely for something not in the book yet), nor
    when the payer owes two invoices (the excess may be part of the other's payment)."""
    book.customer("C1", "CHAUDRONNERIE NGUYEN SA", iban=IBAN)
    book.customer("C2", "TRANSPORTS LOUIS", iban="FR7630001007941234567890999")
    book.customer("C3", "PLOMBERIE SUD", iban="FR7630001007941234567890777")
    book.invoice("I1", "846.36", customer="C1")
    book.invoice("I2", "300.00", customer="C2")
    book.invoice("I3", "500.00", customer="C3")
    book.invoice("I4", "400.00", customer="C3")
    book.payment("P1", "946.36", "PAIEMENT CHAUDRONNERIE NGUYEN SA", payer_iban=IBAN)
    book.payment("P2", "700.00", "VIR SEPA TRANSPORTS LOUIS", payer_iban="FR7630001007941234567890999")
    book.payment("P3", "950.00", "VIR PLOMBERIE SUD", payer_iban="FR7630001007941234567890777")
    # a payment on account of an order, not this invoice's: it holds a reference
    book.customer("C4", "GUENTHER MASCHINENBAU GMBH", iban="DE89370400440532013000")
    book.invoice("I5", "6976.38", customer="C4")
    book.payment("P4", "10000.00", "Anzahlung lt. AB zu Auftrag 4500084436", payer_iban="DE89370400440532013000")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("846.36"))}
    assert "the rest stays as customer credit" in book.matches()[0]["explanation"]
    kinds = book.exception_kinds()
    assert kinds == {"P1": "overpayment", "P2": "unmatched_payment", "P3": "unmatched_payment",
                     "P4": "unmatched_payment"}
    assert Decimal(next(e["amount"] for e in book.exceptions() if e["payment_id"] == "P1")) == Decimal("100.00")


def test_a_remainder_the_erp_shows_settled_is_closed_on_its_word(book: Book) -> None:
    """Both invoices were paid 25.00 short (bank charges a SWIFT transfer deducted, beyond the 15.00
    tolerance). SAP cleared I1: the remainder closes on the ERP's word. I2 is still open in SAP: it
    stays partially paid. I3, cleared too, was paid far too little for the ERP's word to cover it."""
    book.invoice("I1", "1000.00", number="FV25-000101", erp_lettrage="1400000501", erp_open="0")
    book.invoice("I2", "1000.00", number="FV25-000102", erp_open="1000.00")
    book.invoice("I3", "1000.00", number="FV25-000103", erp_lettrage="1400000503", erp_open="0")
    book.payment("P1", "975.00", "FV25-000101")
    book.payment("P2", "975.00", "FV25-000102")
    book.payment("P3", "600.00", "FV25-000103")
    reconcile(book.engine, as_of=AS_OF)
    by_invoice = {m["invoice_id"]: m for m in book.matches()}
    assert Decimal(by_invoice["I1"]["adjustment"]) == Decimal("25.00")
    assert by_invoice["I1"]["adjustment_reason"] == "settled in the ERP (lettrage 1400000501)"
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I2")[0] == "partially_paid" and book.invoice_state("I3")[0] == "partially_paid"


def test_the_rest_after_a_named_credit_note_pays_the_one_combination_of_invoices_it_equals(book: Book) -> None:
    """"LIQUIDACION FRAS 777-771 ABONO AB25-000010": the credit note is named, the invoices are written in a
    way no key reads. What the payment has left after netting the credit note is exactly I771 + I777 and
    no other combination of the payer's open invoices: those two are paid, nothing is left over."""
    book.customer("C1", "CEMENTOS BETICA SA", iban=IBAN)
    book.invoice("I771", "44898.31", number="FV24-000771", customer="C1")
    book.invoice("I777", "10946.47", number="FV24-000777", customer="C1")
    book.invoice("I790", "3000.00", number="FV24-000790", customer="C1")
    book.invoice("CN10", "-6734.75", number="AB25-000010", customer="C1", doc_type="credit_note")
    book.payment("P1", "49110.03", "LIQUIDACION FRAS 777-771 ABONO AB25-000010", payer_iban=IBAN)
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "CN10", Decimal("-6734.75")), ("P1", "I771", Decimal("44898.31")),
                            ("P1", "I777", Decimal("10946.47"))}
    assert _rules(book)["P1>I771"] == "subset_sum"
    assert "P1" not in book.exception_kinds()


def test_an_unknown_payer_naming_an_invoice_without_its_year_and_paying_exactly_it_pays_it(book: Book) -> None:
    """A holding company the book does not know writes "PAGO FACTURA N. 211" and pays exactly what
    FV25-000211 owes: the number and the amount agree. P2 pays another amount: the number alone, from a
    stranger, is not enough (FV25-000212 stays open)."""
    book.invoice("I211", "10375.63", number="FV25-000211", customer="C1")
    book.invoice("I212", "500.00", number="FV25-000212", customer="C2")
    book.invoice("I311", "10375.63", number="FV25-000311", customer="C3")
    book.payment("P1", "10375.63", "PAGO FACTURA N. 211 DE 16/05/2025", payer_name="GRUPO MEDITERRANEA HOLDING SL")
    book.payment("P2", "480.00", "PAGO FACTURA N. 212", payer_name="OTRA SOCIEDAD SL")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I211", Decimal("10375.63"))}
    assert _rules(book)["P1>I211"] == "reference_tail"


def test_failed_debit_and_chargeback_reopen_and_raise(book: Book) -> None:
    book.invoice("I1", "100.00", number="FA-1", due=date(2024, 7, 15))
    book.invoice("I2", "200.00", number="FA-2", due=date(2024, 6, 1))
    book.payment("P1", "100.00", "FA-1", channel="gocardless", status="failed", failure_reason="insufficient_funds")
    book.payment("P2", "200.00", "FA-2", channel="stripe", status="charged_back")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == set()
    assert book.exception_kinds() == {"P1": "failed_debit", "P2": "chargeback"}
    assert {e["invoice_id"] for e in book.exceptions()} == {"I1", "I2"}
    # whose money it was: the customer of the invoice each named (the payer is unknown here)
    assert {e["customer_id"] for e in book.exceptions()} == {"C1"}
    assert book.invoice_state("I1") == ("open", Decimal("100.00"))
    # the customer disputed the card payment with its bank: the invoice is in dispute (nobody chases it) until
    # a person resolves the chargeback exception
    assert book.invoice_state("I2") == ("disputed", Decimal("200.00"))
    [chargeback] = [e for e in book.exceptions() if e["kind"] == "chargeback"]
    record_decision(book.engine, entity="FR01", kind="resolve_exception", actor="carol",
                    exception_id=chargeback["exception_id"], reason="customer agreed to pay by transfer")
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I2") == ("overdue", Decimal("200.00"))


def test_a_card_payment_refunded_in_full_says_how_much_went_back(book: Book) -> None:
    """P3 paid FA-3 by card and was refunded in full: it nets to nothing, and its refund exception says the
    100.00 handed back (not 0.00); a declined card (P4) raises nothing, a failed SEPA debit through Stripe (P5)
    does."""
    book.invoice("I3", "100.00", number="FA-3")
    book.invoice("I5", "60.00", number="FA-5")
    book.payment("P3", "100.00", "FA-3", channel="stripe", status="refunded")
    book.payment("P4", "100.00", "FA-3", channel="stripe", status="failed", failure_reason="card_declined")
    book.payment("P5", "60.00", "FA-5", channel="stripe", status="failed",
                 failure_reason="sepa_debit: insufficient_funds")
    book.payout("po_9", "-100.00")
    book._insert("fct_payout_component", {"entity": "FR01", "payout_id": "po_9", "component_id": "re_1",
                                          "kind": "refund", "payment_id": "P3", "amount": Decimal("-100.00"),
                                          "fee": Decimal("0"), "currency": "EUR", "source_system": "test",
                                          "source_id": "re_1"})
    reconcile(book.engine, as_of=AS_OF)
    exceptions = {e["payment_id"]: (e["kind"], e["amount"]) for e in book.exceptions() if e["payment_id"]}
    assert exceptions == {"P3": ("refund", Decimal("100.00")), "P5": ("failed_debit", Decimal("60.00"))}


def test_a_failed_debit_is_nothing_to_chase_once_the_customer_paid_again(book: Book) -> None:
    """The collection of FA-1 came back; the customer then paid it by transfer: FA-1 is paid and the
    failed debit closes, saying why, in a full run and in the incremental run of the day the transfer
    arrives. The failed payment still ends in its exception, resolved."""
    book.invoice("I1", "100.00", number="FA-1", due=date(2024, 7, 15))
    book.invoice("I2", "40.00", number="FA-2", due=date(2024, 7, 15))
    book.payment("P1", "100.00", "FA-1", channel="gocardless", status="failed", failure_reason="insufficient_funds")
    book.payment("P3", "40.00", "FA-2", channel="gocardless", status="failed", failure_reason="insufficient_funds")
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"P1": "failed_debit", "P3": "failed_debit"}
    book.payment("P2", "100.00", "REGUL IMPAYE PRLV FA-1", paid_on=date(2024, 6, 20))
    reconcile(book.engine, as_of=AS_OF, incremental=True)
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    assert book.exception_kinds() == {"P3": "failed_debit"}  # FA-2 is still to chase
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"P3": "failed_debit"}
    closed = [e for e in book.exceptions(open_only=False) if e["payment_id"] == "P1"]
    assert len(closed) == 1 and closed[0]["resolved_at"] is not None
    assert closed[0]["detail"].endswith("invoice FA-1 since paid [closed: settled since]")


def test_a_failed_debit_naming_no_invoice_is_settled_by_the_customers_next_payment_of_its_amount(book: Book) -> None:
    """Two monthly collections of 40.00 from C1 named no invoice and came back; the customer then transferred
    40.00 for FA-1: one failed debit is settled (raised closed, naming the transfer), the other is still to chase.
    A transfer of the same amount made before a failure (C2's) settles nothing, in a full run as in an incremental one."""
    book.customer("C1", "Durand SARL")
    book.customer("C2", "Martin SA")
    book.invoice("I1", "40.00", number="FA-1", customer="C1")
    book.invoice("I2", "40.00", number="FA-2", customer="C1")
    book.invoice("I3", "75.00", number="FA-3", customer="C2")
    for pid, on in (("P1", date(2024, 5, 2)), ("P2", date(2024, 6, 3))):
        book.payment(pid, "40.00", "ABO MENSUEL", customer="C1", channel="gocardless", status="failed",
                     failure_reason="insufficient_funds", paid_on=on)
    book.payment("P4", "75.00", "FA-3", paid_on=date(2024, 6, 1))
    book.payment("P5", "75.00", None, customer="C2", channel="gocardless", status="failed",
                 failure_reason="insufficient_funds", paid_on=date(2024, 6, 5))
    reconcile(book.engine, as_of=AS_OF)
    assert book.exception_kinds() == {"P1": "failed_debit", "P2": "failed_debit", "P5": "failed_debit"}
    book.payment("P3", "40.00", "FA-1", paid_on=date(2024, 6, 20))
    for incremental in (True, False):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
        assert book.exception_kinds() == {"P2": "failed_debit", "P5": "failed_debit"}
        [closed] = [e for e in book.exceptions(open_only=False) if e["payment_id"] == "P1"]
        assert closed["resolved_at"] is not None
        assert closed["detail"].endswith("the customer paid the same amount since (P3) [closed: settled since]")


def test_a_failed_debit_stays_to_chase_while_a_lettered_credit_note_and_a_part_payment_leave_money_owed(
        book: Book) -> None:
    """FA-1 (500.00) less its lettered credit note (100.00) owes 400.00; the debit of 400.00 failed and the
    customer then transferred 300.00. 100.00 is still owed: the failed debit stays open. (The credit note,
    already taken off what FA-1 owed, was once counted again and the exception raised closed.)"""
    book.invoice("I1", "500.00", number="FA-1", erp_lettrage="AB")
    book.invoice("CN", "-100.00", number="AV-1", doc_type="credit_note", erp_lettrage="AB")
    book.payment("P1", "400.00", "FA-1", channel="gocardless", status="failed", failure_reason="insufficient_funds")
    book.payment("P2", "300.00", "FA-1", paid_on=date(2024, 6, 20))
    for incremental in (False, True):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.invoice_state("I1") == ("partially_paid", Decimal("100.00"))
        assert book.exception_kinds() == {"P1": "failed_debit"}


def test_a_short_payment_after_a_lettered_credit_note_closes_the_invoice(book: Book) -> None:
    """FA-1 (500.00) less its lettered credit note (100.00) owes 400.00; the transfer of 395.00 is short by
    5.00, within the bank-charges tolerance: FA-1 closes with the shortfall explained on the payment's match,
    not on the credit note's."""
    book.invoice("I1", "500.00", number="FA-1", erp_lettrage="AB")
    book.invoice("CN", "-100.00", number="AV-1", doc_type="credit_note", erp_lettrage="AB", issue=date(2024, 6, 25))
    book.payment("P1", "395.00", "FA-1")
    for incremental in (False, True):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
        assert book.invoice_state("CN")[1] == Decimal("0.00")
        adjusted = {(m["payment_id"], m["rule"]): Decimal(m["adjustment"]) for m in book.matches()}
        assert adjusted == {("P1", "exact_reference"): Decimal("5.00"), ("CN", "credit_note"): Decimal("0.00")}
        assert book.exceptions() == []


def test_a_credit_note_issued_for_a_part_refund_settles_what_the_refund_took_back(book: Book) -> None:
    """P1 paid FA-1 (100.00) by card; 30.00 was refunded and the ERP issued credit note AV-1 for it without
    lettering it. The credit note settles the 30.00 the refund took back: FA-1 and AV-1 both close, in a
    full run, in an incremental one, and when the credit note arrives a day after the refund."""
    book.customer("C1", "ACME")
    book.invoice("I1", "100.00", number="FA-1", customer="C1")
    book.payment("P1", "100.00", "Invoice FA-1", channel="stripe")
    book.refund("re_1", "P1", "30.00")
    reconcile(book.engine, as_of=AS_OF)
    assert book.invoice_state("I1") == ("partially_paid", Decimal("30.00"))   # no credit note yet
    book.invoice("CN", "-30.00", number="AV-1", customer="C1", doc_type="credit_note", issue=date(2024, 6, 12))
    for incremental in (True, False, True):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.pairs() == {("P1", "I1", Decimal("70.00")), ("CN", "I1", Decimal("30.00"))}
        assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
        assert book.invoice_state("CN") == ("paid", Decimal("0.00"))
        assert book.exceptions() == []
    (credit,) = [m for m in book.matches() if m["payment_id"] == "CN"]
    assert credit["rule"] == "credit_note"
    assert credit["explanation"] == ("credit note AV-1 issued for the refund of 30.00 EUR on payment P1, which named "
                                     "this invoice (not lettered in the ERP)")


def test_a_credit_note_for_a_part_refund_naming_its_invoice_in_its_text_credits_it_once(book: Book) -> None:
    """As above, with the credit note's FEC label naming the invoice ("Avoir AV-2026-0001 remboursement partiel
    FA-2026-0018"): it is the refund's credit note, paired once. (Paired as a refund's and again as one naming its
    invoice, it took the 200.00 off the invoice twice: the payment applied 800.00 and left 200.00 as customer credit.)"""
    book.customer("C1", "ACME")
    book.invoice("I1", "1200.00", number="FA-2026-0018", customer="C1")
    book.invoice("CN", "-200.00", number="AV-2026-0001", customer="C1", doc_type="credit_note",
                 issue=date(2024, 6, 12), description="Avoir AV-2026-0001 ACME remboursement partiel FA-2026-0018")
    book.payment("P1", "1200.00", "FA-2026-0018 Paiement facture FA-2026-0018", channel="stripe")
    book.refund("re_1", "P1", "200.00")
    for incremental in (False, True):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.pairs() == {("P1", "I1", Decimal("1000.00")), ("CN", "I1", Decimal("200.00"))}
        assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
        assert book.invoice_state("CN") == ("paid", Decimal("0.00"))
        assert book.exceptions() == []


def test_a_credit_note_the_erp_lettered_with_its_own_refund_entry_settles_what_the_refund_took_back(
        book: Book) -> None:
    """A FEC letters credit note AV2026-0007 with the entry booking the Stripe refund (code AAE, shared with no
    other document); the charge wrote the invoice "FA2026/0020". The credit note still settles the 604.80 the
    refund took back: both documents close and the partial payment is explained as such."""
    book.customer("C1", "ACME SAS")
    book.invoice("I1", "3024.00", number="FA2026-0020", customer="C1", erp_lettrage="AAB")
    book.invoice("CN", "-604.80", number="AV2026-0007", customer="C1", doc_type="credit_note",
                 issue=date(2024, 6, 12), erp_lettrage="AAE")
    book.payment("P1", "3024.00", "FA2026/0020 Nuagique - abonnement", channel="stripe", customer="C1")
    book.refund("re_1", "P1", "604.80")
    for incremental in (False, True):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.pairs() == {("P1", "I1", Decimal("2419.20")), ("CN", "I1", Decimal("604.80"))}
        assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
        assert book.invoice_state("CN") == ("paid", Decimal("0.00"))


def test_a_card_payment_refunded_in_full_with_its_credit_note_leaves_nothing_to_chase(book: Book) -> None:
    """P1 paid FA-1 by card and was refunded in full; the ERP cancelled FA-1 with credit note AV-1 (not
    lettered). FA-1 is credited, AV-1 used up, and the refund exception is raised closed, naming the credit
    note. A refund whose customer has two credit notes of its amount (P2) pairs with neither."""
    book.customer("C1", "ACME")
    book.customer("C2", "BETA")
    book.invoice("I1", "100.00", number="FA-1", customer="C1")
    book.invoice("CN", "-100.00", number="AV-1", customer="C1", doc_type="credit_note", issue=date(2024, 6, 12))
    book.invoice("I2", "80.00", number="FA-2", customer="C2")
    book.invoice("CN2a", "-80.00", number="AV-2", customer="C2", doc_type="credit_note", issue=date(2024, 6, 12))
    book.invoice("CN2b", "-80.00", number="AV-3", customer="C2", doc_type="credit_note", issue=date(2024, 6, 13))
    book.payment("P1", "100.00", "FA-1", channel="stripe", status="refunded")
    book.payment("P2", "80.00", "FA-2", channel="stripe", status="refunded")
    book.refund("re_1", "P1", "100.00")
    book.refund("re_2", "P2", "80.00")
    for incremental in (False, True):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.invoice_state("I1") == ("credited", Decimal("0.00"))
        assert book.invoice_state("CN") == ("paid", Decimal("0.00"))
        assert book.invoice_state("I2")[1] == Decimal("80.00")
        assert book.invoice_state("CN2a") == ("open", Decimal("-80.00"))
        assert book.exception_kinds() == {"P2": "refund"}
        (p1,) = [e for e in book.exceptions(open_only=False) if e["payment_id"] == "P1"]
        assert p1["kind"] == "refund" and p1["resolved_at"] is not None
        assert "credit note AV-1 issued for it" in p1["detail"]


def test_refunds_are_read_in_each_providers_words(book: Book) -> None:
    """A GoCardless payout item ``payment_refunded`` hands 40.00 of P1 back: P1 applies its net 60.00 and FA-1
    owes 40.00. Stripe refunded P2 in full, then the refund failed (``refund_failure``, the money came back):
    P2 applies all of it and FA-2 is paid (the incremental run of the day the failure arrives too), and an
    exception says the customer is still owed the 100.00."""
    book.invoice("I1", "100.00", number="FA-1")
    book.invoice("I2", "100.00", number="FA-2")
    book.payment("P1", "100.00", "FA-1", channel="gocardless")
    book.payment("P2", "100.00", "FA-2", channel="stripe")
    book.refund("PO1/3", "P1", "40.00", kind="payment_refunded")
    book.refund("txn_1", "P2", "100.00")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("60.00"))}
    book.refund("txn_2", "P2", "-100.00", kind="refund_failure")   # days later, the refund comes back
    for incremental in (True, False):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        assert book.pairs() == {("P1", "I1", Decimal("60.00")), ("P2", "I2", Decimal("100.00"))}
        assert book.invoice_state("I1") == ("partially_paid", Decimal("40.00"))
        assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
        # the customer never got its 100.00 back: a person pays it another way
        (owed,) = book.exceptions()
        assert (owed["kind"], owed["payment_id"], Decimal(owed["amount"])) == ("refund", "P2", Decimal("100.00"))
        assert owed["detail"] == "refund of 100.00 EUR failed and the money came back: the customer is still owed it"


def test_a_payer_deducting_its_credit_note_without_naming_it_settles_both(book: Book) -> None:
    """ACME's transfer names FA-38 only and pays 3,597.47 less its credit note AV-2 (843.37, not lettered) and
    5.21 of bank charges: the credit note is netted in the payment and the 5.21 closed within tolerance, so
    FA-38 and AV-2 both end settled, in a full run and an incremental one. BETA has two credit notes either of
    which would fit: neither is taken, FA-40 stays partially paid, and an exception asks which one."""
    book.customer("C1", "ACME", IBAN)
    book.customer("C2", "BETA", "DE89370400440532013000")
    book.invoice("I1", "3597.47", number="FA-38", customer="C1")
    book.invoice("CN", "-843.37", number="AV-2", customer="C1", doc_type="credit_note", issue=date(2024, 5, 20))
    book.invoice("I2", "1000.00", number="FA-40", customer="C2")
    book.invoice("CNa", "-100.00", number="AV-3", customer="C2", doc_type="credit_note", issue=date(2024, 5, 20))
    book.invoice("CNb", "-100.00", number="AV-4", customer="C2", doc_type="credit_note", issue=date(2024, 5, 21))
    reconcile(book.engine, as_of=AS_OF)
    book.payment("P1", "2748.89", "FA-38", payer_iban=IBAN)
    book.payment("P2", "900.00", "FA-40", payer_iban="DE89370400440532013000")
    for incremental in (True, False):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        got = {(m["payment_id"], m["invoice_id"]): (Decimal(m["amount_applied"]), Decimal(m["adjustment"]))
               for m in book.matches()}
        assert got == {("P1", "CN"): (Decimal("-843.37"), Decimal("0.00")),
                       ("P1", "I1"): (Decimal("3592.26"), Decimal("5.21")),
                       ("P2", "I2"): (Decimal("900.00"), Decimal("0.00"))}
        assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
        assert book.invoice_state("CN") == ("paid", Decimal("0.00"))
        assert book.invoice_state("I2") == ("partially_paid", Decimal("100.00"))
        assert book.invoice_state("CNa")[1] == book.invoice_state("CNb")[1] == Decimal("-100.00")
        assert book.exception_kinds() == {"P2": "ambiguous"}
    (asked,) = book.exceptions()
    assert asked["detail"] == ("pays invoice FA-40 less a credit note, and 2 of the customer's fit (AV-3, AV-4): "
                               "letter the one deducted with the invoice in the ERP and the next run nets it")
    assert Decimal(asked["amount"]) == Decimal("100.00")
    explained = {m["invoice_id"]: m["explanation"] for m in book.matches() if m["payment_id"] == "P1"}
    assert explained["CN"] == "credit note AV-2 deducted by the payer: the payment is what invoice FA-38 owes less it"
    assert explained["I1"].startswith("reference names invoice FA-38, paid less credit note AV-2")


def test_an_unknown_payer_deducting_a_credit_note_to_the_cent_settles_both(book: Book) -> None:
    """A transfer from an account nobody has on file names FA-38 and pays it less AV-2 exactly: the credit note
    is netted (the amount is the evidence), in a full run and an incremental one. Short by a credit note's
    amount plus bank charges, an unknown payer's payment stays a partial payment (only the cent-exact fit is
    taken without knowing the payer), and a partial payment of an invoice whose customer has no such credit
    note is applied as before, with the words 30_allocate writes."""
    book.customer("C1", "ACME", IBAN)
    book.customer("C2", "BETA")
    book.invoice("I1", "3597.47", number="FA-38", customer="C1")
    book.invoice("CN", "-843.37", number="AV-2", customer="C1", doc_type="credit_note", issue=date(2024, 5, 20))
    book.invoice("I2", "1000.00", number="FA-40", customer="C2")
    book.invoice("CN2", "-100.00", number="AV-3", customer="C2", doc_type="credit_note", issue=date(2024, 5, 20))
    book.invoice("I3", "500.00", number="FA-41", customer="C2")
    reconcile(book.engine, as_of=AS_OF)
    book.payment("P1", "2754.10", "FA-38", payer_name="ACME HOLDING")
    book.payment("P2", "894.79", "FA-40", payer_name="SOMEONE")   # 1,000 - 100 - 5.21 of charges
    book.payment("P3", "200.00", "FA-41", payer_name="SOMEONE")
    for incremental in (True, False):
        reconcile(book.engine, as_of=AS_OF, incremental=incremental)
        got = {(m["payment_id"], m["invoice_id"]): Decimal(m["amount_applied"]) for m in book.matches()}
        assert got == {("P1", "CN"): Decimal("-843.37"), ("P1", "I1"): Decimal("3597.47"),
                       ("P2", "I2"): Decimal("894.79"), ("P3", "I3"): Decimal("200.00")}
        assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
        assert book.invoice_state("CN") == ("paid", Decimal("0.00"))
        assert book.invoice_state("I2") == ("partially_paid", Decimal("105.21"))
        assert book.invoice_state("CN2") == ("open", Decimal("-100.00"))
    explained = {(m["payment_id"], m["invoice_id"]): m["explanation"] for m in book.matches()}
    assert explained[("P1", "CN")] == ("credit note AV-2 deducted by the payer: the payment is what invoice "
                                       "FA-38 owes less it")
    assert explained[("P3", "I3")] == "reference FA-41 names invoice FA-41 ; partial payment"


def test_a_payer_deducting_a_credit_note_from_an_invoice_it_shares_settles_both(book: Book) -> None:
    """A transfer from an account not on file pays FA-52 less AV-5, naming FA-52 only; a later remittance
    names FA-52 and FA-53 together, so FA-52 is shared and the residue allocates both payments in date order:
    the credit note the first deducted is netted there too (the residue loads the credit notes of the named
    invoice's customer, which it did not before)."""
    book.customer("C1", "ACME", IBAN)
    book.invoice("I52", "1000.00", number="FA-52")
    book.invoice("I53", "300.00", number="FA-53")
    book.invoice("CN", "-150.00", number="AV-5", doc_type="credit_note", issue=date(2024, 5, 20))
    book.payment("P1", "850.00", "FA-52", payer_name="ACME HOLDING", paid_on=date(2024, 6, 10))
    book.payment("P2", "300.00", "FA-52 FA-53", payer_name="ACME HOLDING", paid_on=date(2024, 6, 12))
    reconcile(book.engine, as_of=AS_OF)
    got = {(m["payment_id"], m["invoice_id"]): Decimal(m["amount_applied"]) for m in book.matches()}
    assert got[("P1", "CN")] == Decimal("-150.00")
    assert got[("P1", "I52")] == Decimal("1000.00")
    assert got[("P2", "I53")] == Decimal("300.00")
    assert book.invoice_state("I52") == ("paid", Decimal("0.00"))
    assert book.invoice_state("CN") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I53") == ("paid", Decimal("0.00"))


def test_an_unmatched_payment_names_the_customer_the_payer_was_found_to_be(book: Book) -> None:
    """KEYSTONE pays 5,000.00 on account from an account not on file: nothing fits, the payment is
    unmatched, and the exception carries the customer found by the payer's name (mart_unapplied_cash files the
    money under it); an unknown payer's exception carries none."""
    book.customer("C1", "KEYSTONE AUTO PARTS")
    book.invoice("I1", "1234.00", number="INV-1", customer="C1")
    book.payment("P1", "5000.00", "ADVANCE PAYMENT", payer_name="KEYSTONE AUTO PARTS")
    book.payment("P2", "77.00", "xyz", payer_name="NOBODY KNOWN")
    reconcile(book.engine, as_of=AS_OF)
    got = {e["payment_id"]: (e["kind"], e["customer_id"]) for e in book.exceptions()}
    assert got == {"P1": ("unmatched_payment", "C1"), "P2": ("unmatched_payment", None)}


def test_an_invoice_numbered_with_digits_alone_is_named_after_a_year_or_in_a_structured_reference(
        book: Book) -> None:
    """SAP Business One numbers invoices 10303, 10304, 10305 (three rents of 1,210.00 to MEIJER). "FACTUUR
    2026-10303" names the first with a year before it; the Dutch payment reference "2100060000010304" (check
    digit, customer number, invoice number zero-padded) names the second. Each pays its own invoice rather
    than being a suggestion of all three; a long number ending otherwise ("2100060000010399") names nothing, and
    that payment takes the one rent left by the customer-and-amount rule."""
    book.customer("C1", "MEIJER LOGISTIEK B.V.", IBAN)
    for n in ("10303", "10304", "10305"):
        book.invoice(f"I{n}", "1210.00", number=n, customer="C1")
    book.payment("P1", "1210.00", "FACTUUR 2026-10303 HUUR SEPT", payer_iban=IBAN)
    book.payment("P2", "1210.00", "2100060000010304", payer_iban=IBAN, paid_on=date(2024, 6, 11))
    book.payment("P3", "1210.00", "2100060000010399", payer_iban=IBAN, paid_on=date(2024, 6, 12))
    reconcile(book.engine, as_of=AS_OF)
    auto = {(m["payment_id"], m["invoice_id"], m["rule"]) for m in book.matches() if m["state"] == "auto"}
    assert auto == {("P1", "I10303", "reference_tail"), ("P2", "I10304", "reference_tail"),
                    ("P3", "I10305", "customer_amount")}


def test_unknown_payer_amount_only_is_a_suggestion(book: Book) -> None:
    book.invoice("I1", "321.00")
    book.payment("P1", "321.00", "virement", payer_name="SOMEONE")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == set()
    assert _rules(book) == {"P1>I1": "amount_only"}
    assert book.exception_kinds() == {"P1": "unmatched_payment"}


def test_every_succeeded_payment_ends_applied_or_in_exception(book: Book) -> None:
    book.customer("C1", "ACME", IBAN)
    book.invoice("I1", "100.00", number="FA-1")
    book.invoice("I2", "100.00", number="FA-2")
    book.payment("P1", "100.00", "FA-1")
    book.payment("P2", "55.00", "?")
    book.payment("P3", "130.00", "FA-2")
    reconcile(book.engine, as_of=AS_OF)
    applied: dict[str, Decimal] = {}
    for p, _, amt in book.pairs():
        applied[p] = applied.get(p, Decimal(0)) + amt
    exc = book.exception_kinds()
    for pid, amount in (("P1", "100.00"), ("P2", "55.00"), ("P3", "130.00")):
        fully = applied.get(pid) == Decimal(amount)
        assert fully != (pid in exc), pid


def test_an_account_paying_for_two_customers_in_one_remittance_teaches_neither(book: Book) -> None:
    """A holding pays for its two subsidiaries: P1 names one invoice of each, P2 one invoice of Henry with exactly
    its amount. The account pays for both, so it is nobody's payer: P3, without a remittance, is not judged as
    Henry's (whose open item of that amount it would take), and the ERP's receipt booking it on Maes's account
    places it on Maes's invoice."""
    book.customer("C1", "HENRY SPRL")
    book.customer("C2", "MAES BV")
    book.invoice("I1", "100.00", number="FA-0001", customer="C1")
    book.invoice("I2", "200.00", number="FA-0002", customer="C2")
    book.invoice("I3", "150.00", number="FA-0003", customer="C1")
    book.invoice("I4", "500.00", number="FA-0004", customer="C1")
    book.invoice("I5", "500.00", number="FA-0005", customer="C2")
    holding = "BE68539007547034"
    book.payment("P1", "300.00", "FA-0001 FA-0002", payer_name="HOLDING VERSTRAETEN NV", payer_iban=holding,
                 paid_on=date(2024, 6, 3))
    book.payment("P2", "150.00", "FA-0003", payer_name="HOLDING VERSTRAETEN NV", payer_iban=holding,
                 paid_on=date(2024, 6, 4))
    book.payment("P3", "500.00", None, payer_name="HOLDING VERSTRAETEN NV", payer_iban=holding,
                 paid_on=date(2024, 6, 10))
    book.erp_receipt("R3", "500.00", customer="C2", movement="BQ-3", booked=date(2024, 6, 12),
                     label="Rglt HOLDING VERSTRAETEN")
    reconcile(book.engine, as_of=AS_OF)
    assert ("P3", "I5", Decimal("500.00")) in book.pairs()
    assert book.invoice_state("I4")[1] == Decimal("500.00")


def test_an_erp_receipt_labelled_with_one_invoice_pays_the_other_its_rest_owes(book: Book) -> None:
    """The accountant booked C1's 1,300.00 with the label of the first invoice it pays: the line pays FA-0001
    (800.00), and its rest, 500.00, is exactly what FA-0002 owes, so it pays FA-0002 rather than stay unapplied."""
    book.customer("C1", "ALPHA SARL")
    book.invoice("I1", "800.00", number="FA-0001", customer="C1")
    book.invoice("I2", "500.00", number="FA-0002", customer="C1")
    book.invoice("I3", "700.00", number="FA-0003", customer="C1")
    book.payment("P1", "1300.00", "VIREMENT", payer_name="M DUPONT", paid_on=date(2024, 6, 10))
    book.erp_receipt("R1", "1300.00", customer="C1", movement="BQ-1", booked=date(2024, 6, 11),
                     label="Rglt FA-0001")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("800.00")), ("P1", "I2", Decimal("500.00"))}
    assert set(_rules(book).values()) == {"erp_receipt"}
    assert book.exceptions() == []


def test_the_transactions_of_a_batch_the_erp_booked_as_one_entry_pay_its_lines(book: Book) -> None:
    """The bank sent a cheque remittance as one batch entry E1 of three transactions (E1/1..3, no remittance
    text); the accountant booked it as one bank line of 1,050.00 and one customer line per payer. Each
    transaction is the receipt line of its amount: ALPHA's lettered with FA-0001, BETA's labelled with FA-0002.
    GAMMA's two lines of 150.00 cannot be told apart by amount, so the receipt places neither."""
    for cid, name in (("C1", "ALPHA SARL"), ("C2", "BETA SA"), ("C3", "GAMMA SAS")):
        book.customer(cid, name)
    book.invoice("I1", "300.00", number="FA-0001", customer="C1", erp_lettrage="AA", erp_open="0")
    book.invoice("I2", "450.00", number="FA-0002", customer="C2")
    book.invoice("I6", "450.00", number="FA-0006", customer="C2")
    book.invoice("I3", "150.00", number="FA-0003", customer="C3")
    book.invoice("I4", "150.00", number="FA-0004", customer="C3")
    for n, amount in enumerate(("300.00", "450.00", "150.00", "150.00"), start=1):
        book.payment(f"E1/{n}", amount, None, payer_name="REMISE CHEQUES", paid_on=date(2024, 6, 10))
        book._insert("fct_bank_line", {
            "entity": book.entity, "bank_line_id": f"E1/{n}", "account_iban": "FR7630004000010001234567890",
            "booking_date": date(2024, 6, 10), "value_date": date(2024, 6, 10), "amount": Decimal(amount),
            "currency": "EUR", "entry_id": "E1", "source_system": "camt053", "source_id": f"E1/{n}"})
    book.erp_receipt("R1", "300.00", customer="C1", movement="BQ-9", booked=date(2024, 6, 11), code="AA")
    book.erp_receipt("R2", "450.00", customer="C2", movement="BQ-9", booked=date(2024, 6, 11), label="Chq BETA FA-0002")
    book.erp_receipt("R3", "150.00", customer="C3", movement="BQ-9", booked=date(2024, 6, 11), label="Chq GAMMA")
    book.erp_receipt("R4", "150.00", customer="C3", movement="BQ-9", booked=date(2024, 6, 11), label="Chq GAMMA")
    reconcile(book.engine, as_of=AS_OF)
    rules = _rules(book)
    assert {(p, i) for p, i, _ in book.pairs() if rules.get(f"{p}>{i}") == "erp_receipt"} == {("E1/1", "I1"),
                                                                                                 ("E1/2", "I2")}
    assert book.invoice_state("I6")[1] == Decimal("450.00")


def test_a_remittance_listing_invoices_less_an_unnamed_credit_note_nets_it(book: Book) -> None:
    """A parent pays its two subsidiaries' invoices in one transfer, "FA-0685 FA-0505", and takes off the credit
    note one of them was issued (AV-0384, 649.28) without naming it: both invoices are paid and the credit note is
    used, instead of FA-0685 left 649.28 open beside a credit note of -649.28."""
    book.customer("C1", "LEMAIRE SA")
    book.customer("C2", "HAVET DISTRIBUTION")
    book.invoice("I1", "4328.55", number="FA-0685", customer="C1")
    book.invoice("I2", "651.34", number="FA-0505", customer="C2")
    book.invoice("CN", "-649.28", number="AV-0384", customer="C1", doc_type="credit_note")
    book.payment("P1", "4330.61", "FA-0685 FA-0505", payer_name="GROUPE HAVET SA", paid_on=date(2024, 6, 10))
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("4328.55")), ("P1", "I2", Decimal("651.34")),
                            ("P1", "CN", Decimal("-649.28"))}
    assert [book.invoice_state(i)[1] for i in ("I1", "I2", "CN")] == [Decimal("0.00")] * 3
    assert book.exceptions() == []


def test_an_erp_receipt_of_an_invoice_less_its_credit_note_nets_the_credit_note(book: Book) -> None:
    """The payer deducted its credit note and wrote a purchase-order number; the accountant booked the cash on the
    customer's account with the invoice in the label: the receipt pays FA-0228 and uses AV-0312."""
    book.customer("C1", "CHAUFFAGE JANSSENS")
    book.invoice("I1", "3889.01", number="FA-0228", customer="C1")
    book.invoice("CN", "-1166.70", number="AV-0312", customer="C1", doc_type="credit_note")
    book.payment("P1", "2722.31", "V/CDE 4500428920", payer_name="CHAUFFAGE JANSSENS SARL", paid_on=date(2024, 6, 10))
    book.erp_receipt("R1", "2722.31", customer="C1", movement="BQ-1", booked=date(2024, 6, 11),
                     label="Rglt FA-0228 Chauffage Janssens")
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("3889.01")), ("P1", "CN", Decimal("-1166.70"))}
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    assert book.exceptions() == []


def test_a_payment_naming_nothing_short_of_one_of_many_open_invoices_is_only_suggested(book: Book) -> None:
    """"VIREMENT" of 2,336.51 from C1's account: 12.95 short of FA-7 (2,349.46), within the bank-charges tolerance.
    C1 owes eleven other invoices (more than tolerances.short_by_amount_max_open): among that many one falls so
    close by chance, so it is only suggested. C2, owing two invoices, gets its short payment applied."""
    other = "FR7610107001011234567890129"
    book.customer("C1", "Durand SARL", IBAN)
    book.customer("C2", "Martin SA", other)
    for k in range(11):
        book.invoice(f"I{k}", f"{5000 + 731 * k}.17", number=f"FA-{k}", customer="C1")
    book.invoice("I7", "2349.46", number="FA-7", customer="C1")
    book.invoice("J1", "990.00", number="FB-1", customer="C2")
    book.invoice("J2", "4200.00", number="FB-2", customer="C2")
    book.payment("P1", "2336.51", "VIREMENT", payer_iban=IBAN)
    book.payment("P2", "4188.00", "VIREMENT", payer_iban=other)
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P2", "J2", Decimal("4188.00"))}
    assert book.pairs(states=("suggested",)) == {("P1", "I7", Decimal("2336.51"))}


def test_the_rest_of_an_overpayment_is_not_spread_over_remainders_that_happen_to_sum_to_it(book: Book) -> None:
    """P9 names FA-9 (1,000.00) and pays 1,250.00. C1's other open items are two remainders part payments left
    (228.17 of FA-1, 21.83 of FA-2) that sum to the 250.00 by chance: the rest stays customer credit."""
    book.customer("C1", "Durand SARL", IBAN)
    book.invoice("I1", "1228.17", number="FA-1", customer="C1")
    book.invoice("I2", "521.83", number="FA-2", customer="C1")
    book.invoice("I9", "1000.00", number="FA-9", customer="C1")
    book.payment("P1", "1000.00", "FA-1 acompte", payer_iban=IBAN, paid_on=date(2024, 5, 20))
    book.payment("P2", "500.00", "FA-2 acompte", payer_iban=IBAN, paid_on=date(2024, 5, 20))
    book.payment("P9", "1250.00", "VIR SEPA REGLEMENT FA-9", payer_iban=IBAN)
    reconcile(book.engine, as_of=AS_OF)
    assert {(m[0], m[1]) for m in book.pairs() if m[0] == "P9"} == {("P9", "I9")}
    assert book.exception_kinds()["P9"] == "overpayment"


def test_a_combination_holding_the_rest_of_a_part_paid_invoice_is_only_suggested(book: Book) -> None:
    """C1 pays 1,250.00 naming nothing; the only combination of its open items is FA-3 (1,000.00, owed in full) and
    the 250.00 a part payment left of FA-1, not its oldest items (FA-4 is): suggested, not applied. (Its oldest
    items in order, a remainder first, are how customers pay a statement: those are applied.)"""
    book.customer("C1", "Durand SARL", IBAN)
    book.invoice("I1", "1250.00", number="FA-1", customer="C1")
    book.invoice("I3", "1000.00", number="FA-3", customer="C1")
    book.invoice("I4", "3100.00", number="FA-4", customer="C1", issue=date(2024, 4, 1), due=date(2024, 4, 30))
    book.payment("P1", "1000.00", "FA-1 acompte", payer_iban=IBAN, paid_on=date(2024, 5, 20))
    book.payment("P2", "1250.00", "VIREMENT", payer_iban=IBAN)
    reconcile(book.engine, as_of=AS_OF)
    assert {m for m in book.pairs() if m[0] == "P2"} == set()
    assert {(m[0], m[1]) for m in book.pairs(states=("suggested",))} == {("P2", "I1"), ("P2", "I3")}


def test_the_year_of_a_number_written_in_groups_is_no_tail_of_another_invoice(book: Book) -> None:
    """"REF FA 2025 004142": the groups joined name FA-2025-004142 and the payment is exactly what it owes. The year
    alone once read as the tail of the same customer's FA-2025-002025, which took 12,055.02 of the payment."""
    book.customer("C1", "Durand SARL", IBAN)
    book.invoice("I1", "16829.29", number="FA-2025-004142", customer="C1", issue=date(2024, 5, 20),
                 due=date(2024, 6, 19))
    book.invoice("I2", "12055.02", number="FA-2025-002025", customer="C1", issue=date(2024, 3, 1),
                 due=date(2024, 3, 31))
    book.payment("P1", "16829.29", "REF FA 2025 004142", payer_iban=IBAN, paid_on=date(2024, 6, 15))
    book.payment("P2", "12055.02", "Facture n° 2025", payer_iban=IBAN, paid_on=date(2024, 6, 16))
    reconcile(book.engine, as_of=AS_OF)
    assert book.pairs() == {("P1", "I1", Decimal("16829.29")), ("P2", "I2", Decimal("12055.02"))}
