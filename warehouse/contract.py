"""The warehouse contract of ``shared/CONTRACT.md`` as data.

One declaration drives the DDL on every engine and the test that introspects
both engines; the contract can only drift from this file with a failing test.
Logical types map to engine types in :mod:`warehouse.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT, MONEY, DATE, TS, BOOL, INT, RATIO, DAYS = (
    "text", "money", "date", "timestamptz", "bool", "bigint", "ratio", "days"
)

# Columns every contract table carries.
LINEAGE: tuple[tuple[str, str], ...] = (("source_system", TEXT), ("source_id", TEXT), ("_loaded_at", TS))


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    doc: str

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]


def _t(name: str, key: tuple[str, ...], doc: str, *cols: tuple[str, str], lineage: bool = True) -> Table:
    columns = tuple(cols) + (LINEAGE if lineage else (("_loaded_at", TS),))
    return Table(name, key, columns, doc)


CANONICAL: tuple[Table, ...] = (
    _t("dim_customer", ("entity", "customer_id"), "one customer of one entity",
       ("entity", TEXT), ("customer_id", TEXT), ("name", TEXT), ("vat_id", TEXT), ("siren", TEXT),
       ("email", TEXT), ("iban", TEXT), ("country", TEXT), ("payment_terms_days", INT),
       ("credit_limit", MONEY), ("currency", TEXT), ("account_owner", TEXT), ("segment", TEXT),
       ("score", RATIO),
       # extension: the number people and integrations write when the ERP keys customers otherwise (NetSuite's
       # entityid, Sage Accounting's contact reference); provider payments naming it find the customer
       ("customer_number", TEXT),
       # extension: the payment terms as the customer master writes them ("Prélèvement SEPA 30 jours"): reminders
       # read a direct-debit payer there (mappings/dunning.yaml direct_debit_terms)
       ("payment_terms", TEXT)),
    _t("fct_invoice", ("entity", "invoice_id"), "one invoice or credit note",
       ("entity", TEXT), ("invoice_id", TEXT), ("invoice_number", TEXT), ("customer_id", TEXT),
       ("doc_type", TEXT), ("issue_date", DATE), ("due_date", DATE), ("currency", TEXT),
       ("amount_total", MONEY), ("amount_open", MONEY), ("status", TEXT), ("disputed", BOOL),
       ("factored", BOOL), ("erp_lettrage", TEXT),
       # extension: a credit document the ERP booked to write a debt off (int_invoices.write_off): DSO leaves it out
       # of credit sales; the invoice it closes is `written_off`
       ("write_off", BOOL)),
    _t("fct_payment", ("entity", "payment_id"), "one incoming money movement from a customer",
       ("entity", TEXT), ("payment_id", TEXT), ("channel", TEXT), ("customer_id", TEXT),
       ("amount", MONEY), ("fee", MONEY), ("currency", TEXT), ("paid_on", DATE), ("status", TEXT),
       ("reference", TEXT), ("payer_name", TEXT), ("payer_iban", TEXT), ("payout_id", TEXT),
       ("failure_reason", TEXT),
       # extension: what the payer was charged or instructed in another currency than the money settled (a
       # Stripe charge its balance transaction converted, camt AmtDtls/InstdAmt); amount is one of the two
       ("instructed_amount", MONEY), ("instructed_currency", TEXT),
       # extension: the direct-debit mandate a provider collected it under (GoCardless; Stripe SEPA debits):
       # int_mandates finds a mandate's customer through its payments, reminders collect through it
       ("mandate_id", TEXT),
       # extension: the payout whose bank credit carried the money: payout_id, or when that payout failed, the
       # later payout that paid its money out again (its payout_failure line); null while it is back in the
       # provider's balance
       ("banked_payout_id", TEXT)),
    _t("fct_payout", ("entity", "payout_id"), "one provider payout to the bank",
       ("entity", TEXT), ("payout_id", TEXT), ("amount", MONEY), ("fees", MONEY), ("currency", TEXT),
       ("arrival_date", DATE), ("status", TEXT), ("reference", TEXT), ("bank_line_id", TEXT)),
    _t("fct_payout_component", ("entity", "payout_id", "component_id"),
       "one line of a payout's composition (payment, refund, fee, chargeback)",
       ("entity", TEXT), ("payout_id", TEXT), ("component_id", TEXT), ("kind", TEXT),
       ("payment_id", TEXT), ("amount", MONEY), ("fee", MONEY), ("currency", TEXT),
       # extension: where the line was learnt (payout_items, events, payments, balance_transactions)
       ("provenance", TEXT),
       # extension: on a line that pays out again the money of a payout that failed (Stripe's payout_failure
       # transaction, reporting category payout_reversal), that failed payout
       ("failed_payout_id", TEXT)),
    _t("fct_bank_line", ("entity", "bank_line_id"), "one booked bank statement entry or batch transaction",
       ("entity", TEXT), ("bank_line_id", TEXT), ("account_iban", TEXT), ("booking_date", DATE),
       ("value_date", DATE), ("amount", MONEY), ("currency", TEXT), ("counterparty_name", TEXT),
       ("counterparty_iban", TEXT), ("remittance", TEXT), ("end_to_end_id", TEXT),
       ("bank_tx_code", TEXT), ("return_reason", TEXT),
       # extension: what the payer instructed when it paid in another currency than the account's
       # (camt AmtDtls/InstdAmt); fct_payment takes it when the entity invoices in that currency
       ("instructed_amount", MONEY), ("instructed_currency", TEXT),
       # extension: the statement entry the line was booked in (a batch entry's id for each of its transactions)
       ("entry_id", TEXT)),
    _t("fct_match", ("entity", "match_id"), "one application of a payment (or bank line) to an invoice",
       ("entity", TEXT), ("match_id", TEXT), ("payment_id", TEXT), ("invoice_id", TEXT),
       ("amount_applied", MONEY), ("currency", TEXT), ("rule", TEXT), ("confidence", RATIO),
       ("explanation", TEXT), ("matched_at", TS), ("state", TEXT),
       # written by reconciliation: the remainder a short payment closed, and why (rounding, discount, charges)
       ("adjustment", MONEY), ("adjustment_reason", TEXT)),
    _t("fct_reconciliation_exception", ("entity", "exception_id"), "one item that needs a person",
       ("entity", TEXT), ("exception_id", TEXT), ("kind", TEXT), ("payment_id", TEXT),
       ("invoice_id", TEXT), ("payout_id", TEXT), ("bank_line_id", TEXT), ("amount", MONEY),
       ("currency", TEXT), ("detail", TEXT), ("opened_at", TS), ("resolved_at", TS),
       # extension: the customer the reconciliation found the payer to be (its name, alias or remittance) when the
       # payment names none; mart_unapplied_cash files the payment's unapplied money under it
       ("customer_id", TEXT)),
    _t("fct_dunning_action", ("entity", "invoice_id", "step"), "one reminder step taken or planned",
       ("entity", TEXT), ("invoice_id", TEXT), ("step", TEXT), ("customer_id", TEXT), ("channel", TEXT),
       ("planned_on", DATE), ("sent_at", TS), ("outcome", TEXT)),
    _t("fct_factoring_assignment", ("entity", "invoice_id", "batch_id"), "one invoice handed to a factor",
       ("entity", TEXT), ("invoice_id", TEXT), ("batch_id", TEXT), ("factor", TEXT),
       ("assigned_on", DATE), ("amount", MONEY), ("currency", TEXT), ("advance_rate", RATIO),
       ("advance_amount", MONEY), ("status", TEXT)),
)

MARTS: tuple[Table, ...] = (
    _t("mart_open_receivables", ("entity", "customer_id", "status", "currency"),
       "open amount by entity, customer and status",
       ("as_of", DATE), ("entity", TEXT), ("customer_id", TEXT), ("customer_name", TEXT),
       ("status", TEXT), ("currency", TEXT), ("amount_open", MONEY), ("invoice_count", INT),
       ("entity_currency", TEXT), ("amount_open_entity", MONEY),
       lineage=False),
    _t("mart_aged_balance", ("entity", "customer_id", "bucket", "currency"),
       "open amount per entity, customer and bucket of days past due",
       ("as_of", DATE), ("entity", TEXT), ("customer_id", TEXT), ("customer_name", TEXT),
       ("bucket", TEXT), ("currency", TEXT), ("amount_open", MONEY), ("invoice_count", INT),
       ("entity_currency", TEXT), ("amount_open_entity", MONEY),
       lineage=False),
    _t("mart_dso", ("entity", "month_end", "currency"), "days sales outstanding per entity and month end",
       ("entity", TEXT), ("month_end", DATE), ("currency", TEXT), ("receivables", MONEY),
       ("credit_sales_month", MONEY), ("credit_sales_90d", MONEY), ("dso_countback", DAYS),
       ("dso_simple", DAYS), ("as_of", DATE), lineage=False),
    # extension: the whole entity's DSO in its currency (mart_dso measures each invoicing currency apart)
    _t("mart_dso_entity", ("entity", "month_end"), "days sales outstanding of the whole entity, in its currency",
       ("entity", TEXT), ("month_end", DATE), ("currency", TEXT), ("receivables", MONEY),
       ("credit_sales_month", MONEY), ("credit_sales_90d", MONEY), ("dso_countback", DAYS),
       ("dso_simple", DAYS), ("unconverted_currencies", TEXT), ("as_of", DATE), lineage=False),
    _t("mart_customer_payment_behaviour", ("entity", "customer_id"), "payment behaviour per customer",
       ("entity", TEXT), ("customer_id", TEXT), ("customer_name", TEXT), ("paid_invoices", INT),
       ("avg_days_to_pay", DAYS), ("avg_days_late", DAYS), ("on_time_rate", RATIO), ("segment", TEXT),
       ("score", RATIO), ("as_of", DATE), lineage=False),
    _t("mart_cash_forecast", ("entity", "horizon_days", "currency"), "expected collections",
       ("as_of", DATE), ("entity", TEXT), ("horizon_days", INT), ("week_start", DATE), ("currency", TEXT),
       ("expected_cash", MONEY), ("open_amount", MONEY), ("period", TEXT), ("entity_currency", TEXT),
       ("expected_cash_entity", MONEY), lineage=False),
    _t("mart_credit_exposure", ("entity", "customer_id"), "exposure against credit limit per customer",
       ("entity", TEXT), ("customer_id", TEXT), ("customer_name", TEXT), ("currency", TEXT),
       ("credit_limit", MONEY), ("exposure", MONEY), ("headroom", MONEY), ("over_limit", BOOL),
       ("score", RATIO), ("flag_reason", TEXT), ("segment", TEXT), ("limit_source", TEXT), ("as_of", DATE),
       lineage=False),
    _t("mart_receivables_impairment", ("entity", "customer_id", "bucket", "month_end"),
       "provision per entity, customer and aging bucket at each month end",
       ("entity", TEXT), ("month_end", DATE), ("customer_id", TEXT), ("bucket", TEXT), ("currency", TEXT),
       ("amount_open", MONEY), ("loss_rate", RATIO), ("provision_collective", MONEY),
       ("provision_specific", MONEY), ("provision_total", MONEY), ("movement", MONEY), ("segment", TEXT),
       ("as_of", DATE), lineage=False),
    _t("mart_collection_kpis", ("entity", "month"), "collection KPIs per entity and month",
       ("entity", TEXT), ("month", DATE), ("overdue_ratio", RATIO), ("dispute_rate", RATIO),
       ("recovery_rate", RATIO), ("auto_match_rate", RATIO), ("reminders_sent", INT),
       ("paid_within_7d_rate", RATIO), ("overdue_concentration_top20", RATIO), ("measured_on", DATE),
       ("open_amount", MONEY), ("overdue_amount", MONEY), ("paid_within_7d_by_step", TEXT), ("as_of", DATE),
       lineage=False),
)

# Tables beyond CONTRACT.md, declared here so the same DDL, checks and grants apply to them.
EXTENSIONS: tuple[Table, ...] = (
    # Written by warehouse.predict.store (Python, not a mart SQL model); kept per as_of date.
    _t("mart_invoice_prediction", ("as_of", "entity", "invoice_id"),
       "late-payment prediction per invoice open at as_of (warehouse/predict)",
       ("as_of", DATE), ("entity", TEXT), ("invoice_id", TEXT), ("customer_id", TEXT), ("due_date", DATE),
       ("predicted_pay_date", DATE), ("predicted_days_late", INT), ("probability_late", RATIO),
       ("top_factors", TEXT), ("model_version", TEXT), ("trained_on", INT), lineage=False),
    # Customer cash received and not applied to any invoice (warehouse/models/marts/mart_unapplied_cash.sql):
    # the encours minus this is the receivables balance the customer ledger shows. customer_id NULL = unknown payer.
    _t("mart_unapplied_cash", ("entity", "customer_id", "currency"),
       "cash received from customers and not applied to an invoice, per entity, customer and currency",
       ("as_of", DATE), ("entity", TEXT), ("customer_id", TEXT), ("customer_name", TEXT), ("currency", TEXT),
       ("amount_unapplied", MONEY), ("payment_count", INT), ("entity_currency", TEXT),
       ("amount_unapplied_entity", MONEY), lineage=False),
    # Cash payments and their match states per entity (warehouse/models/marts/mart_match_rate.sql): the
    # desk's headline auto-match rate, counted once per mart refresh instead of per page view.
    _t("mart_match_rate", ("entity",),
       "cash payments received by as_of and how many were matched automatically, confirmed or suggested",
       ("as_of", DATE), ("entity", TEXT), ("payments", INT), ("auto_matched", INT), ("confirmed", INT),
       ("suggested", INT), ("auto_match_rate", RATIO), lineage=False),
)

CONTRACT: tuple[Table, ...] = CANONICAL + MARTS + EXTENSIONS
BY_NAME: dict[str, Table] = {t.name: t for t in CONTRACT}

INVOICE_STATUSES = ("open", "overdue", "partially_paid", "paid", "credited", "disputed", "written_off", "factored")
PAYMENT_STATUSES = ("succeeded", "pending", "failed", "charged_back", "refunded")
MATCH_STATES = ("auto", "suggested", "confirmed", "rejected")
AGING_BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")
