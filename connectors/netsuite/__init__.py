"""Oracle NetSuite (SuiteQL) → ``raw_netsuite_*``: one dlt source per NetSuite account (one per entity).

Resources (see README.md): customers, transactions (``CustInvc``, ``CustCred``,
``CustPymt``, ``CustDep``, ``DepAppl``) and payment_applications (``NextTransactionLineLink`` rows of each
payment, credit memo or deposit application: NetSuite's own allocation). Customers and transactions are
incremental on ``lastmodifieddate`` (as ``lastmodified``, text ``YYYY-MM-DDTHH:MM:SS``),
walked in ``id`` order by key range under the 100,000-row query cap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource

from connectors._columns import nullable_columns as _cols  # short: the tables below are read as declarations
from connectors._files import with_quarantine_table
from connectors._http import RetryPolicy, external_schedule
from connectors._records import FieldParser, RecordChecks, fields_of, is_quarantine
from connectors.netsuite import settings
from connectors.netsuite.auth import NetSuiteOAuth1
from connectors.netsuite.client import KeyRangePaginator, NetSuiteClient
from lettrage.errors import ConfigurationError, PermanentSourceError

log = logging.getLogger(__name__)

__all__ = ["KeyRangePaginator", "NetSuiteClient", "NetSuiteOAuth1", "netsuite_source", "parse_ns_date", "subsidiaries"]

TEXT, BIGINT, DATE = "text", "bigint", "date"
# Internal ids are numbered per NetSuite account: two entities on two accounts both hold transaction 1001, and
# keyed by the id alone the second account's load would replace the first's rows.
KEY = ("entity", "id")
CUSTOMER_COLUMNS = "id, entityid, companyname, firstname, lastname, isperson, email, creditlimit, terms, currency"
TRANSACTION_COLUMNS = ("id", "tranid", "type", "trandate", "duedate", "entity", "currency", "foreigntotal",
                       "foreignamountremaining", "status", "otherrefnum", "memo", "posting", "voided")
LASTMOD = "TO_CHAR(lastmodifieddate, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS lastmodified"
SINCE = "lastmodifieddate >= TO_TIMESTAMP('{since}', 'YYYY-MM-DD HH24:MI:SS')"


COLUMNS: dict[str, dict[str, TColumnSchema]] = {
    # an individual (isperson 'T') has no companyname: firstname and lastname are its name
    "customers": _cols(id=TEXT, entity=TEXT, entityid=TEXT, companyname=TEXT, firstname=TEXT, lastname=TEXT,
                       isperson=TEXT, email=TEXT, creditlimit="money", terms=TEXT, terms_days=BIGINT, currency=TEXT,
                       currency_code=TEXT, lastmodified=TEXT),
    "transactions": _cols(id=TEXT, entity=TEXT, tranid=TEXT, type=TEXT, trandate=DATE, duedate=DATE,
                          customer_id=TEXT, currency=TEXT, currency_code=TEXT, foreigntotal="money",
                          foreignamountremaining="money", status=TEXT, otherrefnum=TEXT, memo=TEXT,
                          posting=TEXT, voided=TEXT, lastmodified=TEXT),
    "payment_applications": _cols(previousdoc=TEXT, nextdoc=TEXT, entity=TEXT, foreignamount="money",
                                  linktype=TEXT, previoustype=TEXT, nexttype=TEXT),
    # records deleted in NetSuite (DeletedRecord): staging leaves out the transactions they name
    "deleted_records": _cols(recordid=TEXT, type=TEXT, entity=TEXT, deleted=TEXT),
}


def parse_ns_date(value: str | None) -> date | None:
    """NetSuite's default date preference ``M/D/YYYY`` (or ISO) to a date."""
    if not value:
        return None
    if "/" in value:
        m, d, y = (int(p) for p in value.split("/"))  # three parts, or a ValueError
        return date(y, m, d)
    return date.fromisoformat(value[:10])


NS_DATE = FieldParser("a date M/D/YYYY (NetSuite's default date format)", parse_ns_date)
# What each resource's rows must read as (its date and money columns); a row that does not is quarantined.
FIELDS = {name: fields_of(COLUMNS[name], NS_DATE) for name in ("customers", "transactions", "payment_applications")}


