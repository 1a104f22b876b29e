"""Money on its way, one definition for reminders and factoring, on DuckDB and Postgres."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from actions.factoring.schema import ensure_factoring_tables
from actions.factoring.selection import gather_candidates
from actions.in_transit import invoices_in_transit
from lettrage.config import WarehouseConfig
from warehouse.engine import Engine, connect
from warehouse.reconcile import record_decision
from warehouse.schema import ensure_table
from warehouse.shapes import SHAPES

from .conftest import AS_OF


def test_invoices_whose_money_is_coming_are_named_with_what_is_coming(book: WarehouseConfig) -> None:
    """PM7, a direct debit submitted for FA-71; B9, a transfer naming FA-21 not yet applied: both are being
    paid, so factoring leaves them out as reminders do, until someone rejects B9 for FA-21."""
    with connect(book) as engine:
        ensure_factoring_tables(engine)
        engine.execute(
            "INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status, "
            "reference, source_system, source_id) VALUES ('FR01', 'B9', 'bank_transfer', 'C2', 3000.00, 0, 'EUR', "
            "DATE '2026-11-24', 'succeeded', 'VIR FA-21', 'camt053', 'B9')")
        coming = invoices_in_transit(engine, "FR01", date(2026, 10, 1))
        in_transit = {c.invoice_number: c.in_transit for c in gather_candidates(engine, "FR01", AS_OF) if c.in_transit}
        record_decision(engine, entity="FR01", kind="reject_match", actor="rita", payment_id="B9", invoice_id="I21")
        after = invoices_in_transit(engine, "FR01", date(2026, 10, 1))
    assert coming == {"I71": "GoCardless payment PM7 submitted", "I21": "bank line B9 received 2026-11-24, not yet applied"}
    assert in_transit == {"FA-71": coming["I71"], "FA-21": coming["I21"]}
    assert after == {"I71": "GoCardless payment PM7 submitted"}


def test_a_credit_note_not_yet_applied_that_fits_an_invoice_is_money_on_its_way(book: WarehouseConfig) -> None:
    """C2 was issued AV-21 for exactly what FA-21 owes, and nothing applied it yet (no lettering, no payment
    netting it): asking for FA-21's money would be asking for it twice. A credit note of another amount names
    nothing, and one already used up neither."""
    with connect(book) as engine:
        for cn_id, number, customer, total, open_ in (("CN21", "AV-21", "C2", "-3000.00", "-3000.00"),
                                                      ("CN11", "AV-11", "C1", "-10.00", "-10.00"),
                                                      ("CN12", "AV-12", "C1", "-250.00", "0.00")):
            engine.execute(
                "INSERT INTO fct_invoice (entity, invoice_id, invoice_number, customer_id, doc_type, issue_date, "
                "due_date, currency, amount_total, amount_open, status, disputed, factored) VALUES ('FR01', :i, :n, "
                ":c, 'credit_note', DATE '2026-11-15', DATE '2026-11-15', 'EUR', CAST(:t AS DECIMAL(18,2)), "
                "CAST(:o AS DECIMAL(18,2)), 'open', false, false)", {"i": cn_id, "n": number, "c": customer, "t": total,
                                                                     "o": open_})
        coming = invoices_in_transit(engine, "FR01", date(2026, 10, 1))
    assert coming["I21"] == "credit note AV-21 of 2026-11-15 not yet applied"
    assert "I12" not in coming and "I11" not in coming


def _received(engine: Engine, bill_id: str, customer_id: str, amount: str, on: str, reference: str,
              kind: str | None) -> None:
    """A bill accepted or a cheque received (int_bills), as stg_sage_fec__bills writes it."""
    ensure_table(engine, "int_bills", SHAPES["bills"])
    engine.execute(
        "INSERT INTO int_bills (entity, bill_id, customer_id, amount, currency, accepted_on, reference, source_system, "
        "source_id, kind) VALUES ('FR01', :bill_id, :customer_id, CAST(:amount AS DECIMAL(18,2)), 'EUR', "
        "CAST(:on AS DATE), :reference, 'sage_fec', :bill_id, :kind)",
        {"bill_id": bill_id, "customer_id": customer_id, "amount": amount, "on": on, "reference": reference,
         "kind": kind})


def test_a_bill_of_exchange_accepted_is_money_on_its_way_until_collected(book: WarehouseConfig) -> None:
    """C4 accepted an LCR for FA-41 (FEC 413/411): not paid until the bank credits the bordereau, but not to be
    chased either. Once the ERP letters the collection, the bill's line is a receipt of that bank entry."""
    with connect(book) as engine:
        _received(engine, "FEC-EF-4-2", "C4", "700.00", "2026-10-31", "000003 LCR FA-41 CLIENT PROMESSE", None)
        accepted = invoices_in_transit(engine, "FR01", date(2026, 11, 1))
        engine.execute(
            "INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status, "
            "reference, source_system, source_id) VALUES ('FR01', 'FEC-EF-4-2', 'erp', 'C4', 700.00, 0, 'EUR', "
            "DATE '2026-11-30', 'succeeded', '000003 LCR FA-41', 'sage_fec', 'BQ-9')")
        collected = invoices_in_transit(engine, "FR01", date(2026, 11, 1))
    assert accepted["I41"] == "bill of exchange accepted 2026-10-31, not yet collected"
    assert "I41" not in collected


