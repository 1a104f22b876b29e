"""Sage Accounting v3.1 constants: base URL, resources, page size."""

from __future__ import annotations

BASE_URL = "https://api.accounting.sage.com/v3.1"  # the live API root; the sandbox serves <url>/sage/v3.1
API_PATH = "/v3.1"  # a base_url (a proxy, the sandbox) is the host the live root is written on
# list items carry only id, displayed_as and $path unless every attribute is asked for
LIST_PARAMS = {"attributes": "all"}
ITEMS_PER_PAGE = 200  # Sage's maximum
DEFAULT_SINCE = "2000-01-01T00:00:00Z"
TIMEOUT_S = 60.0
RESOURCES = ("contacts", "sales_invoices", "sales_credit_notes", "contact_payments", "contact_allocations")
# money fields sent as decimal strings, stored as Decimal
MONEY = ("net_amount", "tax_amount", "total_amount", "outstanding_amount", "credit_limit", "amount", "discount",
         "payment_on_account__total_amount", "payment_on_account__outstanding_amount")
