"""Stripe → ``raw_stripe_*``: one dlt source per Stripe account (one account per entity).

Resources (see README.md): customers, charges, refunds, disputes, payouts,
balance_transactions (per payout, with the ``payout`` column), invoices,
payment_intents and invoice_payments (where a charge's invoice number may be), and events (last
30 days). Every list resource is incremental on ``created`` and yields rows in
ascending ``created`` order, so ``max_pages`` (pages, counted by ``Windows.pages``) can cut a
long sync into loads that each commit data and cursor together; the next run
resumes where the last committed one stopped. Pages are yielded as Arrow tables
(``connectors._arrow``), so dlt skips its per-record normalize.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource
from dlt.sources import incremental

from connectors._arrow import current_load_id, join_tables, rows_table, shape_table
from connectors._columns import nullable_columns as _cols  # short: the tables below are read as declarations
from connectors._http import RetryPolicy, Windows, external_schedule
from connectors.stripe import settings
from connectors.stripe.client import StripeApi
from lettrage.errors import PermanentSourceError

log = logging.getLogger(__name__)

__all__ = ["stripe_source", "to_unix"]

TEXT, BIGINT, BOOL = "text", "bigint", "bool"


COLUMNS: dict[str, dict[str, TColumnSchema]] = {
    "charges": _cols(
        id=TEXT,
        entity=TEXT,
        amount=BIGINT,
        amount_refunded=BIGINT,
        currency=TEXT,
        created=BIGINT,
        customer=TEXT,
        description=TEXT,
        status=TEXT,
        paid=BOOL,
        refunded=BOOL,
        disputed=BOOL,
        balance_transaction=TEXT,
        payment_intent=TEXT,
        invoice=TEXT,
        failure_code=TEXT,
        billing_details__name=TEXT,
        payment_method_details__type=TEXT,
        metadata__invoice_number=TEXT,
        metadata__erp_customer_id=TEXT,
    ),
    "payouts": _cols(
        id=TEXT,
        entity=TEXT,
        amount=BIGINT,
        currency=TEXT,
        arrival_date=BIGINT,
        created=BIGINT,
        status=TEXT,
        statement_descriptor=TEXT,
        balance_transaction=TEXT,
    ),
    "balance_transactions": _cols(
        id=TEXT,
        entity=TEXT,
        payout=TEXT,
        amount=BIGINT,
        fee=BIGINT,
        net=BIGINT,
        currency=TEXT,
        created=BIGINT,
        available_on=BIGINT,
        reporting_category=TEXT,
        type=TEXT,
        source=TEXT,
        status=TEXT,
    ),
    "refunds": _cols(
        id=TEXT,
        entity=TEXT,
        amount=BIGINT,
        currency=TEXT,
        charge=TEXT,
        created=BIGINT,
        status=TEXT,
        reason=TEXT,
    ),
    "disputes": _cols(
        id=TEXT,
        entity=TEXT,
        amount=BIGINT,
        currency=TEXT,
        charge=TEXT,
        created=BIGINT,
        status=TEXT,
        reason=TEXT,
    ),
    "customers": _cols(
        id=TEXT, entity=TEXT, email=TEXT, name=TEXT, created=BIGINT, metadata__erp_customer_id=TEXT
    ),
    # Stripe Invoicing: the ERP's invoice number in its metadata, description, custom fields (JSON text) or footer;
    # ``charge``/``payment_intent`` on API versions before 2025-03-31 (since, ``invoice_payments`` links them)
    "invoices": _cols(
        id=TEXT, entity=TEXT, number=TEXT, customer=TEXT, status=TEXT, description=TEXT, footer=TEXT,
        custom_fields=TEXT, created=BIGINT, currency=TEXT, amount_paid=BIGINT, charge=TEXT, payment_intent=TEXT,
        metadata__invoice_number=TEXT, metadata__erp_customer_id=TEXT,
        # the customer's balance before and after the invoice was finalized: a credit (negative) it used
        total=BIGINT, amount_due=BIGINT, starting_balance=BIGINT, ending_balance=BIGINT,
    ),
    "payment_intents": _cols(
        id=TEXT, entity=TEXT, created=BIGINT, customer=TEXT, description=TEXT, status=TEXT, latest_charge=TEXT,
        metadata__invoice_number=TEXT, metadata__erp_customer_id=TEXT,
    ),
    # which payment paid which Stripe invoice (API versions from 2025-03-31 on: a charge no longer names it)
    "invoice_payments": _cols(
        id=TEXT, entity=TEXT, invoice=TEXT, created=BIGINT, status=TEXT, amount_paid=BIGINT, payment__type=TEXT,
        payment__payment_intent=TEXT, payment__charge=TEXT,
    ),
    # (the object as it was when the event happened: its status and refunded flag say what changed since the
    # object itself was listed, which list resources walked by created never re-read)
    "events": _cols(
        id=TEXT, entity=TEXT, type=TEXT, created=BIGINT, data__object__id=TEXT, data__object__object=TEXT,
        data__object__status=TEXT, data__object__refunded=BOOL, data__object__failure_code=TEXT,
    ),
}
for _cols_of in COLUMNS.values():
    _cols_of["id"]["nullable"] = False


def to_unix(value: int | date | datetime | str | None) -> int | None:
    """A backfill bound (unix seconds, date, datetime or ISO text) as unix seconds; naive means UTC."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def with_payout(rows: list[dict[str, Any]], payouts: list[str]) -> pa.Table:
    """Balance transactions as raw Arrow, each tagged with the ``payout`` it was listed under (ours wins)."""
    table = rows_table(rows)
    if "payout" in table.column_names:
        table = table.drop_columns(["payout"])
    return table.append_column("payout", pa.array(payouts, pa.string()))


