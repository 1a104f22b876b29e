"""GoCardless → ``raw_gocardless_*``: one dlt source per creditor (one creditor per entity).

Resources (see README.md): customers, mandates, payments, payouts, payout_items
(per payout; payouts older than six months answer 410 and keep what was loaded),
events, and payment_updates (payments re-read when an event touches them). List
resources are incremental on ``created_at`` (parsed to an aware datetime, which
dlt compares and schedules) and yield rows oldest first, so ``max_pages`` can cut
a long sync into committed chunks. List pages and re-read payments are yielded as
Arrow tables (``connectors._arrow``: dlt then skips its per-record normalize);
payout items stay dicts, being few and carrying decimal strings we parse exactly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource
from dlt.sources import incremental

from connectors._arrow import current_load_id, join_tables, page_table, shape_table
from connectors._columns import nullable_columns
from connectors._http import RetryPolicy, Windows, external_schedule
from connectors.gocardless import settings
from connectors.gocardless.client import GoCardlessApi
from lettrage.errors import ResourceGone
from lettrage.money import parse_decimal

__all__ = ["gocardless_source", "to_datetime"]

log = logging.getLogger("lettrage.connectors.gocardless")
TEXT, BIGINT, TS, DEC, DATE = "text", "bigint", "timestamp", "decimal", "date"


def _cols(**types: str) -> dict[str, TColumnSchema]:
    cols = nullable_columns(**types)
    for name in ("id", "payout_id", "item_index"):
        if name in cols:
            cols[name]["nullable"] = False
    return cols


COLUMNS: dict[str, dict[str, TColumnSchema]] = {
    "payments": _cols(
        id=TEXT,
        entity=TEXT,
        amount=BIGINT,
        amount_refunded=BIGINT,
        currency=TEXT,
        charge_date=DATE,
        created_at=TS,
        description=TEXT,
        reference=TEXT,
        status=TEXT,
        metadata__invoice_number=TEXT,
        metadata__erp_customer_id=TEXT,
        links__mandate=TEXT,
        links__creditor=TEXT,
        links__payout=TEXT,
    ),
    "payouts": _cols(
        id=TEXT,
        entity=TEXT,
        amount=BIGINT,
        deducted_fees=BIGINT,
        currency=TEXT,
        arrival_date=DATE,
        created_at=TS,
        reference=TEXT,
        status=TEXT,
        payout_type=TEXT,
        # paid out through foreign exchange: the amount (minor units) and currency that reach the bank
        fx__fx_amount=BIGINT,
        fx__fx_currency=TEXT,
    ),
    "payout_items": _cols(
        payout_id=TEXT,
        item_index=BIGINT,
        entity=TEXT,
        type=TEXT,
        amount=DEC,
        links__payment=TEXT,
        links__mandate=TEXT,
        taxes_total=DEC,
    ),
    "mandates": _cols(
        id=TEXT,
        entity=TEXT,
        reference=TEXT,
        scheme=TEXT,
        status=TEXT,
        created_at=TS,
        links__customer=TEXT,
        links__customer_bank_account=TEXT,
    ),
    "customers": _cols(
        id=TEXT,
        entity=TEXT,
        email=TEXT,
        company_name=TEXT,
        given_name=TEXT,
        family_name=TEXT,
        created_at=TS,
        metadata__erp_customer_id=TEXT,
    ),
    "events": _cols(
        id=TEXT,
        entity=TEXT,
        created_at=TS,
        action=TEXT,
        resource_type=TEXT,
        links__payment=TEXT,
        links__payout=TEXT,
        links__mandate=TEXT,
        details__cause=TEXT,
        details__reason_code=TEXT,
        details__origin=TEXT,
        details__description=TEXT,
    ),
}


def to_datetime(value: int | date | datetime | str | None) -> datetime | None:
    """A backfill bound (unix seconds, date, datetime, ISO text) as an aware UTC datetime; naive means UTC."""
    if value is None:
        return None
    if isinstance(value, int):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def iso(ts: int) -> str:
    """Unix seconds to the ``created_at`` form GoCardless filters accept."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _list_by_created(
    api: GoCardlessApi, endpoint: str, entity: str, cursor: incremental[datetime], max_pages: int | None = None
) -> Iterator[Any]:
    start = cursor.last_value if cursor.last_value is not None else cursor.initial_value
    assert start is not None, "the cursor always starts somewhere: start_date or settings.DEFAULT_START"
    end = cursor.end_value
    windows = Windows(
        int(start.timestamp()),
        None if end is None else int(end.timestamp()) + 1,
        int(time.time()),
        base=settings.WINDOW_S,
        max_span=settings.MAX_WINDOW_S,
    )
    yield from windows.pages(
        lambda lo, hi: api.list_window(endpoint, iso(lo), None if hi is None else iso(hi)),
        api.page_size,
        lambda table: shape_table(table, COLUMNS[endpoint], {"entity": entity}, load_id=current_load_id()),
        batch=settings.BATCH_PAGES,
        max_pages=max_pages,
        join=join_tables,
    )


def column_values(page: Any, name: str) -> list[Any]:
    """One column of a page a parent resource yielded (an Arrow table; nothing, for an empty history)."""
    if isinstance(page, pa.Table):
        return page.column(name).to_pylist() if name in page.column_names else [None] * page.num_rows
    return []


