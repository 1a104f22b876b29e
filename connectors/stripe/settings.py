"""Stripe connector constants: endpoints, page size, windows."""

from __future__ import annotations

PAGE_SIZE = 100  # Stripe's maximum
BATCH_PAGES = 20  # pages per Arrow table handed to dlt: dlt costs a few ms per item, whatever its size
BATCH_ROWS = 10_000  # balance transactions per Arrow table (they come a payout, a few dozen rows, at a time)
# balance transactions turned into Arrow at a time: enough to spread the conversion's fixed cost (~0.1 ms),
# few enough that their dicts die young instead of filling the garbage collector's oldest generation
ARROW_ROWS = 1_000
WINDOW_S = 7 * 86400  # one listing window of `created`; bounds memory per window
MAX_WINDOW_S = 365 * 86400  # empty windows double up to this
DEFAULT_START = 1_577_836_800  # 2020-01-01T00:00:00Z, when no start_date is given
EVENTS_LOOKBACK_S = 30 * 86400  # Stripe keeps events for 30 days
REQUEST_TIMEOUT_S = 60

# resource name -> SDK service attribute on ``client.v1``
ENDPOINTS = {
    "customers": "customers",
    "charges": "charges",
    "refunds": "refunds",
    "disputes": "disputes",
    "payouts": "payouts",
    "balance_transactions": "balance_transactions",
    "events": "events",
    "invoices": "invoices",
    "payment_intents": "payment_intents",
    "invoice_payments": "invoice_payments",
}
# Where a charge's invoice number may be when the charge's own metadata lacks it: the Stripe invoice it paid
# (Stripe Invoicing: its metadata, description, custom fields, footer) and its PaymentIntent (Checkout, Payment
# Links, a PaymentIntent created with metadata). Read with the same read key; an account whose restricted key
# may not read them gets a warning and the sync goes on without them.
OPTIONAL = ("invoices", "payment_intents", "invoice_payments")
# payouts whose balance transactions are listed (``GET /v1/balance_transactions?payout=<po>``): those paid, on
# their way, and failed ones -- Stripe keeps an automatic payout's transactions under it when it fails (their
# fees are Stripe's all the same) and returns the money to the balance as one ``payout_failure`` transaction
# that a later payout lists. A canceled payout is a manual one (automatic payouts cannot be canceled): Stripe
# lists no transactions for manual payouts, so it is not asked.
PAYOUT_STATUSES_WITH_COMPOSITION = frozenset({"paid", "in_transit", "pending", "failed"})
