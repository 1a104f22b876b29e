"""The sample world in memory: entities, customers, documents, payments, payouts, bank lines.

Amounts are integer cents (the currency is the entity's), so every sum is exact;
writers turn cents into each format's own notation. Objects that are paid or
booked later carry a mutable ``ref`` filled in once the bank statement or the
provider assigns it, so ground truth can point at the final identifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Entity:
    """A legal entity of the group; add one to ``entities.ENTITIES`` to grow the world."""

    code: str
    name: str
    country: str
    currency: str
    erp: str  # "sage_fec" | "sap_export" | "sage_accounting" | "netsuite" | "sap_b1"
    iban: str
    bic: str
    bank_name: str
    vat_id: str
    vat_rate_pct: int
    invoice_prefix: str
    credit_prefix: str
    seq_width: int
    siren: str | None = None
    city: str = ""

    @property
    def stripe_api_key(self) -> str:
        return f"sk_test_sandbox_{self.code}"

    @property
    def gocardless_access_token(self) -> str:
        return f"sandbox_{self.code}_token"


@dataclass(slots=True)
class Customer:
    entity: str
    customer_id: str
    name: str
    legal_form: str
    email: str
    vat_id: str
    siren: str | None
    iban: str
    country: str
    city: str
    postcode: str
    terms_days: int
    credit_limit_cents: int
    behaviour: str  # punctual | occasional_late | chronic_late | at_risk
    channel: str  # bank_transfer | stripe | gocardless
    account_owner: str
    payer_name: str  # who appears on the bank line (parent company for subsidiaries)
    payer_iban: str
    parent_name: str | None = None
    stripe_customer_id: str | None = None
    stripe_customer_created: int = 0
    gc_customer_id: str | None = None
    gc_bank_account_id: str | None = None
    gc_mandate_id: str | None = None
    gc_mandate_reference: str | None = None
    gc_created: date | None = None


@dataclass(slots=True)
class Document:
    """An invoice or a credit note (``total_cents`` negative for credit notes)."""

    entity: str
    number: str
    customer: Customer
    doc_type: str  # invoice | credit_note
    issue_date: date
    due_date: date
    net_cents: int
    vat_cents: int
    total_cents: int
    po_number: str = ""
    disputed: bool = False
    credits: Document | None = None  # for a credit note: the invoice it nets
    credit_notes: list[Document] = field(default_factory=list)
    allocations: list[Allocation] = field(default_factory=list)
    erp_doc_no: str = ""  # SAP BELNR
    letter: str = ""  # FEC EcritureLet
    date_let: date | None = None
    clearing: Any = None  # the ErpReceipt that clears it in SAP


@dataclass(slots=True)
class Allocation:
    """Ground truth: ``amount_cents`` of ``payment`` settles ``document``.

    ``payment`` is anything with a ``ref`` attribute (bank transaction, Stripe charge,
    GoCardless payment, or a credit note document whose ref is its number).
    """

    source: str  # bank | stripe | gocardless | erp
    payment: Any
    document: Document
    amount_cents: int
    kind: str  # full | partial | short | grouped | overpayment | credit_note


@dataclass(slots=True)
class BankTx:
    """One transaction on the bank account (inside an entry, alone or in a batch)."""

    booking_date: date
    amount_cents: int  # credits positive
    counterparty_name: str
    counterparty_iban: str
    domain: str = "PMNT"
    family: str = "RCDT"
    subfamily: str = "ESCT"
    ustrd: str = ""
    creditor_ref: str = ""
    end_to_end_id: str = "NOTPROVIDED"
    return_reason: str = ""
    kind: str = "customer"  # customer | stripe_payout | gc_payout | supplier | fee | return
    customer: Customer | None = None
    documents: list[Document] = field(default_factory=list)
    ref: str = ""  # bank_line_id (AcctSvcrRef, or AcctSvcrRef/n inside a batch)
    payout: Any = None
    style: str = ""  # how the remittance was written (exact, variant, typo, missing, grouped, rf)


@dataclass(slots=True)
class BankEntry:
    booking_date: date
    value_date: date
    txs: list[BankTx]
    acct_svcr_ref: str = ""
    additional_info: str = ""

    @property
    def amount_cents(self) -> int:
        return sum(tx.amount_cents for tx in self.txs)


@dataclass(slots=True)
class ErpReceipt:
    """A customer receipt booked in the ERP (FEC BQ entry / SAP DZ document)."""

    tx: BankTx
    customer: Customer
    documents: list[Document]
    amount_cents: int
    booking_date: date
    letter: str = ""
    erp_doc_no: str = ""
    cleared: bool = False
    suspense: bool = False  # booked on 471000 because nobody knew whose it was


@dataclass(slots=True)
class Payout:
    entity: str
    source: str  # stripe | gocardless
    payout_id: str
    created: date
    arrival_date: date
    amount_cents: int
    fees_cents: int
    reference: str
    status: str
    bank_tx: BankTx | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class EntityWorld:
    """Everything generated for one entity."""

    entity: Entity
    customers: list[Customer]
    documents: list[Document]
    bank_entries: list[BankEntry]
    receipts: list[ErpReceipt]
    payouts: list[Payout]
    stripe: dict[str, list[dict[str, Any]]]
    gocardless: dict[str, list[dict[str, Any]]]
    other_bank: list[BankTx] = field(default_factory=list)
    erp_api: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # API ERPs: object type -> objects


@dataclass(slots=True)
class WorldSummary:
    """What ``write_world`` produced: counts per entity and source, and every path written."""

    root: Path
    seed: int
    size: str | int
    as_of: date
    counts: dict[str, dict[str, int]]
    paths: list[Path]
