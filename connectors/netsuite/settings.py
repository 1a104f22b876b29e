"""NetSuite SuiteQL constants: endpoint, page and query caps, concurrency."""

from __future__ import annotations

SUITEQL_PATH = "/services/rest/query/v1/suiteql"
PAGE_LIMIT = 1000  # SuiteQL's maximum `limit`
QUERY_ROW_CAP = 100_000  # rows reachable by offset in one query: beyond it, restart with `id > last id`
CONCURRENCY = 2  # requests in flight per account; the account's limit is shared with every other integration
DEFAULT_SINCE = "2000-01-01T00:00:00"
TIMEOUT_S = 120.0
# Invoices, credit memos, customer payments, customer deposits (CustDep: money received before the invoice) with
# the deposit applications (DepAppl) that apply them to invoices once billed, and customer refunds (CustRfnd: money
# paid back, applying the credit memo, payment or deposit it refunds)
TRANSACTION_TYPES = ("CustInvc", "CustCred", "CustPymt", "CustDep", "DepAppl", "CustRfnd")
APPLICATION_CHUNK = 200  # payment/credit-memo/deposit-application ids per NextTransactionLineLink query


def live_base_url(account_id: str) -> str:
    """``https://<account>.suitetalk.api.netsuite.com`` (sandbox accounts ``1234567_SB1`` -> ``1234567-sb1``)."""
    return f"https://{account_id.lower().replace('_', '-')}.suitetalk.api.netsuite.com"
