"""Staging and core SQL on a tiny raw book, on DuckDB and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import Engine, connect
from warehouse.reconcile import reconcile

from .raw_book import BANK, built_raw_book, load_raw_book

AS_OF = date(2025, 3, 1)


@contextmanager
def _built_after(config: WarehouseConfig, *edits: str, more_bank_lines: tuple[dict[str, Any], ...] = ()
                 ) -> Iterator[Engine]:
    """The tiny book loaded, its raw tables edited by ``edits`` (another export's way), then built."""
    with built_raw_book(config, as_of=AS_OF, edits=edits, more_bank_lines=more_bank_lines) as engine:
        yield engine


def test_staging_on_an_empty_warehouse_builds_empty_typed_tables(warehouse_config: WarehouseConfig) -> None:
    with connect(warehouse_config) as engine:
        report = build_staging(engine)
        build_core(engine, as_of=AS_OF, report=report)
        assert report.staging and all(n == 0 for n in report.staging.values())
        assert "stg_sage_fec__invoices" in report.missing_sources
        assert engine.query("SELECT count(*) FROM fct_payment") == [(0,)]


def test_on_postgres_every_table_a_step_rewrites_has_statistics_before_the_next_step_reads_it(
        warehouse_config: WarehouseConfig) -> None:
    """Autovacuum analyses a table a minute after it changed, a flow reads it at once: without statistics the
    planner took a freshly filled table for a few rows (nested loops: 7 minutes for one statement at 120,000
    invoices). The raw tables the models read, every model and the reconciliation's outputs are analysed."""
    if not warehouse_config.url.startswith("postgres"):
        pytest.skip("DuckDB keeps its statistics as it writes")
    with _built_after(warehouse_config) as engine:
        reconcile(engine, as_of=AS_OF)
        analysed = {r[0] for r in engine.query(
            "SELECT relname FROM pg_stat_user_tables WHERE schemaname = :s AND last_analyze IS NOT NULL",
            {"s": warehouse_config.dataset})}
    assert {"raw_stripe_payouts", "raw_camt053_entries", "stg_stripe__payments", "int_invoices", "fct_payment",
            "fct_invoice", "fct_match", "fct_reconciliation_exception", "reconcile_invoice_key"} <= analysed


def test_core_tables_from_a_tiny_book(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config)
    with connect(warehouse_config) as engine:
        report = build_staging(engine)
        build_core(engine, as_of=AS_OF, report=report)
        invoices = engine.query_dicts(
            "SELECT invoice_id, doc_type, customer_id, issue_date, due_date, amount_total, erp_lettrage "
            "FROM int_invoices ORDER BY invoice_id"
        )
        customer = engine.query_dicts("SELECT * FROM dim_customer WHERE customer_id = 'C001'")[0]
        payments = {p["payment_id"]: p for p in engine.query_dicts("SELECT * FROM fct_payment")}
        payout = engine.query_dicts("SELECT * FROM fct_payout")[0]
        components = engine.query_dicts("SELECT * FROM fct_payout_component")

    assert [(i["invoice_id"], i["doc_type"], i["amount_total"]) for i in invoices] == [
        ("AV-2025-000001", "credit_note", Decimal("-120.00")),
        ("FA-2025-000001", "invoice", Decimal("1200.00")),
    ]
    assert invoices[1]["due_date"] == date(2025, 2, 9)  # issue date + the customer's 30 days
    assert invoices[1]["erp_lettrage"] == "AA"
    assert customer["iban"] == "FR7630006000011234567890189" and customer["email"] == "compta@acme.example"

    # The bank transfer is a payment found by IBAN; the Stripe deposit is not a customer payment.
    assert payments["B1"]["channel"] == "bank_transfer" and payments["B1"]["customer_id"] == "C001"
    assert "B2" not in payments
    assert payments["ch_1"]["amount"] == Decimal("100.00") and payments["ch_1"]["fee"] == Decimal("2.70")
    assert payments["ch_1"]["payout_id"] == "po_1" and payments["ch_1"]["paid_on"] == date(2025, 2, 8)
    erp = [p for p in payments.values() if p["channel"] == "erp"]
    assert len(erp) == 1 and erp[0]["amount"] == Decimal("1080.00")

    assert payout["bank_line_id"] == "B2" and payout["amount"] == Decimal("97.30")
    assert sum(c["amount"] - c["fee"] for c in components) == payout["amount"]


def test_bank_line_remittance_holds_the_referred_documents(warehouse_config: WarehouseConfig) -> None:
    """The invoice numbers of a structured remittance (RfrdDocInf/Nb) join the unstructured text;
    the tiny book's raw table was loaded without that column, as by an older connector (test above)."""
    with _built_after(
            warehouse_config,
            "ALTER TABLE raw_camt053_entries ADD COLUMN referred_documents TEXT",
            "UPDATE raw_camt053_entries SET referred_documents = 'FA-2025-000001 FA-2025-000007' "
            "WHERE bank_line_id = 'B1'") as engine:
        line = engine.query("SELECT remittance FROM fct_bank_line WHERE bank_line_id = 'B1'")[0][0]
        reference = engine.query("SELECT reference FROM fct_payment WHERE payment_id = 'B1'")[0][0]
    assert line == "FACTURE FA2025000001 FA-2025-000001 FA-2025-000007"
    assert reference.startswith(line)


def test_a_bank_line_an_older_connector_loaded_without_booking_date_is_paid_on_its_value_date(
        warehouse_config: WarehouseConfig) -> None:
    """BookgDt is optional in camt.053.001.02; before the connector booked such an entry on its ValDt it
    loaded a NULL booking date, and the file is remembered so it is not read again: staging falls back."""
    with _built_after(warehouse_config,
                      "UPDATE raw_camt053_entries SET booking_date = NULL WHERE bank_line_id = 'B1'") as engine:
        line = engine.query("SELECT booking_date FROM fct_bank_line WHERE bank_line_id = 'B1'")[0][0]
        paid_on = engine.query("SELECT paid_on FROM fct_payment WHERE payment_id = 'B1'")[0][0]
    assert line == paid_on == date(2025, 2, 9)


def test_provider_metadata_keys_come_from_the_mapping(warehouse_config: WarehouseConfig) -> None:
    """A merchant whose Stripe charges say ``invoice`` and ``customer_number`` (mappings/providers.yaml)."""
    with _built_after(
            warehouse_config,
            "ALTER TABLE raw_stripe_charges ADD COLUMN metadata__invoice TEXT",
            "ALTER TABLE raw_stripe_charges ADD COLUMN metadata__customer_number TEXT",
            "UPDATE raw_stripe_charges SET metadata__invoice_number = NULL, metadata__erp_customer_id = '', "
            "metadata__invoice = 'FA-2025-000009', metadata__customer_number = 'C009'") as engine:
        reference, customer = engine.query("SELECT reference, customer_id FROM fct_payment WHERE payment_id = 'ch_1'")[0]
    assert reference == "FA-2025-000009 Invoice FA-2025-000002"
    assert customer == "C009"  # an empty erp_customer_id does not count


def test_fec_individual_customer_accounts_name_the_customer(warehouse_config: WarehouseConfig) -> None:
    """A FEC that keeps each customer in its own account (411ACME, no CompAuxNum), as many packages
    other than Sage export it: the account is the customer, its CompteLib the name."""
    with _built_after(
            warehouse_config,
            "UPDATE raw_sage_fec_lines SET compte_num = '411ACME', compte_lib = 'ACME SAS', "
            "comp_aux_num = NULL, comp_aux_lib = NULL WHERE comp_aux_num = 'C001'",
            "DELETE FROM raw_sage_fec_customers") as engine:
        invoices = engine.query("SELECT invoice_id, customer_id FROM int_invoices ORDER BY invoice_id")
        customers = engine.query("SELECT customer_id, name FROM dim_customer WHERE customer_id = '411ACME'")
        erp = engine.query("SELECT customer_id, payer_name FROM fct_payment WHERE channel = 'erp'")
    assert invoices == [("AV-2025-000001", "411ACME"), ("FA-2025-000001", "411ACME")]
    assert customers == [("411ACME", "ACME SAS")]
    assert erp == [("411ACME", "ACME SAS")]


def test_bank_line_without_remittance_information_reads_the_entry_s_additional_information(
        warehouse_config: WarehouseConfig) -> None:
    with _built_after(
            warehouse_config,
            "UPDATE raw_camt053_entries SET remittance_unstructured = NULL, "
            "additional_info = 'VIR SEPA RECU /DE ACME SAS /MOTIF FA-2025-000001' WHERE bank_line_id = 'B1'",
            "UPDATE raw_camt053_entries SET additional_info = 'VIREMENT RECU' WHERE bank_line_id <> 'B1'") as engine:
        lines = dict(engine.query("SELECT bank_line_id, remittance FROM fct_bank_line ORDER BY bank_line_id"))
    assert lines["B1"] == "VIR SEPA RECU /DE ACME SAS /MOTIF FA-2025-000001"
    assert lines["B2"] == "STRIPE po_1"  # its own remittance information wins over the entry's words


def test_a_returned_collection_fails_its_payment_and_reopens_the_invoice(warehouse_config: WarehouseConfig) -> None:
    """A SEPA collection booked as a credit, then sent back by the debtor's bank (AC04) with the bank's
    fee on top, under the same EndToEndId: the credit is a failed payment, the invoice it named stays
    open, and the return line raises no second exception."""
    collection = "UPDATE raw_camt053_entries SET end_to_end_id = 'E2E-FA1', bank_tx_code = 'PMNT/IDDT/ESDD' " \
                 "WHERE bank_line_id = 'B1'"
    returned = {**BANK[0], "bank_line_id": "B3", "booking_date": date(2025, 2, 14), "value_date": date(2025, 2, 14),
                "amount": Decimal("-1083.00"), "credit_debit": "DBIT", "bank_tx_code": "PMNT/IDDT/UPDD",
                "end_to_end_id": "E2E-FA1", "return_reason": "AC04", "remittance_unstructured": "RETOUR FA2025000001"}
    with _built_after(warehouse_config, collection, more_bank_lines=(returned,)) as engine:
        status, reason = engine.query("SELECT status, failure_reason FROM fct_payment WHERE payment_id = 'B1'")[0]
        reconcile(engine, as_of=AS_OF, entity="FR01")
        applied = engine.query("SELECT count(*) FROM fct_match WHERE payment_id = 'B1' AND state = 'auto'")[0][0]
        invoice = engine.query("SELECT status, amount_open, amount_total FROM fct_invoice "
                               "WHERE invoice_number = 'FA-2025-000001'")[0]
        failed = engine.query("SELECT payment_id, invoice_id, bank_line_id FROM fct_reconciliation_exception "
                              "WHERE kind = 'failed_debit' AND resolved_at IS NULL")
        detail = engine.query("SELECT detail FROM fct_reconciliation_exception WHERE kind = 'failed_debit'")[0][0]
    assert detail.startswith("direct debit failed (returned AC04")  # the credit's code: a collection (IDDT)
    assert (status, reason) == ("failed", "returned AC04 on 2025-02-14, bank line B3")
    assert applied == 0
    assert invoice[0] == "overdue" and invoice[1] == invoice[2]  # nothing of the returned money applied
    assert [(p, b) for p, _i, b in failed] == [("B1", None)]
    assert failed[0][1] is not None  # the invoice the collection named


def test_a_collection_re_presented_under_the_same_end_to_end_id_after_a_return_stays_paid(
        warehouse_config: WarehouseConfig) -> None:
    """The return pairs with the latest credit booked before it: the first presentation fails, the
    second (same EndToEndId, after the return) is a good payment."""
    first = "UPDATE raw_camt053_entries SET end_to_end_id = 'E2E-FA1' WHERE bank_line_id = 'B1'"
    returned = {**BANK[0], "bank_line_id": "B3", "booking_date": date(2025, 2, 14), "value_date": date(2025, 2, 14),
                "amount": Decimal("-1080.00"), "credit_debit": "DBIT", "end_to_end_id": "E2E-FA1",
                "return_reason": "MD06"}
    again = {**BANK[0], "bank_line_id": "B4", "booking_date": date(2025, 2, 20), "value_date": date(2025, 2, 20),
             "end_to_end_id": "E2E-FA1"}
    with _built_after(warehouse_config, first, more_bank_lines=(returned, again)) as engine:
        statuses = dict(engine.query("SELECT payment_id, status FROM fct_payment WHERE payment_id IN ('B1', 'B4')"))
    assert statuses == {"B1": "failed", "B4": "succeeded"}


def test_a_transfer_sent_back_without_end_to_end_id_fails_the_credit_it_returns(
        warehouse_config: WarehouseConfig) -> None:
    """A transfer we received and returned (PMNT/ICDT/RRTN, EndToEndId NOTPROVIDED): the credit of exactly
    its amount from the same account, a few days before, is the money returned; another credit of the
    same amount from another account is not."""
    returned = {**BANK[0], "bank_line_id": "B3", "booking_date": date(2025, 2, 14), "value_date": date(2025, 2, 14),
                "amount": Decimal("-1080.00"), "credit_debit": "DBIT", "bank_tx_code": "PMNT/ICDT/RRTN",
                "end_to_end_id": "NOTPROVIDED", "return_reason": "FOCR", "remittance_unstructured": "RETURN"}
    other = {**BANK[0], "bank_line_id": "B5", "booking_date": date(2025, 2, 10), "value_date": date(2025, 2, 10),
             "counterparty_iban": "DE89370400440532013000", "counterparty_name": "OTHER GMBH"}
    with _built_after(warehouse_config, more_bank_lines=(returned, other)) as engine:
        statuses = dict(engine.query("SELECT payment_id, status FROM fct_payment WHERE payment_id IN ('B1', 'B5')"))
        reason = engine.query("SELECT failure_reason FROM fct_payment WHERE payment_id = 'B1'")[0][0]
        reconcile(engine, as_of=AS_OF, entity="FR01")
        detail = engine.query("SELECT detail FROM fct_reconciliation_exception WHERE payment_id = 'B1'")[0][0]
    assert statuses == {"B1": "failed", "B5": "succeeded"}
    assert reason == "returned FOCR on 2025-02-14, bank line B3"
    assert detail.startswith("transfer returned by the bank (returned FOCR")  # a transfer, not a direct debit


def test_a_duplicate_payment_paid_back_by_transfer_is_refunded_not_customer_credit(
        warehouse_config: WarehouseConfig) -> None:
    """ACME paid FA-2025-000001 twice (B1, then B6 of the same amount from the same account); we sent the second
    back by an ordinary transfer naming a refund ("DEVOLUCION PAGO DUPLICADO", no return code). The later
    credit is refunded: it settles nothing, is no unapplied cash, and its exception is raised closed. A debit
    of the same amount to that account without a refund word (a supplier paid) marks nothing."""
    duplicate = {**BANK[0], "bank_line_id": "B6", "booking_date": date(2025, 2, 12), "value_date": date(2025, 2, 12)}
    paid_back = {**BANK[0], "bank_line_id": "B7", "booking_date": date(2025, 2, 20), "value_date": date(2025, 2, 20),
                 "amount": Decimal("-1080.00"), "credit_debit": "DBIT", "bank_tx_code": "PMNT/ICDT/ESCT",
                 "end_to_end_id": "DEV-FA1", "remittance_unstructured": "DEVOLUCION PAGO DUPLICADO FA-2025-000001"}
    with _built_after(warehouse_config, more_bank_lines=(duplicate, paid_back)) as engine:
        statuses = dict(engine.query("SELECT payment_id, status FROM fct_payment WHERE payment_id IN ('B1', 'B6')"))
        reason = engine.query("SELECT failure_reason FROM fct_payment WHERE payment_id = 'B6'")[0][0]
        reconcile(engine, as_of=AS_OF, entity="FR01")
        build_core(engine, as_of=AS_OF)
        exceptions = engine.query_dicts("SELECT kind, payment_id, amount, detail, resolved_at "
                                        "FROM fct_reconciliation_exception WHERE payment_id = 'B6'")
        b6_applied = engine.query("SELECT count(*) FROM fct_match WHERE payment_id = 'B6'")[0][0]
    assert statuses == {"B1": "succeeded", "B6": "refunded"}
    assert reason == "paid back on 2025-02-20, bank line B7"
    assert b6_applied == 0
    assert [(e["kind"], Decimal(e["amount"])) for e in exceptions] == [("refund", Decimal("1080.00"))]
    assert exceptions[0]["resolved_at"] is not None
    assert exceptions[0]["detail"].startswith("payment refunded (paid back on 2025-02-20, bank line B7)")
    supplier = {**paid_back, "remittance_unstructured": "FACTURA PROVEEDOR 2025-17"}
    with _built_after(warehouse_config, more_bank_lines=(duplicate, supplier)) as engine:
        statuses = dict(engine.query("SELECT payment_id, status FROM fct_payment WHERE payment_id IN ('B1', 'B6')"))
    assert statuses == {"B1": "succeeded", "B6": "succeeded"}


@pytest.mark.parametrize(("written", "customers", "expected"), [
    ("10010", "UPDATE raw_sage_fec_customers SET customer_account = '0000010010'", "0000010010"),
    (" c001", "SELECT 1", "C001"),
    ("jun001", "INSERT INTO raw_sage_accounting_contacts (id, entity, name, reference) "
               "VALUES ('7f3c9a', 'FR01', 'Juniper Events Ltd', 'JUN001')", "7f3c9a"),
    ("32", "INSERT INTO raw_sage_accounting_contacts (id, entity, name, reference) "
           "VALUES ('1006', 'FR01', 'Harbour Dental', 'CUST00032')", "1006"),
    ("C999", "SELECT 1", "C999"),
], ids=["sap-zero-padding", "case-and-spaces", "sage-contact-reference", "prefixed-number-digits", "unknown-kept"])
def test_a_provider_payment_finds_its_customer_as_the_erp_keys_it(
        warehouse_config: WarehouseConfig, written: str, customers: str, expected: str) -> None:
    """Stripe metadata carries the customer as people write it: SAP's number without its zeros, another case,
    Sage Accounting's contact reference (Sage keys contacts by a GUID), a prefixed number by its digits. fct_payment takes the ERP's key when one
    customer answers to it; a number nobody answers to is kept as written."""
    sage = ("CREATE TABLE raw_sage_accounting_contacts (id TEXT, entity TEXT, name TEXT, reference TEXT, email TEXT, "
            "tax_number TEXT, credit_limit DECIMAL(18,2), credit_days BIGINT, currency__id TEXT, "
            "main_address__country__id TEXT, bank_account_details__iban TEXT)")
    with _built_after(warehouse_config, sage, customers,
                      f"UPDATE raw_stripe_charges SET metadata__erp_customer_id = '{written}'") as engine:
        got = engine.query("SELECT customer_id FROM fct_payment WHERE channel = 'stripe'")
    assert got == [(expected,)]


def test_erp_settlements_need_a_receipt_and_a_balanced_lettrage_code(warehouse_config: WarehouseConfig) -> None:
    """The tiny book letters the invoice (1,200) with its receipt (1,080) but not the credit note (120):
    a partial lettering, no settlement. Lettered with the credit note too, code AA balances."""
    with _built_after(warehouse_config) as engine:
        partial = engine.query("SELECT count(*) FROM int_erp_settlements")[0][0]
    with _built_after(warehouse_config,
                      "UPDATE raw_sage_fec_lines SET ecriture_let = 'AA' "
                      "WHERE piece_ref = 'AV-2025-000001' AND compte_num LIKE '411%'") as engine:
        settled = engine.query("SELECT invoice_id, payment_id, settled_on, erp_lettrage FROM int_erp_settlements")
    assert partial == 0
    assert settled == [("FA-2025-000001", "FEC-BQ-3-2", date(2025, 2, 9), "AA")]


def test_loans_and_interest_on_the_statement_are_not_customer_payments(warehouse_config: WarehouseConfig) -> None:
    """mappings/bank_codes.yaml: a loan drawdown (LDAS domain), interest (INTR sub-family) and a tax office
    paying VAT back (its name and a tax word: tax_refunds) stay bank lines but are no payment to reconcile. A
    plain credit transfer otherwise is one, the treasury paying a public customer's invoice included."""
    line = {**BANK[0], "remittance_unstructured": "x", "counterparty_iban": None, "end_to_end_id": None}
    lines = (
        {**line, "bank_line_id": "L1", "amount": Decimal("50000.00"), "bank_tx_code": "LDAS/CSLN/DDWN",
         "counterparty_name": "BPIFRANCE", "remittance_unstructured": "DEBLOCAGE PRET 2024-118"},
        {**line, "bank_line_id": "L2", "amount": Decimal("12.40"), "bank_tx_code": "PMNT/MCOP/INTR",
         "counterparty_name": "BANQUE", "remittance_unstructured": "INTERETS CREDITEURS"},
        {**line, "bank_line_id": "L3", "amount": Decimal("4210.00"), "bank_tx_code": "PMNT/RCDT/ESCT",
         "counterparty_name": "DGFIP", "remittance_unstructured": "REMBOURSEMENT CREDIT TVA"},
        {**line, "bank_line_id": "L4", "amount": Decimal("3412.57"), "bank_tx_code": "PMNT/RCDT/ESCT",
         "counterparty_name": "AGENCIA ESTATAL DE ADMINISTRACION TRIBUTARIA",
         "remittance_unstructured": "DEVOLUCION IVA MODELO 303 3T 2026"},
        {**line, "bank_line_id": "L5", "amount": Decimal("1200.00"), "bank_tx_code": "PMNT/RCDT/ESCT",
         "counterparty_name": "DRFIP GRAND EST", "remittance_unstructured": "MANDAT 2025-118 FACTURE FA-2025-000001"},
        {**line, "bank_line_id": "L6", "amount": Decimal("80.00"), "bank_tx_code": "PMNT/RCDT/ESCT",
         "counterparty_name": "TAXIS DU RHONE", "remittance_unstructured": "REFUND TAXI FARE"},
    )
    with _built_after(warehouse_config, more_bank_lines=lines) as engine:
        banked = {r[0] for r in engine.query("SELECT bank_line_id FROM fct_bank_line")}
        paid = {r[0] for r in engine.query("SELECT payment_id FROM fct_payment WHERE channel = 'bank_transfer'")}
    assert {"L1", "L2", "L3", "L4", "L5", "L6"} <= banked
    assert {"L5", "L6"} <= paid and not {"L1", "L2", "L3", "L4"} & paid


def test_money_from_the_group_s_own_accounts_is_no_customer_payment(warehouse_config: WarehouseConfig) -> None:
    """A cash-pool sweep from DE01's account (mappings/entities.yaml bank_ibans) to FR01's is a bank line,
    not a customer's payment."""
    sweep = {**BANK[0], "bank_line_id": "G1", "amount": Decimal("250000.00"), "counterparty_name": "LETTRAGE DEMO GMBH",
             "counterparty_iban": "DE75701500002665916458", "remittance_unstructured": "CASH POOL SWEEP",
             "end_to_end_id": None}
    with _built_after(warehouse_config, more_bank_lines=(sweep,)) as engine:
        banked = {r[0] for r in engine.query("SELECT bank_line_id FROM fct_bank_line")}
        paid = {r[0] for r in engine.query("SELECT payment_id FROM fct_payment")}
    assert "G1" in banked and "G1" not in paid and "B1" in paid


def test_a_provider_payout_without_that_provider_s_data_is_kept_as_money_to_look_at(
        warehouse_config: WarehouseConfig) -> None:
    """With Stripe loaded, its payout line B2 is the payout's (paired, or not yet): no payment. For an
    entity without any Stripe data, the same line is a credit a person must place, not a silent drop."""
    with _built_after(warehouse_config) as engine:
        with_stripe = {r[0] for r in engine.query("SELECT payment_id FROM fct_payment")}
    with _built_after(warehouse_config, "DELETE FROM raw_stripe_payouts") as engine:
        without = {r[0] for r in engine.query("SELECT payment_id FROM fct_payment WHERE channel = 'bank_transfer'")}
    assert "B2" not in with_stripe and "B2" in without


def _second_payout(payout_id: str, amount_minor: int) -> tuple[str, ...]:
    """SQL edits adding a Stripe payout like po_1 (same arrival day), of another id and amount."""
    return ("CREATE TEMP TABLE po_copy AS SELECT * FROM raw_stripe_payouts",
            f"UPDATE po_copy SET id = '{payout_id}', amount = {amount_minor}, statement_descriptor = 'STRIPE {payout_id}', "
            f"balance_transaction = 'txn_{payout_id}', _dlt_id = 'dlt_{payout_id}'",
            "INSERT INTO raw_stripe_payouts SELECT * FROM po_copy",
            "DROP TABLE po_copy")


def test_payouts_the_bank_credited_as_one_entry_are_each_that_line_s(warehouse_config: WarehouseConfig) -> None:
    """Two Stripe payouts arriving the same day (97.30 and 50.00) credited as one line of 147.30 naming Stripe."""
    with _built_after(warehouse_config, *_second_payout("po_2", 5000),
                      "UPDATE raw_camt053_entries SET amount = 147.30, remittance_unstructured = 'STRIPE PAYOUTS' "
                      "WHERE bank_line_id = 'B2'") as engine:
        links = set(engine.query("SELECT payout_id, bank_line_id FROM int_payout_bank_links"))
        payouts = dict(engine.query("SELECT payout_id, bank_line_id FROM fct_payout"))
        payments = {r[0] for r in engine.query("SELECT payment_id FROM fct_payment")}
    assert links == {("po_1", "B2"), ("po_2", "B2")}
    assert payouts == {"po_1": "B2", "po_2": "B2"}
    assert "B2" not in payments


def test_a_payout_the_bank_split_in_two_lines_is_both_of_them(warehouse_config: WarehouseConfig) -> None:
    """po_1 (97.30) credited as 60.00 and 37.30, both lines naming it; a line of another amount that names
    no payout is left alone."""
    second = {**BANK[1], "bank_line_id": "B3", "amount": Decimal("37.30"), "remittance_unstructured": "STRIPE po_1 2/2"}
    with _built_after(warehouse_config, "UPDATE raw_camt053_entries SET amount = 60.00 WHERE bank_line_id = 'B2'",
                      more_bank_lines=(second,)) as engine:
        links = set(engine.query("SELECT payout_id, bank_line_id FROM int_payout_bank_links"))
        payout = engine.query_dicts("SELECT * FROM fct_payout")
        payments = {r[0] for r in engine.query("SELECT payment_id FROM fct_payment")}
        reconcile(engine, as_of=AS_OF)
        not_banked = engine.query("SELECT count(*) FROM fct_reconciliation_exception WHERE kind = 'payout_not_banked'")
    assert links == {("po_1", "B2"), ("po_1", "B3")}
    assert [(p["payout_id"], p["bank_line_id"]) for p in payout] == [("po_1", "B2")]
    assert not {"B2", "B3"} & payments
    assert not_banked == [(0,)]


def _payout_like_po_1(payout_id: str, amount_minor: int, arrival: date, status: str = "paid",
                      descriptor: str | None = None) -> tuple[str, ...]:
    """SQL edits adding a Stripe payout like po_1 of another id, amount, arrival date (midnight UTC, as Stripe
    sends it), status and statement descriptor (none by default: its reference is its id)."""
    arrival_unix = int(datetime(arrival.year, arrival.month, arrival.day, tzinfo=UTC).timestamp())
    described = f"'{descriptor}'" if descriptor else "NULL"
    return ("CREATE TEMP TABLE po_copy AS SELECT * FROM raw_stripe_payouts WHERE id = 'po_1'",
            f"UPDATE po_copy SET id = '{payout_id}', amount = {amount_minor}, arrival_date = {arrival_unix}, "
            f"status = '{status}', statement_descriptor = {described}, balance_transaction = 'txn_{payout_id}', "
            f"_dlt_id = 'dlt_{payout_id}'",
            "INSERT INTO raw_stripe_payouts SELECT * FROM po_copy",
            "DROP TABLE po_copy")


def _stripe_line(line_id: str, booked: date, remittance: str = "STRIPE PAYMENTS LETTRAGE") -> dict[str, Any]:
    """A credit of 1,227.06 from Stripe naming no payout (the bank kept only the provider's text)."""
    return {**BANK[1], "bank_line_id": line_id, "amount": Decimal("1227.06"), "booking_date": booked,
            "value_date": booked, "counterparty_name": "STRIPE PAYMENTS EUROPE LIMITED",
            "remittance_unstructured": remittance}


# Payouts of 1,227.06 each (id: arrival date, or (arrival date, status[, statement descriptor])) and lines of
# 1,227.06 from Stripe (id: booking date, or (booking date, remittance); by default naming no payout); the payout
# ids run against the dates, so that no tie falls right by luck.
_FEB = {d: date(2025, 2, d) for d in range(1, 29)}
_TWINS = {
    "twins, the second's line a day late": (
        {"po_z5": _FEB[17], "po_a6": _FEB[18]}, {"L1": _FEB[17], "L2": _FEB[19]},
        {"po_z5": "L1", "po_a6": "L2"}),
    "twins, both lines on time": (
        {"po_z5": _FEB[17], "po_a6": _FEB[18]}, {"L1": _FEB[17], "L2": _FEB[18]},
        {"po_z5": "L1", "po_a6": "L2"}),
    "twins on one day": (
        {"po_z5": _FEB[17], "po_a6": _FEB[17]}, {"L1": _FEB[17], "L2": _FEB[18]},
        {"po_a6": "L1", "po_z5": "L2"}),
    "three twins, the middle one's nearest line the last one's": (
        {"po_z1": _FEB[17], "po_m2": _FEB[18], "po_a3": _FEB[19]}, {"L1": _FEB[17], "L2": _FEB[19], "L3": _FEB[20]},
        {"po_z1": "L1", "po_m2": "L2", "po_a3": "L3"}),
    "three twins, each line a day late": (
        {"po_z1": _FEB[17], "po_m2": _FEB[18], "po_a3": _FEB[19]}, {"L1": _FEB[18], "L2": _FEB[19], "L3": _FEB[20]},
        {"po_z1": "L1", "po_m2": "L2", "po_a3": "L3"}),
    "twins carrying the account's statement descriptor, as their lines do": (
        {"po_z5": (_FEB[17], "paid", "LETTRAGE"), "po_a6": (_FEB[18], "paid", "LETTRAGE")},
        {"L1": _FEB[17], "L2": _FEB[19]},
        {"po_z5": "L1", "po_a6": "L2"}),
    "a line naming its payout stays that payout's, the twin takes the other": (
        {"po_z5": _FEB[17], "po_a6": _FEB[18]}, {"L1": (_FEB[17], "STRIPE PAYMENTS po_a6"), "L2": _FEB[18]},
        {"po_z5": "L2", "po_a6": "L1"}),
    "twins a month apart and twins in between": (
        {"po_z1": _FEB[3], "po_y2": _FEB[4], "po_m3": _FEB[17], "po_a4": _FEB[18]},
        {"L1": _FEB[4], "L2": _FEB[5], "L3": _FEB[17], "L4": _FEB[19]},
        {"po_z1": "L1", "po_y2": "L2", "po_m3": "L3", "po_a4": "L4"}),
}
_UNLINKED = {
    # the second twin's line came after the window (7 days): neither it nor that line is paired
    "a twin whose line came too late": (
        {"po_z5": _FEB[10], "po_a6": _FEB[11]}, {"L1": _FEB[10], "L2": _FEB[19]},
        {"po_z5": "L1", "po_a6": None}),
    # one line, two payouts it could be: the nearest has it, the other is not banked
    "two payouts and one line": (
        {"po_z5": _FEB[10], "po_a6": _FEB[17]}, {"L1": _FEB[17]},
        {"po_z5": None, "po_a6": "L1"}),
    # one payout, two lines it could be: it keeps the nearest, the other line is no payout's
    "one payout and two lines": (
        {"po_z5": _FEB[17]}, {"L1": _FEB[15], "L2": _FEB[18]},
        {"po_z5": "L2"}),
    # a failed payout of the amount (never on the statement) does not take the line a twin was left with
    "a failed twin": (
        {"po_z5": _FEB[17], "po_m6": (_FEB[16], "failed"), "po_a7": _FEB[18]}, {"L1": _FEB[17], "L2": _FEB[19]},
        {"po_z5": "L1", "po_m6": None, "po_a7": "L2"}),
    # a failed payout nearer to the line than the paid one does not take it from the payout that reached the bank
    "a failed payout nearest to the line": (
        {"po_z5": _FEB[17], "po_a6": (_FEB[18], "failed")}, {"L1": _FEB[18]},
        {"po_z5": "L1", "po_a6": None}),
}


@pytest.mark.parametrize("payouts, lines, expected", [pytest.param(*c, id=k) for k, c in {**_TWINS, **_UNLINKED}.items()])
def test_payouts_of_one_amount_are_paired_with_their_lines_in_date_order(
        warehouse_config: WarehouseConfig, payouts: dict[str, Any], lines: dict[str, Any],
        expected: dict[str, str | None]) -> None:
    """Stripe payouts of the same amount, each credited by a line naming only Stripe: each payout with its own
    line, one to one in date order, within the window (3 days before the arrival to 7 after); what is left
    unpaired stays so (payout_not_banked), each line at most one payout's."""
    payouts = {po: on if isinstance(on, tuple) else (on,) for po, on in payouts.items()}
    lines = {line: on if isinstance(on, tuple) else (on,) for line, on in lines.items()}
    edits = [e for po, on in payouts.items() for e in _payout_like_po_1(po, 122706, *on)]
    with _built_after(warehouse_config, *edits,
                      more_bank_lines=tuple(_stripe_line(i, *on) for i, on in lines.items())) as engine:
        links = sorted(engine.query("SELECT payout_id, bank_line_id FROM int_payout_bank_links WHERE payout_id <> 'po_1'"))
        banked = dict(engine.query("SELECT payout_id, bank_line_id FROM fct_payout WHERE payout_id <> 'po_1'"))
        payments = {r[0] for r in engine.query("SELECT payment_id FROM fct_payment")}
        reconcile(engine, as_of=AS_OF)
        not_banked = {r[0] for r in engine.query(
            "SELECT payout_id FROM fct_reconciliation_exception WHERE kind = 'payout_not_banked'")}
    assert banked == expected
    assert links == sorted((po, line) for po, line in expected.items() if line)
    assert not_banked == {po for po, line in expected.items() if line is None and payouts[po][1:2] in ((), ("paid",))}
    assert not set(expected.values()) & payments


def test_the_window_a_payout_s_deposit_is_looked_for_in_is_data(warehouse_config: WarehouseConfig,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The late twin's line came 8 days after its arrival: outside the shipped window (7 days after), inside one
    an entity's matching.yaml widens to 10 (windows.payout_bank_days_after)."""
    from mappings.matching import load_matching_rules

    shipped = load_matching_rules()
    wider = shipped.model_copy(update={"windows": shipped.windows.model_copy(update={"payout_bank_days_after": 10})})
    monkeypatch.setattr("warehouse.build.load_matching_rules", lambda: wider)
    payouts, lines, _ = _UNLINKED["a twin whose line came too late"]
    edits = [e for po, on in payouts.items() for e in _payout_like_po_1(po, 122706, on)]
    with _built_after(warehouse_config, *edits,
                      more_bank_lines=tuple(_stripe_line(i, on) for i, on in lines.items())) as engine:
        banked = dict(engine.query("SELECT payout_id, bank_line_id FROM fct_payout WHERE payout_id <> 'po_1'"))
    assert banked == {"po_z5": "L1", "po_a6": "L2"}


_EVENTS = ("CREATE TABLE raw_stripe_events (id TEXT, entity TEXT, type TEXT, created BIGINT, data__object__id TEXT, "
           "data__object__object TEXT, data__object__status TEXT, data__object__refunded BOOLEAN, "
           "data__object__failure_code TEXT)")


def test_a_sepa_debit_stripe_later_failed_is_a_failed_debit(warehouse_config: WarehouseConfig) -> None:
    """ch_1 was listed pending (a SEPA debit takes days); its charge.failed event came later. Charges are
    walked by created date and not re-read: the event says what it became, and a bank debit that failed
    (unlike a declined card) is a failed_debit to chase."""
    with _built_after(
            warehouse_config,
            "ALTER TABLE raw_stripe_charges ADD COLUMN payment_method_details__type TEXT",
            "UPDATE raw_stripe_charges SET status = 'pending', payment_method_details__type = 'sepa_debit'",
            _EVENTS,
            "INSERT INTO raw_stripe_events VALUES ('evt_1', 'FR01', 'charge.pending', 1739001600, 'ch_1', 'charge', "
            "'pending', false, NULL), ('evt_2', 'FR01', 'charge.failed', 1739260800, 'ch_1', 'charge', 'failed', "
            "false, 'insufficient_funds')") as engine:
        payment = engine.query_dicts("SELECT status, failure_reason FROM fct_payment WHERE payment_id = 'ch_1'")[0]
        reconcile(engine, as_of=AS_OF)
        raised = engine.query("SELECT kind FROM fct_reconciliation_exception WHERE payment_id = 'ch_1'")
    assert payment == {"status": "failed", "failure_reason": "sepa_debit: insufficient_funds"}
    assert raised == [("failed_debit",)]


def test_a_dispute_won_after_it_was_listed_is_no_chargeback(warehouse_config: WarehouseConfig) -> None:
    """dp_1 was listed under review; charge.dispute.closed (won) came later: ch_1 stands."""
    disputes = ("DROP TABLE IF EXISTS raw_stripe_disputes", "CREATE TABLE raw_stripe_disputes (id TEXT, entity TEXT, amount BIGINT, currency TEXT, charge TEXT, "
                "created BIGINT, status TEXT, reason TEXT)",
                "INSERT INTO raw_stripe_disputes VALUES ('dp_1', 'FR01', 10000, 'eur', 'ch_1', 1739100000, "
                "'under_review', 'fraudulent')")
    with _built_after(warehouse_config, *disputes) as engine:
        before = engine.query("SELECT status FROM fct_payment WHERE payment_id = 'ch_1'")
    with _built_after(warehouse_config, *disputes, _EVENTS,
                      "INSERT INTO raw_stripe_events VALUES ('evt_3', 'FR01', 'charge.dispute.closed', 1739900000, "
                      "'dp_1', 'dispute', 'won', NULL, NULL)") as engine:
        after = engine.query("SELECT status FROM fct_payment WHERE payment_id = 'ch_1'")
    assert before == [("charged_back",)] and after == [("succeeded",)]


def test_a_gocardless_late_failure_keeps_its_reason(warehouse_config: WarehouseConfig) -> None:
    """PM1 was paid out, then failed late (the payer's account closed): the event giving the reason code is the
    failure's, whatever its action is named; PM2's failure event gives only a cause."""
    with _built_after(
            warehouse_config,
            "DROP TABLE IF EXISTS raw_gocardless_payments", "DROP TABLE IF EXISTS raw_gocardless_events",
            "CREATE TABLE raw_gocardless_payments (id TEXT, entity TEXT, amount BIGINT, currency TEXT, "
            "charge_date DATE, status TEXT, reference TEXT, description TEXT, links__payout TEXT, links__mandate TEXT)",
            "INSERT INTO raw_gocardless_payments VALUES "
            "('PM1', 'FR01', 12000, 'EUR', DATE '2025-02-03', 'failed', 'FA-2025-000001', NULL, 'PO1', 'MD1'), "
            "('PM2', 'FR01', 5000, 'EUR', DATE '2025-02-04', 'failed', 'FA-2025-000001', NULL, NULL, 'MD1')",
            "CREATE TABLE raw_gocardless_events (id TEXT, entity TEXT, created_at TIMESTAMP, action TEXT, "
            "resource_type TEXT, links__payment TEXT, details__cause TEXT, details__reason_code TEXT)",
            "INSERT INTO raw_gocardless_events VALUES "
            "('EV1', 'FR01', TIMESTAMP '2025-02-03 09:00:00', 'paid_out', 'payments', 'PM1', 'payment_paid_out', NULL), "
            "('EV2', 'FR01', TIMESTAMP '2025-02-10 09:00:00', 'late_failure', 'payments', 'PM1', "
            "'bank_account_closed', 'AC04'), "
            "('EV3', 'FR01', TIMESTAMP '2025-02-11 09:00:00', 'late_failure_settled', 'payments', 'PM1', "
            "'late_failure_settled', NULL), "
            "('EV4', 'FR01', TIMESTAMP '2025-02-06 09:00:00', 'failed', 'payments', 'PM2', 'insufficient_funds', NULL)",
    ) as engine:
        reasons = dict(engine.query("SELECT payment_id, failure_reason FROM fct_payment WHERE channel = 'gocardless'"))
    assert reasons == {"PM1": "AC04", "PM2": "insufficient_funds"}


def test_netsuite_individuals_are_named_and_only_posted_documents_are_owed(warehouse_config: WarehouseConfig) -> None:
    """An individual customer has no company name; an invoice pending approval (posting F) and a voided one are
    no receivable, a voided payment received nothing."""
    with connect(warehouse_config) as engine:
        engine.execute("CREATE TABLE raw_netsuite_customers (id TEXT, entity TEXT, entityid TEXT, companyname TEXT, "
                       "firstname TEXT, lastname TEXT, isperson TEXT, email TEXT, creditlimit DECIMAL(18,2), "
                       "terms_days BIGINT, currency_code TEXT)")
        engine.execute("INSERT INTO raw_netsuite_customers VALUES "
                       "('1', 'US01', 'CUST-1', 'Acme Inc', NULL, NULL, 'F', NULL, NULL, 30, 'USD'), "
                       "('2', 'US01', 'CUST-2', NULL, 'Dana', 'Whitaker', 'T', NULL, NULL, 30, 'USD')")
        engine.execute("CREATE TABLE raw_netsuite_transactions (id TEXT, entity TEXT, tranid TEXT, type TEXT, "
                       "trandate DATE, duedate DATE, customer_id TEXT, currency_code TEXT, foreigntotal DECIMAL(18,2), "
                       "foreignamountremaining DECIMAL(18,2), status TEXT, memo TEXT, posting TEXT, voided TEXT)")
        engine.execute("INSERT INTO raw_netsuite_transactions VALUES "
                       "('10', 'US01', 'INV10', 'CustInvc', DATE '2026-10-01', DATE '2026-10-31', '1', 'USD', 100, 100, "
                       "'A', NULL, 'T', 'F'), "
                       "('11', 'US01', 'INV11', 'CustInvc', DATE '2026-10-02', DATE '2026-11-01', '1', 'USD', 5125, 5125, "
                       "'D', NULL, 'F', 'F'), "
                       "('12', 'US01', 'INV12', 'CustInvc', DATE '2026-10-03', DATE '2026-11-02', '2', 'USD', 0, 0, "
                       "'V', NULL, 'T', 'T'), "
                       "('20', 'US01', 'PYMT20', 'CustPymt', DATE '2026-10-05', NULL, '2', 'USD', 0, 0, "
                       "'C', NULL, 'T', 'T')")
        build_staging(engine)
        names = dict(engine.query("SELECT customer_id, name FROM stg_netsuite__customers"))
        invoices = [r[0] for r in engine.query("SELECT invoice_number FROM stg_netsuite__invoices")]
        payments = engine.query("SELECT payment_id FROM stg_netsuite__payments")
    assert names == {"1": "Acme Inc", "2": "Dana Whitaker"}
    assert invoices == ["INV10"] and payments == []


@pytest.mark.parametrize("column", ["contact_types", "contact_types_json"])
def test_sage_accounting_suppliers_are_not_customers(warehouse_config: WarehouseConfig, column: str) -> None:
    """Sage keeps customers and suppliers as contacts: only those of type CUSTOMER are the customer master. The
    connector keeps Sage's list of types as JSON text in contact_types_json (its declared contact_types column
    stays empty); an older load held it in contact_types."""
    contacts = (("c1", "Juniper Ltd", '[{"id":"CUSTOMER","displayed_as":"Customer"}]'),
                ("v1", "Office Landlord Ltd", '[{"id":"VENDOR","displayed_as":"Supplier"}]'),
                ("b1", "Both Ways Ltd", '[{"id":"VENDOR"},{"id":"CUSTOMER"}]'))
    with connect(warehouse_config) as engine:
        engine.execute("CREATE TABLE raw_sage_accounting_contacts (id TEXT, entity TEXT, name TEXT, reference TEXT, "
                       "email TEXT, tax_number TEXT, credit_limit DECIMAL(18,2), credit_days BIGINT, "
                       "currency__id TEXT, main_address__country__id TEXT, bank_account_details__iban TEXT, "
                       "contact_types TEXT, contact_types_json TEXT)")
        for cid, name, types in contacts:
            engine.execute(f"INSERT INTO raw_sage_accounting_contacts (id, entity, name, credit_days, currency__id, "
                           f"{column}) VALUES (:id, 'UK01', :name, 30, 'GBP', :types)",
                           {"id": cid, "name": name, "types": types})
        build_staging(engine)
        names = sorted(r[0] for r in engine.query("SELECT name FROM stg_sage_accounting__customers"))
    assert names == ["Both Ways Ltd", "Juniper Ltd"]


def test_sage_accounting_contact_allocations_net_credit_notes_and_place_payments_on_account(
        warehouse_config: WarehouseConfig) -> None:
    """Sage sets a credit note against an invoice, and a payment on account against another, through
    /contact_allocations (not a receipt's allocated_artefacts): the credit note shares its invoice's code, and
    the receipt that made the payment on account applies its part to the invoice. A credit note naming its
    original invoice but left wholly outstanding in Sage (raised after the invoice was paid) shares nothing."""
    tables = (
        "CREATE TABLE raw_sage_accounting_sales_invoices (id TEXT, entity TEXT, invoice_number TEXT, contact__id TEXT, "
        "date DATE, due_date DATE, total_amount DECIMAL(18,2), outstanding_amount DECIMAL(18,2), currency__id TEXT, "
        "status__id TEXT)",
        "INSERT INTO raw_sage_accounting_sales_invoices VALUES "
        "('i1', 'UK01', 'SI-1024', 'c1', DATE '2026-10-01', DATE '2026-10-31', 1200.00, 0.00, 'GBP', 'PAID'), "
        "('i2', 'UK01', 'SI-1080', 'c2', DATE '2026-11-01', DATE '2026-12-01', 7122.02, 6622.02, 'GBP', 'PART_PAID')",
        "CREATE TABLE raw_sage_accounting_sales_credit_notes (id TEXT, entity TEXT, credit_note_number TEXT, "
        "contact__id TEXT, date DATE, original_invoice_number TEXT, total_amount DECIMAL(18,2), "
        "outstanding_amount DECIMAL(18,2), currency__id TEXT, status__id TEXT)",
        "INSERT INTO raw_sage_accounting_sales_credit_notes VALUES "
        "('n1', 'UK01', 'SCN-11', 'c1', DATE '2026-10-05', NULL, 300.00, 0.00, 'GBP', 'PAID'), "
        # raised against SI-1024 once it was paid: Sage left it wholly outstanding, the customer's credit
        "('n2', 'UK01', 'SCN-12', 'c1', DATE '2026-10-20', 'SI-1024', 95.40, 95.40, 'GBP', 'UNPAID')",
        "CREATE TABLE raw_sage_accounting_contact_payments (id TEXT, entity TEXT, contact__id TEXT, date DATE, "
        "total_amount DECIMAL(18,2), currency__id TEXT, reference TEXT, transaction_type__id TEXT, "
        "payment_on_account__id TEXT)",
        "INSERT INTO raw_sage_accounting_contact_payments VALUES "
        "('p1', 'UK01', 'c2', DATE '2026-11-12', 500.00, 'GBP', 'JUNIPER', 'CUSTOMER_RECEIPT', 'poa1')",
        "CREATE TABLE raw_sage_accounting_payment_allocations (payment_id TEXT, artefact_id TEXT, entity TEXT, "
        "amount DECIMAL(18,2))",
        "CREATE TABLE raw_sage_accounting_contact_allocations (id TEXT, entity TEXT, date DATE, contact__id TEXT, "
        "transaction_type__id TEXT)",
        "INSERT INTO raw_sage_accounting_contact_allocations VALUES "
        "('a1', 'UK01', DATE '2026-10-05', 'c1', 'CUSTOMER_ALLOCATION'), "
        "('a2', 'UK01', DATE '2026-11-26', 'c2', 'CUSTOMER_ALLOCATION')",
        "CREATE TABLE raw_sage_accounting_contact_allocation_lines (allocation_id TEXT, artefact_id TEXT, entity TEXT, "
        "artefact_kind TEXT, amount DECIMAL(18,2))",
        "INSERT INTO raw_sage_accounting_contact_allocation_lines VALUES "
        "('a1', 'i1', 'UK01', 'sales_invoices', 300.00), ('a1', 'n1', 'UK01', 'sales_credit_notes', -300.00), "
        "('a2', 'i2', 'UK01', 'sales_invoices', 500.00), ('a2', 'poa1', 'UK01', 'payments_on_account', -500.00)",
    )
    with connect(warehouse_config) as engine:
        for statement in tables:
            engine.execute(statement)
        build_staging(engine)
        codes = dict(engine.query("SELECT invoice_id, erp_lettrage FROM stg_sage_accounting__invoices"))
        applied = engine.query("SELECT invoice_id, payment_id, amount FROM stg_sage_accounting__applications")
        listed = engine.query("SELECT erp_lettrage FROM stg_sage_accounting__payments WHERE source_id = 'p1'")
    assert codes["n1"] == codes["i1"] == "n1"  # the credit note and its invoice share one code
    assert codes["n2"] is None  # not set against its original invoice in Sage: not lettered with it
    assert applied == [("i2", "SAGEACC-p1", Decimal("500.00"))] and codes["i2"] == "p1" and listed == [("i2",)]
