"""GoCardless connector constants: endpoints, page size, windows."""

from __future__ import annotations

PAGE_SIZE = 500  # the API's maximum
BATCH_PAGES = 20  # pages per Arrow table handed to dlt: dlt costs a few ms per item, whatever its size
WINDOW_S = 7 * 86400
MAX_WINDOW_S = 365 * 86400
DEFAULT_START = "2020-01-01T00:00:00.000Z"
REQUEST_TIMEOUT_S = 60
API_VERSION = "2015-07-06"  # what gocardless_pro 3.22 sends as GoCardless-Version

# resource name -> API path under the base URL, and SDK service attribute on ``gocardless_pro.Client``
ENDPOINTS = {
    "customers": "customers",
    "mandates": "mandates",
    "payments": "payments",
    "payouts": "payouts",
    "payout_items": "payout_items",
    "events": "events",
}