def _list_by_created(
    api: StripeApi, endpoint: str, entity: str, cursor: incremental[int], max_pages: int | None = None
) -> Iterator[Any]:
    """Walk ``created`` windows from the saved cursor; yield rows oldest first, ``BATCH_PAGES`` pages a table."""
    start = cursor.last_value if cursor.last_value is not None else cursor.initial_value
    assert start is not None, "the cursor always starts somewhere: start_date or settings.DEFAULT_START"
    windows = Windows(
        int(start), cursor.end_value, int(time.time()), base=settings.WINDOW_S, max_span=settings.MAX_WINDOW_S
    )
    yield from windows.pages(
        lambda lo, hi: api.list_window(endpoint, lo, hi),
        api.page_size,
        lambda table: shape_table(table, COLUMNS[endpoint], {"entity": entity}, load_id=current_load_id()),
        batch=settings.BATCH_PAGES,
        max_pages=max_pages,
        join=join_tables,
    )


@dlt.source(name="stripe", max_table_nesting=1)
def stripe_source(
    entity: str,
    api_key: str = dlt.secrets.value,
    base_url: str | None = None,
    start_date: int | date | datetime | str | None = None,
    end_date: int | date | datetime | str | None = None,
    page_size: int = settings.PAGE_SIZE,
    max_pages: int | None = None,
    retry_policy: RetryPolicy | None = None,
    with_events: bool = True,
) -> list[DltResource]:
    """All Stripe resources of one account, tagged with ``entity``.

    ``start_date``/``end_date`` bound a backfill window (``end_date`` set means dlt
    keeps no cursor: a backfill never moves the nightly sync). ``max_pages`` caps
    the pages each resource yields per run: call the pipeline again until it
    loads nothing to sync a long history in committed chunks.
    """
    api = StripeApi(api_key, base_url, policy=retry_policy, page_size=page_size)
    initial = to_unix(start_date) or settings.DEFAULT_START
    end = to_unix(end_date)
    scheduled = external_schedule()

    def created() -> incremental[int]:
        return dlt.sources.incremental(
            "created", initial_value=initial, end_value=end, allow_external_schedulers=scheduled
        )

    def listing(name: str, doc: str) -> DltResource:
        def rows(cursor: incremental[int] = created()) -> Iterator[Any]:
            if name not in settings.OPTIONAL:
                yield from _list_by_created(api, name, entity, cursor, max_pages)
                return
            try:
                yield from _list_by_created(api, name, entity, cursor, max_pages)
            except PermanentSourceError as exc:
                # (a restricted key without this permission: 403; a mock of the API without the endpoint: 404.
                # A bad key fails the other resources all the same.)
                log.warning("stripe %s: %s cannot be read (%s); synced without them: the key needs read access "
                            "to Invoices and PaymentIntents for charges that name their invoice only there",
                            entity, name, exc)
                yield dlt.mark.materialize_table_schema()

        rows.__doc__ = doc
        return dlt.resource(
            rows,
            name=name,
            table_name=f"raw_stripe_{name}",
            primary_key="id",
            write_disposition="merge",
            columns=COLUMNS[name],
        )(cursor=created())

    customers = listing("customers", "Customers; merge because names, emails and metadata change.")
    charges = listing("charges", "Charges; merge because refunds and disputes update amount_refunded/status.")
    refunds = listing("refunds", "Refunds; merge because a pending refund later succeeds or fails.")
    disputes = listing("disputes", "Disputes; merge because their status moves until won or lost.")
    payouts = listing("payouts", "Payouts; merge because in_transit becomes paid (or failed).")
    invoices = listing("invoices", "Stripe invoices; merge because they are paid, voided or credited later.")
    payment_intents = listing("payment_intents", "PaymentIntents; merge because their status and metadata move.")
    invoice_payments = listing("invoice_payments", "Which payment paid which Stripe invoice; merge (status moves).")

    @dlt.transformer(
        data_from=payouts,
        name="balance_transactions",
        table_name="raw_stripe_balance_transactions",
        primary_key="id",
        write_disposition="merge",
        columns=COLUMNS["balance_transactions"],
    )
    def balance_transactions(payout_page: Any) -> Iterator[Any]:
        """The composition of each new payout (``payout=`` filter), each row tagged with its ``payout``.

        A failed payout's too (``settings.PAYOUT_STATUSES_WITH_COMPOSITION``): Stripe lists the charges and fees
        it swept under it, and the later payout that sends that money again lists the ``payout_failure``
        transaction returning it (its ``source`` the failed payout), so nothing of either is lost.

        One Arrow table per ``BATCH_ROWS`` transactions, not per payout: a payout nets a few
        dozen transactions, and a table per request would cost dlt more than the rows do.
        The dicts become Arrow ``ARROW_ROWS`` at a time, so they die young (see ``rows_table``).
        Merge: the same transaction is listed again if a payout is re-read.
        """
        if not isinstance(payout_page, pa.Table) or payout_page.num_rows == 0:
            yield dlt.mark.materialize_table_schema()  # no payouts at all: still create the table
            return
        ids = payout_page.column("id").to_pylist()
        statuses = payout_page.column("status").to_pylist()
        rows: list[dict[str, Any]] = []
        payouts: list[str] = []
        tables: list[pa.Table] = []
        converted = 0
        for payout_id, status in zip(ids, statuses, strict=True):
            if status not in settings.PAYOUT_STATUSES_WITH_COMPOSITION:
                continue
            for page in api.pages("balance_transactions", {"payout": payout_id}):
                rows.extend(page)
                payouts.extend([payout_id] * len(page))
            if len(rows) >= settings.ARROW_ROWS:
                tables.append(with_payout(rows, payouts))
                converted += len(rows)
                rows, payouts = [], []
            if converted >= settings.BATCH_ROWS:
                yield shape_table(join_tables(tables), COLUMNS["balance_transactions"], {"entity": entity},
                                  load_id=current_load_id())
                tables, converted = [], 0
        if rows:
            tables.append(with_payout(rows, payouts))
        if tables:
            yield shape_table(join_tables(tables), COLUMNS["balance_transactions"], {"entity": entity},
                              load_id=current_load_id())

    resources = [customers, charges, refunds, disputes, payouts, balance_transactions, invoices, payment_intents,
                 invoice_payments]
    if with_events and (end is None or end > int(time.time()) - settings.EVENTS_LOOKBACK_S):
        events_start = max(initial, int(time.time()) - settings.EVENTS_LOOKBACK_S)

        def event_rows(cursor: incremental[int] = created()) -> Iterator[list[dict[str, Any]]]:
            yield from _list_by_created(api, "events", entity, cursor, max_pages)

        events = dlt.resource(
            event_rows,
            name="events",
            table_name="raw_stripe_events",
            primary_key="id",
            write_disposition="merge",
            columns=COLUMNS["events"],
        )(
            cursor=dlt.sources.incremental(
                "created", initial_value=events_start, end_value=end, allow_external_schedulers=scheduled
            )
        )
        resources.append(events)
    return resources
