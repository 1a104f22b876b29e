"""The normalized shapes every ``stg_<source>__<things>`` model produces.

A source adds one staging model per shape it can fill; the canonical
``dim_*``/``fct_*`` models union all staging models of a shape. The build
casts each staging model to its shape, and creates an empty, typed table
when the source's raw tables do not exist yet (the source is not configured),
so downstream SQL never depends on which sources ran.
"""

from __future__ import annotations

from warehouse.contract import BOOL, DATE, INT, MONEY, TEXT

Shape = tuple[tuple[str, str], ...]

SHAPES: dict[str, Shape] = {
    "customers": (
        ("entity", TEXT), ("customer_id", TEXT), ("name", TEXT), ("vat_id", TEXT), ("siren", TEXT),
        ("email", TEXT), ("iban", TEXT), ("country", TEXT), ("payment_terms_days", INT),
        ("credit_limit", MONEY), ("currency", TEXT), ("account_owner", TEXT),
        # the number people and integrations write when the ERP keys customers otherwise (NetSuite's entityid,
        # Sage Accounting's contact reference); NULL where the id is that number
        ("customer_number", TEXT),
        # the payment terms as the master writes them ("Prélèvement SEPA 30 jours", "LCR 45J FDM"), where it does
        ("payment_terms", TEXT),
        ("source_system", TEXT), ("source_id", TEXT),
    ),
    "invoices": (
        ("entity", TEXT), ("invoice_id", TEXT), ("invoice_number", TEXT), ("customer_id", TEXT),
        ("doc_type", TEXT), ("issue_date", DATE), ("due_date", DATE), ("currency", TEXT),
        ("amount_total", MONEY), ("erp_amount_open", MONEY), ("disputed", BOOL), ("erp_lettrage", TEXT),
        # the document's own text where the ERP gives one (a FEC credit note's label, "Avoir AV-10 sur facture
        # FA-151"): a credit note naming its invoice there is set against it (10_inputs, rc_named_cn)
        ("description", TEXT),
        # a credit the ERP booked against a debt it gave up (a FEC entry to 654 bad debts or 658, lettered with the
        # invoice): set against the invoice as a credit note is, but no sale taken back (mart_dso) and the invoice
        # it closes is written off, not credited (70_invoice)
        ("write_off", BOOL),
        ("source_system", TEXT), ("source_id", TEXT),
    ),
    "payments": (
        ("entity", TEXT), ("payment_id", TEXT), ("channel", TEXT), ("customer_id", TEXT),
        ("amount", MONEY), ("fee", MONEY), ("currency", TEXT), ("paid_on", DATE), ("status", TEXT),
        ("reference", TEXT), ("payer_name", TEXT), ("payer_iban", TEXT), ("payout_id", TEXT),
        ("failure_reason", TEXT), ("erp_lettrage", TEXT),
        # what the payer was charged or instructed in another currency than the money settled (a Stripe charge
        # its balance transaction converted); fct_payment chooses which of the two its amount is
        ("instructed_amount", MONEY), ("instructed_currency", TEXT),
        # who paid as the provider knows them (a GoCardless or Stripe customer's email), and the direct-debit
        # mandate the payment was collected under: a provider customer created without the ERP's customer id
        # in its metadata is still found (fct_payment, int_mandates)
        ("payer_email", TEXT), ("mandate_id", TEXT),
        ("source_system", TEXT), ("source_id", TEXT),
    ),
    # direct-debit mandates (GoCardless): customer_id is the ERP customer key the provider customer's metadata
    # writes (staging) or the customer it resolves to (int_mandates), customer_via how it was found
    "mandates": (
        ("entity", TEXT), ("mandate_id", TEXT), ("status", TEXT), ("scheme", TEXT), ("customer_id", TEXT),
        ("customer_via", TEXT), ("provider_customer_id", TEXT), ("payer_name", TEXT), ("payer_email", TEXT),
        ("source_system", TEXT), ("source_id", TEXT),
    ),
    "payouts": (
        ("entity", TEXT), ("payout_id", TEXT), ("amount", MONEY), ("fees", MONEY), ("currency", TEXT),
        ("arrival_date", DATE), ("status", TEXT), ("reference", TEXT),
        # what reaches the bank when the provider converts the payout (GoCardless fx: collected in SEK, paid out in
        # EUR); NULL when it is the amount in the payout's currency. int_payout_bank_links looks for this on the
        # statement; the payout's own amount and its components stay in the payout's currency
        ("bank_amount", MONEY), ("bank_currency", TEXT),
        ("source_system", TEXT), ("source_id", TEXT),
    ),
    # refunds as the provider knows them before any payout nets them (Stripe's refund objects): status is the
    # latest the provider sent (pending, requires_action, succeeded, failed, canceled); amount in currency
    "refunds": (
        ("entity", TEXT), ("refund_id", TEXT), ("payment_id", TEXT), ("amount", MONEY), ("currency", TEXT),
        ("status", TEXT), ("created_on", DATE), ("source_system", TEXT), ("source_id", TEXT),
    ),
    # what a provider applied from a customer's credit balance to one of its invoices (Stripe: an invoice's
    # ending_balance above its starting_balance, the credit notes credited to the balance being used), by the
    # provider's own invoice reference (its number, the ERP number in its metadata)
    "balance_applications": (
        ("entity", TEXT), ("invoice_ref", TEXT), ("number", TEXT), ("amount", MONEY), ("currency", TEXT),
        ("applied_on", DATE), ("source_system", TEXT), ("source_id", TEXT),
    ),
    # int_invoice_balance_applications: the same, on the ERP's invoice it is (15_credit_notes lays the customer's
    # open credit notes on them)
    "invoice_balance_applications": (
        ("entity", TEXT), ("invoice_id", TEXT), ("amount", MONEY), ("currency", TEXT), ("applied_on", DATE),
        ("source_system", TEXT), ("source_id", TEXT),
    ),
    # int_payment_refunds: what the provider's refunds still standing took back of each payment, in the
    # payment's currency (refunded_by_payment in warehouse/sql.py weighs it against the payouts' refund lines)
    "payment_refunds": (("entity", TEXT), ("payment_id", TEXT), ("refunded", MONEY)),
    # int_credit_note_refunds: a credit note paid back to the customer, and the money that did it (a bank debit's
    # bank_line_id, or the ERP's refund entry before the statements begin): 15_credit_notes closes the credit note
    "credit_note_refunds": (
        ("entity", TEXT), ("cn_id", TEXT), ("refund_id", TEXT), ("refunded_on", DATE), ("amount", MONEY),
        ("currency", TEXT), ("evidence", TEXT), ("detail", TEXT),
    ),
    # failed_payout_id: on a line paying out again the money of a payout that failed (Stripe's payout_failure
    # transaction, reporting category payout_reversal), that payout; fct_payment follows it to banked_payout_id
    "payout_components": (
        ("entity", TEXT), ("payout_id", TEXT), ("component_id", TEXT), ("kind", TEXT),
        ("payment_id", TEXT), ("amount", MONEY), ("fee", MONEY), ("currency", TEXT),
        ("provenance", TEXT), ("failed_payout_id", TEXT), ("source_system", TEXT), ("source_id", TEXT),
    ),
    # int_erp_settlements: invoices the ERP settled with its own receipts (one row per invoice, or per invoice and
    # receipt when the ERP says what each receipt applied: applied)
    "erp_settlements": (
        ("entity", TEXT), ("invoice_id", TEXT), ("payment_id", TEXT), ("settled_on", DATE), ("erp_lettrage", TEXT),
        ("received", MONEY), ("applied", MONEY),
    ),
    # what an ERP whose receipts list their invoices says each receipt applied to each invoice (NetSuite's
    # applications, Sage Accounting's allocations, SAP Business One's PaymentInvoices), in the invoice's currency
    "erp_applications": (
        ("entity", TEXT), ("invoice_id", TEXT), ("payment_id", TEXT), ("amount", MONEY), ("source_system", TEXT),
    ),
    # what an ERP that applies credit notes to invoices by amount says each credit note applied to each invoice
    # (NetSuite's credit memo applications, Sage Accounting's contact allocations of one credit note), in their
    # currency; int_erp_credit_applications keeps the pairs of one customer and currency (15_credit_notes)
    "erp_credit_applications": (
        ("entity", TEXT), ("cn_id", TEXT), ("invoice_id", TEXT), ("amount", MONEY), ("source_system", TEXT),
    ),
    # other numbers the ERP keeps for a document (int_invoice_aliases): payers quote them too
    "invoice_aliases": (("entity", TEXT), ("invoice_id", TEXT), ("alias", TEXT), ("source_system", TEXT)),
    # the bank side of the ERP's bank-journal entries: what the bank moved, as the ERP booked it (a card
    # settlement's entry books the bank net, its customer lines gross); one row per entry, with whether
    # it may be a customer's money (else counter_account says where the ERP booked it: a VAT refund)
    "erp_movements": (
        ("entity", TEXT), ("source_system", TEXT), ("source_id", TEXT), ("currency", TEXT), ("amount", MONEY),
        ("booked_on", DATE), ("customer_money", BOOL), ("counter_account", TEXT),
    ),
    # int_erp_receipts: the ERP's own receipts (FEC bank-journal lines on 411, SAP payment documents), each
    # with the bank movement it belongs to (its journal entry / document) and its lettrage code; a bill of
    # exchange the bank returned unpaid names the entry that sent it back (returned_on, returned_by)
    "erp_receipts": (
        ("entity", TEXT), ("payment_id", TEXT), ("movement_id", TEXT), ("customer_id", TEXT), ("currency", TEXT),
        ("amount", MONEY), ("paid_on", DATE), ("erp_lettrage", TEXT), ("reference", TEXT), ("movement_amount", MONEY),
        ("returned_on", DATE), ("returned_by", TEXT),
    ),
    # bills of exchange a customer accepted (an LCR: FEC 413/411) and cheques received (5112/411): money on its
    # way to the invoice their label names until the bank credits it (int_bills, read by actions/in_transit.py);
    # kind 'bill' or 'cheque'
    "bills": (
        ("entity", TEXT), ("bill_id", TEXT), ("customer_id", TEXT), ("amount", MONEY), ("currency", TEXT),
        ("accepted_on", DATE), ("reference", TEXT), ("source_system", TEXT), ("source_id", TEXT), ("kind", TEXT),
    ),
    "bank_lines": (
        ("entity", TEXT), ("bank_line_id", TEXT), ("account_iban", TEXT), ("booking_date", DATE),
        ("value_date", DATE), ("amount", MONEY), ("currency", TEXT), ("counterparty_name", TEXT),
        ("counterparty_iban", TEXT), ("remittance", TEXT), ("end_to_end_id", TEXT),
        ("bank_tx_code", TEXT), ("return_reason", TEXT), ("instructed_amount", MONEY), ("instructed_currency", TEXT),
        # the statement entry a line belongs to: its own id, or a batch entry's for each of its transactions
        ("entry_id", TEXT),
        ("source_system", TEXT), ("source_id", TEXT),
    ),
}
