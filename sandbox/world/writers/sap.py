"""SAP customer line items (BSID open, BSAD cleared) and the customer master, as table downloads.

``;`` separated, UTF-8 with BOM (what SAP GUI writes for Excel), technical field
names as headers, German numbers ``1.234,56`` unsigned with the sign in SHKZG
(S = debit, H = credit), dates ``dd.mm.yyyy``. Streams rows, for million-line tests.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sandbox.world.model import EntityWorld
from sandbox.world.writers.formats import cents_german, ddmmyyyy

SAP_COLUMNS = (
    "BUKRS", "KUNNR", "GJAHR", "BELNR", "BUZEI", "BLART", "BLDAT", "BUDAT", "ZFBDT", "ZBD1T", "ZBD2T", "ZBD3T",
    "WAERS", "WRBTR", "DMBTR", "SHKZG", "XBLNR", "ZUONR", "AUGBL", "AUGDT", "SGTXT",
)
CUSTOMER_COLUMNS = ("KUNNR", "NAME1", "SMTP_ADDR", "STCEG", "ZTERM_DAYS", "IBAN", "LAND1", "KLIMK", "SACHB")


@dataclass(slots=True)
class SapItem:
    bukrs: str
    kunnr: str
    belnr: str
    blart: str
    bldat: date
    budat: date
    zfbdt: date
    zbd1t: int
    waers: str
    amount_cents: int  # signed: debit positive
    xblnr: str
    zuonr: str
    sgtxt: str
    augbl: str = ""
    augdt: date | None = None
    buzei: str = "001"

    def row(self) -> list[str]:
        amount = cents_german(self.amount_cents)
        return [
            self.bukrs, self.kunnr, str(self.budat.year), self.belnr, self.buzei, self.blart, ddmmyyyy(self.bldat),
            ddmmyyyy(self.budat), ddmmyyyy(self.zfbdt), str(self.zbd1t), "0", "0", self.waers, amount, amount,
            "S" if self.amount_cents >= 0 else "H", self.xblnr[:16], self.zuonr[:18], self.augbl,
            ddmmyyyy(self.augdt), self.sgtxt[:50],
        ]


def write_sap_items(path: Path, items: Iterable[SapItem]) -> int:
    """Stream items to a BSID/BSAD-style CSV; returns the number of rows written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(SAP_COLUMNS)
        for item in items:
            w.writerow(item.row())
            n += 1
    return n


def sap_items(world: EntityWorld) -> list[SapItem]:
    """RV invoices, G2 credit notes and DZ receipts of a SAP entity, with clearing where the ERP matched."""
    code = world.entity.code
    out: list[SapItem] = []
    for d in world.documents:
        clearing = d.clearing.erp_doc_no if d.clearing is not None else ""
        invoice = d.doc_type == "invoice"
        text = (f"Rechnung {d.number}" if invoice else f"Gutschrift zu {d.po_number}")
        out.append(SapItem(
            bukrs=code, kunnr=d.customer.customer_id, belnr=d.erp_doc_no, blart="RV" if invoice else "G2",
            bldat=d.issue_date, budat=d.issue_date, zfbdt=d.issue_date, zbd1t=d.customer.terms_days if invoice else 0,
            waers=world.entity.currency, amount_cents=d.total_cents, xblnr=d.number,
            zuonr=d.po_number, sgtxt=text, augbl=clearing, augdt=d.date_let if clearing else None,
        ))
    for rc in world.receipts:
        if rc.suspense:
            continue
        tx = rc.tx
        single = rc.documents[0].number if len(rc.documents) == 1 and tx.style == "exact" else ""
        out.append(SapItem(
            bukrs=code, kunnr=rc.customer.customer_id, belnr=rc.erp_doc_no, blart="DZ", bldat=rc.booking_date,
            budat=rc.booking_date, zfbdt=rc.booking_date, zbd1t=0, waers=world.entity.currency,
            amount_cents=-rc.amount_cents, xblnr=(tx.ustrd or tx.creditor_ref)[:16],
            zuonr=single or (tx.ustrd or tx.creditor_ref)[:18], sgtxt=f"Zahlungseingang {tx.counterparty_name}",
            augbl=rc.erp_doc_no if rc.cleared else "", augdt=rc.booking_date if rc.cleared else None,
        ))
    out.sort(key=lambda i: (i.kunnr, i.budat.year, i.belnr))
    return out


def write_sap_customers(path: Path, world: EntityWorld) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(CUSTOMER_COLUMNS)
        for c in world.customers:
            w.writerow([c.customer_id, c.name, c.email, c.vat_id, c.terms_days, c.iban, c.country,
                        cents_german(c.credit_limit_cents), c.account_owner])
    return len(world.customers)