def test_a_cheque_received_is_money_on_its_way_until_deposited(book: WarehouseConfig) -> None:
    """C6's cheque for FA-61 is booked 5112/411 on arrival: not chased until the deposit is credited."""
    with connect(book) as engine:
        _received(engine, "FEC-RCH-7-2", "C6", "5.00", "2026-11-20", "CHQ 0012345 FA-61", "cheque")
        coming = invoices_in_transit(engine, "FR01", date(2026, 11, 1))
    assert coming["I61"] == "cheque received 2026-11-20, not yet deposited"


def test_a_customer_collected_by_sepa_direct_debit_through_the_bank_is_not_reminded(book: WarehouseConfig) -> None:
    """C2 pays by SEPA direct debit the entity collects through its own bank (no GoCardless): last month's
    collection is on the statement (PMNT/IDDT/ESDD). Reminding it would ask for what the next collection
    takes. C1's collection was returned since (a later failed one): it is reminded again."""
    from actions.dunning.select import direct_debit_payers

    with connect(book) as engine:
        for line, customer, on, status in (("B1", "C2", "2026-10-28", "succeeded"), ("B2", "C1", "2026-10-05", "succeeded"),
                                           ("B3", "C1", "2026-11-05", "failed")):
            engine.execute(
                "INSERT INTO fct_bank_line (entity, bank_line_id, account_iban, booking_date, value_date, amount, "
                "currency, counterparty_name, counterparty_iban, remittance, end_to_end_id, bank_tx_code) "
                "VALUES ('FR01', :b, 'FR7630004000031234567890143', CAST(:d AS DATE), CAST(:d AS DATE), 120.00, 'EUR', "
                "'CLIENT', NULL, 'PRLV SEPA', NULL, 'PMNT/IDDT/ESDD')", {"b": line, "d": on})
            engine.execute(
                "INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, "
                "status, reference, source_system, source_id) VALUES ('FR01', :b, 'bank_transfer', :c, 120.00, 0, "
                "'EUR', CAST(:d AS DATE), :s, 'PRLV SEPA', 'camt053', :b)", {"b": line, "c": customer, "d": on, "s": status})
        assert direct_debit_payers(engine, "FR01", AS_OF, 100) == {"C2": date(2026, 10, 28)}
        assert direct_debit_payers(engine, "FR01", AS_OF, 20) == {}  # too long ago to say


def test_a_suggested_payment_is_on_its_way_while_recent_and_not_once_past_the_look_back(
        book: WarehouseConfig) -> None:
    """B4, received 10 days ago from an unknown account, is suggested for FA-41 and waits for a person: the
    reminder waits too. B2, received 100 days ago (dunning.yaml: unapplied lines older than 60 days no longer
    count as on their way), is suggested for FA-21 and still unclaimed: FA-21 is chased."""
    from actions.dunning.select import invoice_facts
    from mappings.dunning import load_dunning_rules

    with connect(book) as engine:
        for pid, invoice_id, days in (("B4", "I41", 10), ("B2", "I21", 100)):
            engine.execute(
                "INSERT INTO fct_payment (entity, payment_id, channel, amount, fee, currency, paid_on, status, "
                "reference, payer_name, source_system, source_id) VALUES ('FR01', :p, 'bank_transfer', 10.00, 0, "
                "'EUR', CAST(:on AS DATE), 'succeeded', 'REGLEMENT', 'MRB TRESORERIE', 'camt053', :p)",
                {"p": pid, "on": AS_OF - timedelta(days=days)})
            engine.execute(
                "INSERT INTO fct_match (entity, match_id, payment_id, invoice_id, amount_applied, currency, rule, "
                "confidence, explanation, matched_at, state) VALUES ('FR01', :m, :p, :i, 10.00, 'EUR', 'amount_only', "
                "0.5, 'unknown payer', CURRENT_TIMESTAMP, 'suggested')", {"m": "m" + pid, "p": pid, "i": invoice_id})
        facts = {f.invoice_number: f.in_transit for f in invoice_facts(engine, "FR01", AS_OF, load_dunning_rules())}
    assert facts["FA-41"] == "payment B4 matched, awaiting confirmation"
    assert facts["FA-21"] is None


