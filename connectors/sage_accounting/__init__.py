"""Sage Accounting (v3.1) → ``raw_sage_accounting_*``: one dlt source per Sage business (one per entity).

Resources (see README.md): contacts, sales_invoices, sales_credit_notes,
contact_payments and payment_allocations (the ``allocated_artefacts`` of each
payment, Sage's own lettrage). Each list is incremental on ``updated_at`` through
``updated_or_created_since``; merge, because invoices change as they are paid.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource

from connectors._columns import nullable_columns as _cols  # short: the tables below are read as declarations
from connectors._files import with_quarantine_table
from connectors._http import RetryPolicy, external_schedule
from connectors._records import AMOUNT, RecordChecks, amount_or_as_is, fields_of, is_quarantine
from connectors.sage_accounting import settings
from connectors.sage_accounting.client import SageClient, SageNextPaginator

__all__ = ["SageClient", "SageNextPaginator", "flatten", "sage_accounting_source"]

TEXT, BIGINT, DATE, TS = "text", "bigint", "date", "timestamp"


COLUMNS: dict[str, dict[str, TColumnSchema]] = {
    "contacts": _cols(id=TEXT, entity=TEXT, name=TEXT, reference=TEXT, email=TEXT, tax_number=TEXT,
                      credit_limit="money", credit_days=BIGINT, currency__id=TEXT, main_address__country__id=TEXT,
                      bank_account_details__iban=TEXT, contact_types=TEXT, created_at=TEXT, updated_at=TEXT),
    "sales_invoices": _cols(id=TEXT, entity=TEXT, invoice_number=TEXT, contact__id=TEXT, date=DATE, due_date=DATE,
                            reference=TEXT, net_amount="money", tax_amount="money", total_amount="money",
                            outstanding_amount="money", currency__id=TEXT, status__id=TEXT, created_at=TEXT,
                            updated_at=TEXT),
    "sales_credit_notes": _cols(id=TEXT, entity=TEXT, credit_note_number=TEXT, contact__id=TEXT, date=DATE,
                                original_invoice_number=TEXT, reference=TEXT, net_amount="money",
                                tax_amount="money", total_amount="money", outstanding_amount="money",
                                currency__id=TEXT, status__id=TEXT, created_at=TEXT, updated_at=TEXT),
    "contact_payments": _cols(id=TEXT, entity=TEXT, contact__id=TEXT, date=DATE, total_amount="money",
                              net_amount="money", currency__id=TEXT, reference=TEXT, transaction_type__id=TEXT,
                              payment_method__id=TEXT, payment_on_account__id=TEXT,
                              payment_on_account__total_amount="money",
                              allocated_artefacts_json=TEXT, created_at=TEXT, updated_at=TEXT),
    "payment_allocations": _cols(payment_id=TEXT, artefact_id=TEXT, entity=TEXT, allocation_id=TEXT,
                                 artefact_number=TEXT, amount="money", discount="money", contact_id=TEXT,
                                 payment_date=DATE, currency=TEXT),
    # allocations made apart from a receipt (Sage's /contact_allocations): a credit note set against an invoice,
    # a payment on account later allocated to one; a line per artefact, its kind from the artefact's $path
    "contact_allocations": _cols(id=TEXT, entity=TEXT, date=DATE, contact__id=TEXT, transaction_type__id=TEXT,
                                 allocated_artefacts_json=TEXT, created_at=TEXT, updated_at=TEXT),
    "contact_allocation_lines": _cols(allocation_id=TEXT, artefact_id=TEXT, entity=TEXT, artefact_kind=TEXT,
                                      artefact_number=TEXT, amount="money", contact_id=TEXT, date=DATE),
}
# What each resource's rows must read as (its dates, and every money field Sage sends); a row that does not is
# quarantined, where a bad amount used to fail the source and a bad date to load into a variant column.
FIELDS = {name: {**fields_of(cols), **{m: AMOUNT for m in settings.MONEY}} for name, cols in COLUMNS.items()}


def _named(kind: str) -> Any:
    return lambda obj: f"{kind} {obj.get('id')} ({obj.get('displayed_as')})"


def flatten(obj: dict[str, Any], entity: str) -> dict[str, Any]:
    """A Sage object as one raw row: nested links flattened (``contact__id``), money as Decimal (a value that is
    no amount is left as sent, for the row's check to quarantine it by name)."""
    row: dict[str, Any] = {"entity": entity}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if not k.startswith("$"):
                    walk(f"{prefix}__{k}" if prefix else k, v)
        elif isinstance(value, list):
            row[prefix + "_json"] = json.dumps(value, separators=(",", ":"))
        else:
            row[prefix] = amount_or_as_is(value) if prefix in settings.MONEY else value

    walk("", obj)
    return row


def _allocation_lines(allocation: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per artefact of a contact allocation: what it is (``sales_invoices``, ``sales_credit_notes``,
    ``payments_on_account``: the first part of its ``$path``) and the amount set against it (negative for
    the credit note or the payment on account that gives)."""
    out = []
    for a in json.loads(allocation.get("allocated_artefacts_json") or "[]"):
        art = a.get("artefact") or {}
        kind = str(art.get("$path") or "").strip("/").split("/")[0] or None
        out.append({"allocation_id": allocation["id"], "artefact_id": art.get("id"), "entity": allocation["entity"],
                    "artefact_kind": kind, "artefact_number": art.get("displayed_as"),
                    "amount": amount_or_as_is(a.get("amount")),
                    "contact_id": allocation.get("contact__id"), "date": allocation.get("date")})
    return out


def _allocations(payment: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for a in json.loads(payment.get("allocated_artefacts_json") or "[]"):
        art = a.get("artefact") or {}
        out.append({"payment_id": payment["id"], "artefact_id": art.get("id"), "entity": payment["entity"],
                    "allocation_id": a.get("id"), "artefact_number": art.get("displayed_as"),
                    "amount": amount_or_as_is(a.get("amount")), "discount": amount_or_as_is(a.get("discount") or "0"),
                    "contact_id": payment.get("contact__id"), "payment_date": payment.get("date"),
                    "currency": payment.get("currency__id")})
    return out


@dlt.source(name="sage_accounting", max_table_nesting=0)
def sage_accounting_source(
    entity: str,
    access_token: str = dlt.secrets.value,
    base_url: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    page_size: int = settings.ITEMS_PER_PAGE,
    retry_policy: RetryPolicy | None = None,
) -> list[DltResource]:
    """All Sage Accounting resources of one business, tagged with ``entity``.

    ``start_date``/``end_date`` (ISO) bound a backfill; ``end_date`` set means dlt keeps no cursor.
    """
    client = SageClient(access_token, base_url, policy=retry_policy, page_size=page_size)
    checks = RecordChecks("sage_accounting", entity)
    scheduled = external_schedule()
    initial = start_date or settings.DEFAULT_SINCE

    def listing(name: str, doc: str) -> DltResource:
        # "include": a quarantine row (no updated_at) passes without moving the cursor; the object it sets aside
        # is read again once corrected in Sage (its updated_at moves)
        def rows(cursor: dlt.sources.incremental[str] = dlt.sources.incremental(
                "updated_at", initial_value=initial, end_value=end_date, allow_external_schedulers=scheduled,
                on_cursor_value_missing="include"),
                 ) -> Iterator[Any]:
            since = cursor.last_value or initial
            for page in client.pages(name, since):
                yield from checks.page(page, FIELDS[name], _named(name), lambda obj: flatten(obj, entity))

        rows.__doc__ = doc + " An object whose dates or amounts do not read is quarantined."
        return with_quarantine_table(dlt.resource(
            rows, name=name, table_name=f"raw_sage_accounting_{name}", primary_key=("entity", "id"),
            write_disposition="merge", columns=COLUMNS[name]))

    contacts = listing("contacts", "Customers; merge because names, terms and limits change.")
    invoices = listing("sales_invoices", "Invoices; merge because outstanding_amount and status move as they are paid.")
    notes = listing("sales_credit_notes", "Credit notes; merge because they are allocated after issue.")
    payments = listing("contact_payments", "Customer receipts; merge because allocations are edited.")

    @dlt.transformer(data_from=payments, name="payment_allocations",
                     table_name="raw_sage_accounting_payment_allocations",
                     primary_key=("entity", "payment_id", "artefact_id"), merge_key=("entity", "payment_id"), write_disposition="merge",
                     columns=COLUMNS["payment_allocations"])
    def payment_allocations(page: list[dict[str, Any]], meta: Any = None) -> Iterator[Any]:
        """The invoices each receipt settles (Sage's ``allocated_artefacts``), re-read with their payment and
        merged by payment (``merge_key``): an allocation moved to another invoice leaves no stale row."""
        if not is_quarantine(meta):
            yield from checks.page([a for p in page for a in _allocations(p)], FIELDS["payment_allocations"],
                                   lambda a: f"contact_payments {a['payment_id']} allocation to {a['artefact_id']}")

    allocations = listing("contact_allocations",
                          "Allocations apart from receipts (credit notes, payments on account); merge, they are edited.")

    @dlt.transformer(data_from=allocations, name="contact_allocation_lines",
                     table_name="raw_sage_accounting_contact_allocation_lines",
                     primary_key=("entity", "allocation_id", "artefact_id"), merge_key=("entity", "allocation_id"),
                     write_disposition="merge", columns=COLUMNS["contact_allocation_lines"])
    def contact_allocation_lines(page: list[dict[str, Any]], meta: Any = None) -> Iterator[Any]:
        """The artefacts each contact allocation sets against each other, merged by allocation."""
        if not is_quarantine(meta):
            yield from checks.page([line for a in page for line in _allocation_lines(a)],
                                   FIELDS["contact_allocation_lines"],
                                   lambda a: f"contact_allocations {a['allocation_id']} line for {a['artefact_id']}")

    return [contacts, invoices, notes, payments, with_quarantine_table(payment_allocations), allocations,
            with_quarantine_table(contact_allocation_lines)]
