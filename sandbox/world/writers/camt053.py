"""ISO 20022 camt.053.001.08 bank-to-customer statements, one file per account and month.

Balances chain: each month opens (OPBD) on the previous close (CLBD); the last
statement closes on ``as_of``. Elements follow the XSD's sequence order exactly —
the schema is strict about order, and banks' files validate against it.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from lxml import etree

from sandbox.world.calendar import add_months, month_end
from sandbox.world.model import BankEntry, BankTx, Entity
from sandbox.world.writers.formats import cents_plain

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{NS}}}{tag}", attrib)
    if text is not None:
        el.text = text
    return el


def _path(parent: etree._Element, tags: str, text: str) -> etree._Element:
    el = parent
    for tag in tags.split("/"):
        el = _sub(el, tag)
    el.text = text
    return el


def _amt(parent: etree._Element, tag: str, cents: int, ccy: str) -> None:
    _sub(parent, tag, cents_plain(abs(cents)), Ccy=ccy)


def _balance(stmt: etree._Element, code: str, cents: int, ccy: str, day: date) -> None:
    bal = _sub(stmt, "Bal")
    _path(_sub(bal, "Tp"), "CdOrPrtry/Cd", code)
    _amt(bal, "Amt", cents, ccy)
    _sub(bal, "CdtDbtInd", "CRDT" if cents >= 0 else "DBIT")
    _path(bal, "Dt/Dt", day.isoformat())


def _bank_tx_code(parent: etree._Element, tx: BankTx) -> None:
    domn = _sub(_sub(parent, "BkTxCd"), "Domn")
    _sub(domn, "Cd", tx.domain)
    fmly = _sub(domn, "Fmly")
    _sub(fmly, "Cd", tx.family)
    _sub(fmly, "SubFmlyCd", tx.subfamily)


def _party(parent: etree._Element, role: str, name: str, iban: str) -> None:
    _path(_sub(parent, role), "Pty/Nm", name[:140])
    if iban:
        _path(_sub(parent, f"{role}Acct"), "Id/IBAN", iban)


def _tx_details(dtls: etree._Element, tx: BankTx, ccy: str, batch: bool) -> None:
    txd = _sub(dtls, "TxDtls")
    refs = _sub(txd, "Refs")
    _sub(refs, "EndToEndId", tx.end_to_end_id[:35] or "NOTPROVIDED")
    _amt(txd, "Amt", tx.amount_cents, ccy)
    _sub(txd, "CdtDbtInd", "CRDT" if tx.amount_cents >= 0 else "DBIT")
    if batch:
        _bank_tx_code(txd, tx)
    if tx.counterparty_name:
        parties = _sub(txd, "RltdPties")
        incoming = tx.amount_cents >= 0 and tx.kind != "return"
        _party(parties, "Dbtr" if incoming else "Cdtr", tx.counterparty_name, tx.counterparty_iban)
    if tx.ustrd or tx.creditor_ref:
        rmt = _sub(txd, "RmtInf")
        if tx.ustrd:
            _sub(rmt, "Ustrd", tx.ustrd[:140])
        if tx.creditor_ref:
            cri = _sub(_sub(rmt, "Strd"), "CdtrRefInf")
            tp = _sub(cri, "Tp")
            _path(tp, "CdOrPrtry/Cd", "SCOR")
            _sub(tp, "Issr", "ISO")
            _sub(cri, "Ref", tx.creditor_ref)
    if tx.return_reason:
        _path(_sub(txd, "RtrInf"), "Rsn/Cd", tx.return_reason)


def _entry(stmt: etree._Element, entry: BankEntry, ccy: str) -> None:
    ntry = _sub(stmt, "Ntry")
    total = entry.amount_cents
    _amt(ntry, "Amt", total, ccy)
    _sub(ntry, "CdtDbtInd", "CRDT" if total >= 0 else "DBIT")
    _path(ntry, "Sts/Cd", "BOOK")
    _path(ntry, "BookgDt/Dt", entry.booking_date.isoformat())
    _path(ntry, "ValDt/Dt", entry.value_date.isoformat())
    _sub(ntry, "AcctSvcrRef", entry.acct_svcr_ref)
    _bank_tx_code(ntry, entry.txs[0])
    dtls = _sub(ntry, "NtryDtls")
    batch = len(entry.txs) > 1
    if batch:
        btch = _sub(dtls, "Btch")
        _sub(btch, "NbOfTxs", str(len(entry.txs)))
        _amt(btch, "TtlAmt", total, ccy)
        _sub(btch, "CdtDbtInd", "CRDT" if total >= 0 else "DBIT")
    for tx in entry.txs:
        _tx_details(dtls, tx, ccy, batch)
    info = entry.additional_info or entry.txs[0].ustrd or entry.txs[0].counterparty_name
    if info:
        _sub(ntry, "AddtlNtryInf", info[:500])


def statement_xml(entity: Entity, month: date, entries: list[BankEntry], opening: int, as_of: date, seq: int) -> bytes:
    """One month's statement; ``month`` is its first day."""
    end = min(month_end(month), as_of)
    ccy = entity.currency
    root = etree.Element(f"{{{NS}}}Document", nsmap={None: NS})
    doc = _sub(root, "BkToCstmrStmt")
    created = f"{min(end + timedelta(days=1), as_of + timedelta(days=1)).isoformat()}T06:00:00+00:00"
    hdr = _sub(doc, "GrpHdr")
    _sub(hdr, "MsgId", f"CAMT053-{entity.code}-{month:%Y%m}")
    _sub(hdr, "CreDtTm", created)
    stmt = _sub(doc, "Stmt")
    _sub(stmt, "Id", f"{entity.code}-{month:%Y-%m}")
    _sub(stmt, "ElctrncSeqNb", str(seq))
    _sub(stmt, "CreDtTm", created)
    period = _sub(stmt, "FrToDt")
    _sub(period, "FrDtTm", f"{month.isoformat()}T00:00:00+00:00")
    _sub(period, "ToDtTm", f"{end.isoformat()}T23:59:59+00:00")
    acct = _sub(stmt, "Acct")
    _path(acct, "Id/IBAN", entity.iban)
    _sub(acct, "Ccy", ccy)
    _path(acct, "Ownr/Nm", entity.name)
    _path(acct, "Svcr/FinInstnId/BICFI", entity.bic)
    closing = opening + sum(e.amount_cents for e in entries)
    _balance(stmt, "OPBD", opening, ccy, month)
    _balance(stmt, "CLBD", closing, ccy, end)
    summary = _sub(stmt, "TxsSummry")
    ttl = _sub(summary, "TtlNtries")
    _sub(ttl, "NbOfNtries", str(len(entries)))
    for e in entries:
        _entry(stmt, e, ccy)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def write_statements(root: Path, entity: Entity, entries: list[BankEntry], start: date, as_of: date,
                     opening: int) -> list[Path]:
    """Write one statement per month from ``start``'s month to ``as_of``'s; returns the paths."""
    by_month: dict[date, list[BankEntry]] = {}
    for e in entries:
        by_month.setdefault(date(e.booking_date.year, e.booking_date.month, 1), []).append(e)
    paths = []
    month, seq, balance = date(start.year, start.month, 1), 1, opening
    root.mkdir(parents=True, exist_ok=True)
    while month <= as_of:
        mine = by_month.get(month, [])
        path = root / f"{entity.iban}_{month:%Y-%m}.xml"
        path.write_bytes(statement_xml(entity, month, mine, balance, as_of, seq))
        balance += sum(e.amount_cents for e in mine)
        paths.append(path)
        month, seq = add_months(month, 1), seq + 1
    return paths
