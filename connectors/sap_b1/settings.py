"""SAP Business One Service Layer constants."""

from __future__ import annotations

API_PATH = "/b1s/v2"
PAGE_SIZE = 100  # Prefer: odata.maxpagesize
DEFAULT_SINCE = "2000-01-01T00:00:00"
TIMEOUT_S = 120.0
SESSION_EXPIRED_CODE = "301"  # "Invalid session or session already timeout."
COLLECTIONS = ("BusinessPartners", "Invoices", "CreditNotes", "DownPayments", "IncomingPayments", "VendorPayments")
# outgoing payments (VendorPayments) are read only when they pay a customer: a refund (DocType rCustomer), not a supplier
EXTRA_FILTER = {"BusinessPartners": "CardType eq 'cCustomer'", "VendorPayments": "DocType eq 'rCustomer'"}
ORDER = {"BusinessPartners": "CardCode", "Invoices": "DocEntry", "CreditNotes": "DocEntry", "DownPayments": "DocEntry",
         "IncomingPayments": "DocEntry", "VendorPayments": "DocEntry"}