def _paid_out(engine: Engine, payout_id: str, status: str, payment_id: str, channel: str, customer_id: str) -> None:
    """FA-21's 3,000.00 collected on 18 November and swept by ``payout_id`` (arriving on 20 November, ``status``)."""
    engine.execute(
        "INSERT INTO fct_payout (entity, payout_id, amount, fees, currency, arrival_date, status) VALUES "
        "('FR01', :payout, 3000.00, 0, 'EUR', DATE '2026-11-20', :status)", {"payout": payout_id, "status": status})
    engine.execute(
        "INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status, "
        "reference, payout_id, source_system, source_id) VALUES ('FR01', :payment, :channel, :customer, 3000.00, 0, "
        "'EUR', DATE '2026-11-18', 'succeeded', 'FA-21', :payout, :channel, :payment)",
        {"payment": payment_id, "channel": channel, "customer": customer_id, "payout": payout_id})


def test_a_card_charge_swept_by_a_payout_that_failed_is_on_its_way_until_sent_again(book: WarehouseConfig) -> None:
    """ch_7 (FA-21's money) was in po_9, which failed: the money is back in the Stripe balance, not yet sent again
    (banked_payout_id null). It is on its way; once po_10 sends it again, it is banked and nothing is coming."""
    with connect(book) as engine:
        _paid_out(engine, "po_9", "failed", "ch_7", "stripe", "C9")
        swept = invoices_in_transit(engine, "FR01", date(2026, 10, 1))
        engine.execute("UPDATE fct_payment SET banked_payout_id = 'po_10' WHERE payment_id = 'ch_7'")
        sent_again = invoices_in_transit(engine, "FR01", date(2026, 10, 1))
    assert swept["I21"] == "Stripe charge ch_7, its payout po_9 never reached the bank"
    assert "I21" not in sent_again


def test_a_direct_debit_collected_in_a_payout_the_bank_rejected_is_on_its_way(book: WarehouseConfig) -> None:
    """PM8 (FA-21's money) was collected and paid out in PO3, which bounced (GoCardless: the bank rejected the
    payout): the money never reached the account, so it is still on its way, as before it was paid out."""
    with connect(book) as engine:
        _paid_out(engine, "PO3", "bounced", "PM8", "gocardless", "C2")
        bounced = invoices_in_transit(engine, "FR01", date(2026, 10, 1))
    assert bounced["I21"] == "GoCardless payment PM8 collected, its payout PO3 never reached the bank"


def test_a_dispute_recorded_since_the_last_reconcile_is_never_sold_to_the_factor(book: WarehouseConfig) -> None:
    """`lettrage reminders dispute` moments before the factoring run: fct_invoice shows it from the next
    reconcile, the factoring selection reads the decision itself, as reminders do."""
    from desk.actions import dispute

    with connect(book) as engine:
        ensure_factoring_tables(engine)
        before = {c.invoice_id: c.disputed for c in gather_candidates(engine, "FR01", AS_OF)}
        dispute(engine, "FR01", "I21", reason="goods damaged", department="sales", actor="sophie")
        after = {c.invoice_id: c.disputed for c in gather_candidates(engine, "FR01", AS_OF)}
    assert before["I21"] is False and after["I21"] is True


def test_a_dispute_closed_since_the_last_reconcile_is_for_sale_again(book: WarehouseConfig) -> None:
    """The other way round: FA-21's dispute, shown by the night's reconcile (fct_invoice disputed), is closed the
    next morning; the factoring selection takes the latest decision, as reminders do, not the night's row."""
    from desk.actions import dispute, resolve_dispute

    with connect(book) as engine:
        ensure_factoring_tables(engine)
        dispute(engine, "FR01", "I21", reason="goods damaged", department="sales", actor="sophie")
        engine.execute("UPDATE fct_invoice SET disputed = TRUE, status = 'disputed', _loaded_at = :at "
                       "WHERE invoice_id = 'I21'", {"at": datetime.now(UTC)})
        disputed = {c.invoice_id: c.disputed for c in gather_candidates(engine, "FR01", AS_OF)}
        resolve_dispute(engine, "FR01", "I21", resolution="credit note issued", actor="sophie")
        closed = {c.invoice_id: c.disputed for c in gather_candidates(engine, "FR01", AS_OF)}
    assert disputed["I21"] is True and closed["I21"] is False
