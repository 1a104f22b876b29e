"""SAP Business One (Service Layer) → ``raw_sap_b1_*``: one dlt source per company database (one per entity).

Resources (see README.md): business_partners (customers only), invoices,
credit_notes, incoming_payments and payment_invoices (each payment's
``PaymentInvoices`` lines: B1's own allocation), outgoing_payments to customers
(refunds) and their outgoing_payment_invoices. Incremental on ``updated_at``
(``UpdateDate`` + ``UpdateTime``); the Service Layer filters by day, dlt keeps
the exact cursor.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import dlt
from dlt.common.schema.typing import TColumnSchema
from dlt.extract.resource import DltResource

from connectors._columns import nullable_columns as _cols  # short: the tables below are read as declarations
from connectors._files import with_quarantine_table
from connectors._http import RetryPolicy, external_schedule
from connectors._records import RecordChecks, fields_of, is_quarantine, money
from connectors.sap_b1 import settings
from connectors.sap_b1.auth import B1SessionAuth
from connectors.sap_b1.client import B1Client, ODataNextLinkPaginator

__all__ = ["B1Client", "B1SessionAuth", "ODataNextLinkPaginator", "sap_b1_source", "to_row"]

TEXT, BIGINT, DATE = "text", "bigint", "date"


# DocTotal and PaidToDate are in the company's local currency; a document in another currency also carries
# them in its own (DocTotalFc, PaidToDateFC: 0 for a local one). CancelStatus csCancellation marks the
# document B1 adds to cancel another (the original then reads Cancelled tYES): neither is owed.
DOC = dict(DocEntry=BIGINT, entity=TEXT, DocNum=BIGINT, DocDate=DATE, DocDueDate=DATE, CardCode=TEXT,
           CardName=TEXT, NumAtCard=TEXT, Reference1=TEXT, DocCurrency=TEXT, DocTotal="money", VatSum="money",
           PaidToDate="money", DocTotalFc="money", PaidToDateFC="money", DocumentStatus=TEXT, Cancelled=TEXT,
           CancelStatus=TEXT, BaseEntry=BIGINT, updated_at=TEXT)
COLUMNS: dict[str, dict[str, TColumnSchema]] = {
    "invoices": _cols(**DOC),
    "credit_notes": _cols(**DOC),
    # A/R down payment invoices (DownPayments): owed until a receipt pays them (PaymentInvoices lines of type
    # it_DownPayment); the final invoice that draws one is net of it
    "down_payments": _cols(**DOC),
    # a receipt is paid by transfer, cash, cheques and cards at once (TransferSum, CashSum, PaymentChecks,
    # PaymentCreditCards), in its DocCurrency: ChecksSum and CardsSum are its lists summed (to_row)
    "incoming_payments": _cols(DocEntry=BIGINT, entity=TEXT, DocNum=BIGINT, DocDate=DATE, CardCode=TEXT,
                               CardName=TEXT, DocCurrency=TEXT, TransferSum="money", CashSum="money",
                               ChecksSum="money", CardsSum="money", TransferDate=DATE,
                               TransferReference=TEXT, Remarks=TEXT, OpenBalance="money", Cancelled=TEXT,
                               updated_at=TEXT),
    # an outgoing payment to a customer (VendorPayments with DocType rCustomer): money paid back, its PaymentInvoices
    # lines the credit memos (InvoiceType it_CredItnote) it refunds
    "outgoing_payments": _cols(DocEntry=BIGINT, entity=TEXT, DocNum=BIGINT, DocDate=DATE, DocType=TEXT, CardCode=TEXT,
                               CardName=TEXT, DocCurrency=TEXT, TransferSum="money", CashSum="money",
                               ChecksSum="money", CardsSum="money", TransferDate=DATE,
                               TransferReference=TEXT, Remarks=TEXT, Cancelled=TEXT, updated_at=TEXT),
    "payment_invoices": _cols(PaymentDocEntry=BIGINT, LineNum=BIGINT, entity=TEXT, DocEntry=BIGINT,
                              SumApplied="money", AppliedFC="money", InvoiceType=TEXT, CardCode=TEXT,
                              PaymentDate=DATE),
    "business_partners": _cols(CardCode=TEXT, entity=TEXT, CardName=TEXT, CardType=TEXT, EmailAddress=TEXT,
                               FederalTaxID=TEXT, Currency=TEXT, CreditLimit="money", PayTermsGrpCode=BIGINT,
                               U_PaymentTermsDays=BIGINT, Country=TEXT, IBAN=TEXT, updated_at=TEXT),
}
NAMES = {"business_partners": "BusinessPartners", "invoices": "Invoices", "credit_notes": "CreditNotes",
         "down_payments": "DownPayments", "incoming_payments": "IncomingPayments", "outgoing_payments": "VendorPayments"}
# Keys start with the entity: DocEntry and CardCode are numbered per company database, so two companies
# (two entities) hold the same DocEntry 1 and, keyed by it alone, the second load would replace the first's rows.
# What each resource's rows must read as (its date and money columns); a row that does not is quarantined rather
# than loaded into a dlt variant column (doc_date__v_text) that leaves the real one NULL.
COLUMNS["outgoing_payment_invoices"] = COLUMNS["payment_invoices"]
FIELDS = {name: fields_of(cols) for name, cols in COLUMNS.items()}
# How a quarantined object is named (raw_quarantine.file): kind, key and the number users know it by.
KINDS = {"business_partners": "business partner", "invoices": "invoice", "credit_notes": "credit note",
         "down_payments": "down payment invoice", "incoming_payments": "incoming payment",
         "outgoing_payments": "outgoing payment"}
KEYS = {"business_partners": ("entity", "CardCode"), "invoices": ("entity", "DocEntry"),
        "credit_notes": ("entity", "DocEntry"), "down_payments": ("entity", "DocEntry"),
        "incoming_payments": ("entity", "DocEntry"), "outgoing_payments": ("entity", "DocEntry")}


def _sum(lines: Any, key: str) -> Decimal | None:
    amounts = [money(x[key]) or Decimal(0) for x in lines or [] if isinstance(x, dict) and x.get(key) is not None]
    return sum(amounts, Decimal("0")) if amounts else None


def _from_lists(obj: dict[str, Any]) -> dict[str, Any]:
    """What a raw row needs from an object's lists, which are not kept as columns.

    * a receipt's cheques and card payments, summed (``PaymentChecks[].CheckSum``,
      ``PaymentCreditCards[].CreditSum``), unless the header already carries them;
    * a credit memo's base invoice: B1 keeps it on the lines (``DocumentLines[].BaseEntry`` with
      ``BaseType`` 13, an A/R invoice), the header has none; taken when all lines name one invoice;
    * a business partner's IBAN: its default bank account's (``BPBankAccounts``), else its first.
    """
    out: dict[str, Any] = {}
    if "PaymentChecks" in obj or obj.get("CheckSum") is not None:
        out["ChecksSum"] = obj["CheckSum"] if obj.get("CheckSum") is not None else _sum(obj["PaymentChecks"], "CheckSum")
    if "PaymentCreditCards" in obj:
        out["CardsSum"] = _sum(obj["PaymentCreditCards"], "CreditSum")
    if obj.get("BaseEntry") is None and obj.get("DocumentLines"):
        bases = {line.get("BaseEntry") for line in obj["DocumentLines"]
                 if isinstance(line, dict) and str(line.get("BaseType")) == "13" and line.get("BaseEntry") is not None}
        if len(bases) == 1:
            out["BaseEntry"] = bases.pop()
    accounts = [a for a in obj.get("BPBankAccounts") or [] if isinstance(a, dict) and (a.get("IBAN") or "").strip()]
    if accounts:
        default = [a for a in accounts if obj.get("DefaultAccount") and a.get("AccountNo") == obj.get("DefaultAccount")]
        out["IBAN"] = str((default or accounts)[0]["IBAN"]).strip()
    return out


def to_row(obj: dict[str, Any], entity: str) -> dict[str, Any]:
    """One B1 object as a raw row: dates as ``YYYY-MM-DD``, ``updated_at`` from UpdateDate + UpdateTime; what
    its lists say that a row needs (:func:`_from_lists`)."""
    row = {k: v for k, v in obj.items() if not isinstance(v, list) and not k.startswith("@")}
    row.update(_from_lists(obj))
    for k, v in list(row.items()):
        if k.endswith("Date") and isinstance(v, str):
            row[k] = v[:10]
        if isinstance(v, float):  # never expected (parse_float=Decimal), but never let one through
            row[k] = Decimal(repr(v))
    row["entity"] = entity
    day = str(obj.get("UpdateDate") or "")[:10]
    row["updated_at"] = f"{day}T{obj.get('UpdateTime') or '00:00:00'}" if day else None
    return row


@dlt.source(name="sap_b1", max_table_nesting=0)
def sap_b1_source(
    entity: str,
    company_db: str = dlt.secrets.value,
    user: str = dlt.secrets.value,
    password: str = dlt.secrets.value,
    base_url: str = dlt.config.value,
    start_date: str | None = None,
    end_date: str | None = None,
    page_size: int = settings.PAGE_SIZE,
    retry_policy: RetryPolicy | None = None,
) -> list[DltResource]:
    """Customers, invoices, credit notes and incoming payments of one company database, tagged with ``entity``."""
    client = B1Client(base_url, company_db, user, password, policy=retry_policy, page_size=page_size, entity=entity)
    checks = RecordChecks("sap_b1", entity)
    scheduled = external_schedule()
    initial = (start_date or settings.DEFAULT_SINCE)[:19]

    def listing(name: str, doc: str) -> DltResource:
        def convert(obj: dict[str, Any]) -> dict[str, Any]:
            row = to_row(obj, entity)
            if name in ("incoming_payments", "outgoing_payments"):
                row["_lines"] = obj.get("PaymentInvoices") or []
            return row

        def named(obj: dict[str, Any]) -> str:
            if name == "business_partners":
                return f"business partner {obj.get('CardCode')}"
            return f"{KINDS[name]} {obj.get('DocEntry')} (DocNum {obj.get('DocNum')})"

        # "include": a quarantine row (no updated_at) passes without moving the cursor; the object it sets aside
        # is read again once corrected in B1 (its UpdateDate moves)
        def rows(updated: dlt.sources.incremental[str] = dlt.sources.incremental(
                "updated_at", initial_value=initial, end_value=end_date, allow_external_schedulers=scheduled,
                on_cursor_value_missing="include"),
                 ) -> Iterator[Any]:
            since_day = str(updated.last_value or initial)[:10]
            for page in client.pages(NAMES[name], since_day):
                yield from checks.page(page, FIELDS[name], named, convert)

        rows.__doc__ = doc + " An object whose dates or amounts do not read is quarantined."
        return with_quarantine_table(dlt.resource(rows, name=name, table_name=f"raw_sap_b1_{name}",
                                                  primary_key=KEYS[name], write_disposition="merge",
                                                  columns=COLUMNS[name]))

    partners = listing("business_partners", "Customers (CardType cCustomer); merge because terms and limits change.")
    invoices = listing("invoices", "A/R invoices; merge because PaidToDate and DocumentStatus move.")
    notes = listing("credit_notes", "A/R credit memos; merge because they are applied after issue.")
    down_payments = listing("down_payments", "A/R down payment invoices; merge because they are paid and drawn later.")
    payments = listing("incoming_payments", "Incoming payments; merge because they can be cancelled.")

    refunds = listing("outgoing_payments", "Outgoing payments to customers (refunds); merge because they can be cancelled.")

    def lines_of(payments_resource: DltResource, name: str, kind: str) -> DltResource:
        def lines(page: list[dict[str, Any]], meta: Any = None) -> Iterator[Any]:
            if is_quarantine(meta):
                return
            out = []
            for p in page:
                for line in p.pop("_lines", []):
                    out.append({"PaymentDocEntry": p["DocEntry"], "LineNum": line.get("LineNum"), "entity": entity,
                                "DocEntry": line.get("DocEntry"), "SumApplied": line.get("SumApplied"),
                                "AppliedFC": line.get("AppliedFC"),
                                "InvoiceType": line.get("InvoiceType"), "CardCode": p.get("CardCode"),
                                "PaymentDate": p.get("DocDate")})
            yield from checks.page(out, FIELDS[name], lambda r: f"{kind} {r['PaymentDocEntry']} line {r['LineNum']}")

        lines.__doc__ = (f"The documents each {kind} settles (``PaymentInvoices``), re-read with their payment and "
                         "merged by payment (``merge_key``): a line removed from the payment leaves no stale row.")
        return with_quarantine_table(dlt.transformer(
            lines, data_from=payments_resource, name=name, table_name=f"raw_sap_b1_{name}",
            primary_key=("entity", "PaymentDocEntry", "LineNum"), merge_key=("entity", "PaymentDocEntry"),
            write_disposition="merge", columns=COLUMNS[name]))

    return [partners, invoices, notes, down_payments, payments,
            lines_of(payments, "payment_invoices", "incoming payment"), refunds,
            lines_of(refunds, "outgoing_payment_invoices", "outgoing payment")]