def _transaction(r: dict[str, Any]) -> str:
    return f"transaction {r.get('id')} ({r.get('tranid')})"


def _customer(r: dict[str, Any]) -> str:
    return f"customer {r.get('id')} ({r.get('entityid')})"


def _application(r: dict[str, Any]) -> str:
    return f"transaction {r.get('nextdoc')} application to {r.get('previousdoc')}"


def _refund_links(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A customer refund's links written with the refund as ``previousdoc`` (refund -> credit memo), turned round so
    that the refund is the ``nextdoc``, as a payment is of what it pays. The table is merged by ``nextdoc``: kept as
    written, a refund loaded on a later night would replace the credit memo's own links to its invoices. A link to a
    deposit application is left out: it is read with the application, which names the deposit refunded."""
    return [{**r, "previousdoc": r.get("nextdoc"), "nextdoc": r.get("previousdoc"), "previoustype": r.get("nexttype"),
             "nexttype": r.get("previoustype")}
            for r in rows if r.get("nexttype") != "DepAppl"]


@dlt.source(name="netsuite", max_table_nesting=0)
def netsuite_source(
    entity: str,
    account_id: str = dlt.secrets.value,
    consumer_key: str = dlt.secrets.value,
    consumer_secret: str = dlt.secrets.value,
    token_id: str = dlt.secrets.value,
    token_secret: str = dlt.secrets.value,
    base_url: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    page_limit: int = settings.PAGE_LIMIT,
    row_cap: int = settings.QUERY_ROW_CAP,
    concurrency: int = settings.CONCURRENCY,
    retry_policy: RetryPolicy | None = None,
    subsidiary: int | str | list[int | str] | None = None,
) -> list[DltResource]:
    """Customers, transactions and payment applications of one account, tagged with ``entity``.

    ``subsidiary`` (a NetSuite OneWorld account): the subsidiary ids this entity is. Transactions are read on
    their main line's subsidiary; customers by their primary subsidiary, and a customer of another subsidiary
    that this entity's transactions name (a multi-subsidiary customer) is read by id beside them."""
    subs = subsidiaries(subsidiary)
    auth = NetSuiteOAuth1(account_id, consumer_key, consumer_secret, token_id, token_secret)
    client = NetSuiteClient(auth, base_url, policy=retry_policy, page_limit=page_limit, row_cap=row_cap,
                            concurrency=concurrency)
    scheduled = external_schedule()
    initial = (start_date or settings.DEFAULT_SINCE)[:19]
    lookups: dict[str, dict[str, str]] = {}
    checks = RecordChecks("netsuite", entity)

    def lookup(name: str) -> dict[str, str]:
        if name not in lookups:
            if name == "currency":
                rows = client.all_rows("SELECT id, symbol FROM currency")
                lookups[name] = {r["id"]: r["symbol"] for r in rows}
            else:
                rows = client.all_rows("SELECT id, daysuntilnetdue FROM term")
                lookups[name] = {r["id"]: r["daysuntilnetdue"] for r in rows}
        return lookups[name]

    def cursor() -> dlt.sources.incremental[str]:
        # "include": a quarantine row (no lastmodified) passes without moving the cursor, so the record it sets
        # aside is read again once it is corrected in NetSuite (its lastmodifieddate moves past the cursor)
        return dlt.sources.incremental("lastmodified", initial_value=initial, end_value=end_date,
                                       allow_external_schedulers=scheduled, on_cursor_value_missing="include")

    @dlt.resource(name="customers", table_name="raw_netsuite_customers", primary_key=KEY,
                  write_disposition="merge", columns=COLUMNS["customers"])
    def customers(updated: dlt.sources.incremental[str] = cursor()) -> Iterator[Any]:
        """Customers; merge because terms, limits and e-mails change. One whose credit limit does not read is
        quarantined."""
        since = str(updated.last_value or initial).replace("T", " ")
        of_subs = f"subsidiary IN ({', '.join(subs)}) AND " if subs else ""
        q = (f"SELECT {CUSTOMER_COLUMNS}, {LASTMOD} FROM customer "
             f"WHERE {of_subs}{SINCE.format(since=since)} AND id > {{after}} ORDER BY id")
        for page in client.walk(q):
            yield from customer_rows(page)

    def customer_rows(page: list[dict[str, Any]]) -> Iterator[Any]:
        """The page's quarantine rows (customers whose values do not read), then its good rows."""
        currencies, terms = lookup("currency"), lookup("term")
        for item in checks.page(page, FIELDS["customers"], _customer):
            if isinstance(item, list):
                yield enrich_customers(item, currencies, terms)
            else:
                yield item

    def enrich_customers(page: list[dict[str, Any]], currencies: dict[str, str],
                         terms: dict[str, str]) -> list[dict[str, Any]]:
        for r in page:
            r["entity"] = entity
            r["currency_code"] = currencies.get(r.get("currency") or "")
            days = terms.get(r.get("terms") or "")
            r["terms_days"] = int(days) if days else None
            r.pop("subsidiary", None)
        return page

    @dlt.resource(name="transactions", table_name="raw_netsuite_transactions", primary_key=KEY,
                  write_disposition="merge", columns=COLUMNS["transactions"])
    def transactions(updated: dlt.sources.incremental[str] = cursor()) -> Iterator[Any]:
        """Invoices, credit memos, payments, deposits and refunds; merge because amounts remaining and status move. A
        transaction whose dates or amounts do not read (``31/10/2025``, ``2,005.62``) is quarantined, the page loads."""
        since = str(updated.last_value or initial).replace("T", " ")
        types = ", ".join(f"'{t}'" for t in settings.TRANSACTION_TYPES)
        if subs:  # OneWorld: a transaction's subsidiary is on its main line
            cols = ", ".join(f"t.{c}" for c in TRANSACTION_COLUMNS)
            q = (f"SELECT {cols}, {LASTMOD.replace('lastmodifieddate', 't.lastmodifieddate')} FROM transaction t "
                 "INNER JOIN transactionline tl ON tl.transaction = t.id "
                 f"WHERE tl.mainline = 'T' AND tl.subsidiary IN ({', '.join(subs)}) AND t.type IN ({types}) "
                 f"AND t.{SINCE.format(since=since)} AND t.id > {{after}} ORDER BY t.id")
        else:
            q = (f"SELECT {', '.join(TRANSACTION_COLUMNS)}, {LASTMOD} FROM transaction WHERE type IN ({types}) "
                 f"AND {SINCE.format(since=since)} AND id > {{after}} ORDER BY id")
        for page in client.walk(q):
            currencies = lookup("currency")
            for item in checks.page(page, FIELDS["transactions"], _transaction):
                for r in item if isinstance(item, list) else ():
                    r["customer_id"] = r.pop("entity")
                    r["entity"] = entity
                    r["currency_code"] = currencies.get(r.get("currency") or "")
                yield item

    @dlt.transformer(data_from=transactions, name="payment_applications",
                     table_name="raw_netsuite_payment_applications", primary_key=("entity", "previousdoc", "nextdoc"),
                     merge_key=("entity", "nextdoc"), write_disposition="merge", columns=COLUMNS["payment_applications"])
    def payment_applications(page: list[dict[str, Any]], meta: Any = None) -> Iterator[Any]:
        """What each payment, credit memo, deposit application or refund applies, re-read whenever it changes: merged by
        payment (``merge_key``), so a payment's applications are replaced as a whole and one moved to another
        invoice leaves no stale link behind. A quarantined payment's are read once it is corrected."""
        if is_quarantine(meta):
            return
        step = settings.APPLICATION_CHUNK
        applying = [r["id"] for r in page if r.get("type") in ("CustPymt", "CustCred")]
        # (a deposit application's links are read whatever their linktype: the deposit it applies and the invoices
        # it pays, both with ``nextdoc`` the application; staging reads the deposit as the receipt. So are a customer
        # refund's, the credit memo, payment or deposit it pays back, in both orientations NetSuite writes them)
        deposits = [r["id"] for r in page if r.get("type") in ("DepAppl", "CustRfnd")]
        refunds = [r["id"] for r in page if r.get("type") == "CustRfnd"]
        chunks = ([("applying", applying[i : i + step]) for i in range(0, len(applying), step)]
                  + [("deposits", deposits[i : i + step]) for i in range(0, len(deposits), step)]
                  + [("refunds", refunds[i : i + step]) for i in range(0, len(refunds), step)])

        def fetch(chunk: tuple[str, list[str]]) -> list[dict[str, Any]]:
            kind, ids = chunk
            column, only_payments = ("previousdoc", "") if kind == "refunds" else (
                "nextdoc", " AND linktype = 'Payment'" if kind == "applying" else "")
            rows = client.all_rows(
                "SELECT previousdoc, nextdoc, foreignamount, linktype, previoustype, nexttype "
                f"FROM nexttransactionlinelink WHERE {column} IN ({', '.join(ids)}){only_payments}")
            if kind == "refunds":
                return _refund_links(rows)
            # (a refund written as previousdoc of the credit memo is read with the refund, turned round: not twice)
            return [r for r in rows if kind != "applying" or r.get("previoustype") != "CustRfnd"]

        with ThreadPoolExecutor(max_workers=max(1, client.concurrency)) as pool:
            for rows in pool.map(fetch, chunks):
                for r in rows:
                    r["entity"] = entity
                yield from checks.page(rows, FIELDS["payment_applications"], _application)

    @dlt.resource(name="deleted_records", table_name="raw_netsuite_deleted_records", primary_key=("entity", "recordid", "type"),
                  write_disposition="merge", columns=COLUMNS["deleted_records"])
    def deleted_records(
        deleted: dlt.sources.incremental[str] = dlt.sources.incremental(
            "deleted", initial_value=initial, end_value=end_date, allow_external_schedulers=scheduled),
    ) -> Iterator[list[dict[str, Any]]]:
        """Records deleted since the last run (a payment entered on the wrong customer and deleted): the
        transactions they name are no longer owed or received. Reading DeletedRecord takes the role's
        'Deleted Records' permission; refused (or unknown to the account's SuiteQL), deletions are skipped with
        a warning rather than failing the source."""
        since = str(deleted.last_value or initial).replace("T", " ")
        q = ("SELECT recordid, type, TO_CHAR(deleteddate, 'YYYY-MM-DD\"T\"HH24:MI:SS') AS deleted FROM deletedrecord "
             f"WHERE deleteddate >= TO_TIMESTAMP('{since}', 'YYYY-MM-DD HH24:MI:SS')")
        try:
            rows = client.all_rows(q)
        except PermanentSourceError as exc:
            log.warning("netsuite %s: deleted records not read (%s); deletions are not applied", entity, exc)
            return
        for r in rows:
            r["entity"] = entity
        if rows:
            yield rows

    seen_customers: set[str] = set()

    @dlt.transformer(data_from=transactions, name="customers_of_other_subsidiaries",
                     table_name="raw_netsuite_customers", primary_key=KEY, write_disposition="merge",
                     columns=COLUMNS["customers"])
    def customers_of_other_subsidiaries(page: list[dict[str, Any]], meta: Any = None) -> Iterator[Any]:
        """OneWorld: a customer whose primary subsidiary is another one, named by this entity's transactions (a
        multi-subsidiary customer), read by id so that its invoices are not without a customer."""
        if is_quarantine(meta):
            return
        ids = sorted({r["customer_id"] for r in page if r.get("customer_id")} - seen_customers, key=int)
        seen_customers.update(ids)
        for i in range(0, len(ids), settings.APPLICATION_CHUNK):
            chunk = ", ".join(ids[i : i + settings.APPLICATION_CHUNK])
            rows = client.all_rows(f"SELECT {CUSTOMER_COLUMNS}, subsidiary, {LASTMOD} FROM customer WHERE id IN ({chunk})")
            others = [r for r in rows if str(r.get("subsidiary") or "") not in subs]
            if others:
                yield from customer_rows(others)

    for resource in (customers, transactions, payment_applications, customers_of_other_subsidiaries):
        with_quarantine_table(resource)
    resources: list[DltResource] = [customers, transactions, payment_applications, deleted_records]
    return [*resources, customers_of_other_subsidiaries] if subs else resources


def subsidiaries(value: int | str | list[int | str] | None) -> tuple[str, ...]:
    """``subsidiary`` as sources.yaml gives it (``3``, ``"3"``, ``[3, 4]``, ``"3,4"``) to internal ids."""
    if value is None or value == "" or value == []:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    out = tuple(str(v).strip() for v in items)
    bad = [v for v in out if not v.isdigit()]
    if bad:
        raise ConfigurationError(f"netsuite subsidiary must be internal ids (numbers), found {bad}")
    return out