def payout_item_rows(
    payout_id: str, entity: str, start_index: int, items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Payout items keyed by (payout_id, item_index); decimal-string amounts become exact Decimals."""
    rows = []
    for offset, item in enumerate(items):
        taxes = item.get("taxes") or []
        rows.append(
            {
                **item,
                "payout_id": payout_id,
                "item_index": start_index + offset,
                "entity": entity,
                "amount": parse_decimal(item["amount"]),
                "taxes_total": sum(
                    (parse_decimal(t["amount"]) for t in taxes if t.get("amount") is not None), Decimal("0")
                ),
            }
        )
    return rows


@dlt.source(name="gocardless", max_table_nesting=1)
def gocardless_source(
    entity: str,
    access_token: str = dlt.secrets.value,
    base_url: str | None = None,
    start_date: int | date | datetime | str | None = None,
    end_date: int | date | datetime | str | None = None,
    page_size: int = settings.PAGE_SIZE,
    max_pages: int | None = None,
    retry_policy: RetryPolicy | None = None,
) -> list[DltResource]:
    """All GoCardless resources of one creditor, tagged with ``entity``.

    ``base_url`` defaults to the live API. See ``stripe_source`` for
    ``start_date``/``end_date``/``max_pages``.
    """
    api = GoCardlessApi(access_token, base_url, policy=retry_policy, page_size=page_size)
    initial = to_datetime(start_date) or to_datetime(settings.DEFAULT_START)
    end = to_datetime(end_date)
    scheduled = external_schedule()

    def created_at() -> incremental[datetime]:
        return dlt.sources.incremental(
            "created_at", initial_value=initial, end_value=end, allow_external_schedulers=scheduled
        )

    listed_from_start: set[str] = set()  # resources reading their whole history in this run

    def listing(name: str, doc: str) -> DltResource:
        def rows(cursor: incremental[datetime] = created_at()) -> Iterator[Any]:
            if cursor.last_value == cursor.initial_value:
                listed_from_start.add(name)
            yield from _list_by_created(api, name, entity, cursor, max_pages)

        rows.__doc__ = doc
        return dlt.resource(
            rows,
            name=name,
            table_name=f"raw_gocardless_{name}",
            primary_key="id",
            write_disposition="merge",
            columns=COLUMNS[name],
        )(cursor=created_at())

    customers = listing("customers", "Customers; merge because contact details change.")
    mandates = listing(
        "mandates", "Mandates; merge because they move from pending to active, cancelled, expired."
    )
    payments = listing(
        "payments", "Payments; merge because status moves (submitted, paid_out, failed, charged_back)."
    )
    payouts = listing("payouts", "Payouts; merge because pending becomes paid.")
    events = listing("events", "Events; merge on id so a re-read window never duplicates.")

    @dlt.transformer(
        data_from=payouts,
        name="payout_items",
        table_name="raw_gocardless_payout_items",
        primary_key=("payout_id", "item_index"),
        write_disposition="merge",
        columns=COLUMNS["payout_items"],
    )
    def payout_items(payout_page: Any) -> Iterator[list[dict[str, Any]]]:
        """Items of each new payout; merge: re-reading a payout rewrites the same (payout_id, item_index).

        A 410 (payout older than six months) keeps what an earlier run loaded and moves on.
        """
        payout_ids = column_values(payout_page, "id")
        if not payout_ids:  # no payouts at all: still create the table with its declared columns
            yield dlt.mark.materialize_table_schema()
        gone: list[str] = []
        for payout_id in payout_ids:
            index = 0
            try:
                for page in api.pages("payout_items", {"payout": payout_id}):
                    yield payout_item_rows(payout_id, entity, index, page)
                    index += len(page)
            except ResourceGone:
                gone.append(payout_id)
        if gone:
            # (one warning a page of payouts, not one a payout: a backfill past six months meets hundreds)
            log.warning("gocardless %s: the items of %d payout(s) are no longer served (410 Gone, older than six "
                        "months: %s): kept as loaded, else composed from their events in staging",
                        entity, len(gone), ", ".join(gone[:3]) + (" …" if len(gone) > 3 else ""))

    def updates(resource: str, name: str, link: str, doc: str) -> DltResource:
        """Re-read the ``name`` objects that new events link through ``link`` (``links__payment``...).

        The ``created_at`` cursor never revisits an old object, so its later status changes arrive
        only through events; merge on ``id`` overwrites the stale row. Skipped while ``name`` reads
        its whole history in the same run: every object is then fresh already, and one GET per
        object would burn the rate limit.
        """
        def rows(event_page: Any) -> Iterator[Any]:
            if name in listed_from_start:
                return
            kinds = column_values(event_page, "resource_type")
            seen = {oid for kind, oid in zip(kinds, column_values(event_page, link), strict=True)
                    if kind == name and oid}
            if seen:
                fresh = [api.get(name, oid) for oid in sorted(seen)]
                yield page_table(fresh, COLUMNS[name], {"entity": entity}, load_id=current_load_id())

        rows.__doc__ = doc
        return dlt.transformer(
            rows,
            data_from=events,
            name=resource,
            table_name=f"raw_gocardless_{name}",
            primary_key="id",
            write_disposition="merge",
            columns=COLUMNS[name],
        )

    payment_updates = updates("payment_updates", "payments", "links__payment",
                              "Payments that new events touched (failed, charged_back, paid_out ...).")
    payout_updates = updates("payout_updates", "payouts", "links__payout",
                             "Payouts that new events touched (paid, bounced): one first seen pending becomes paid.")

    resources = [customers, mandates, payments, payouts, payout_items, events, payment_updates, payout_updates]
    return resources
