"""FEC — Fichier des Écritures Comptables (article A47 A-1 of the Livre des procédures fiscales).

18 tab-separated columns with a header line, dates ``AAAAMMJJ``, decimal comma and
no thousands separator; every entry (``EcritureNum``) balances. Written as a
stream so a million-invoice year never sits in memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sandbox.world.model import EntityWorld
from sandbox.world.writers.formats import cents_plain, yyyymmdd

FEC_COLUMNS = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "CompAuxNum",
    "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit", "EcritureLet", "DateLet",
    "ValidDate", "Montantdevise", "Idevise",
)
JOURNALS = {"VE": "Journal des ventes", "BQ": "Banque BNP Paribas"}
ACCOUNTS = {
    "411000": "Clients", "706000": "Prestations de services", "445710": "TVA collectée",
    "512000": "Banque BNP Paribas", "467100": "Stripe - fonds à recevoir", "467200": "GoCardless - fonds à recevoir",
    "471000": "Compte d'attente", "401000": "Fournisseurs", "627000": "Services bancaires et assimilés",
}


@dataclass(slots=True)
class FecLine:
    compte: str
    debit: int = 0
    credit: int = 0
    aux_num: str = ""
    aux_lib: str = ""
    letter: str = ""
    date_let: date | None = None


@dataclass(slots=True)
class FecEntry:
    journal: str
    day: date
    piece_ref: str
    lib: str
    valid_date: date
    lines: list[FecLine] = field(default_factory=list)
    piece_date: date | None = None


def _clean(text: str) -> str:
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def write_fec(path: Path, entries: Iterable[FecEntry], *, encoding: str = "utf-8") -> int:
    """Stream ``entries`` (in date order) to ``path``; EcritureNum runs per journal. Returns lines written.

    Raises ``ValueError`` on an unbalanced entry: a FEC that does not balance is refused by the tax office.
    """
    counters: dict[str, int] = {}
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding=encoding, errors="replace", newline="") as fh:
        fh.write("\t".join(FEC_COLUMNS) + "\r\n")
        buf: list[str] = []
        for e in entries:
            if sum(li.debit for li in e.lines) != sum(li.credit for li in e.lines):
                raise ValueError(f"unbalanced FEC entry {e.journal} {e.piece_ref} on {e.day}")
            counters[e.journal] = counters.get(e.journal, 0) + 1
            num = f"{e.journal}{e.day.year}{counters[e.journal]:07d}"
            for li in e.lines:
                buf.append("\t".join((
                    e.journal, JOURNALS.get(e.journal, e.journal), num, yyyymmdd(e.day), li.compte,
                    ACCOUNTS.get(li.compte, li.compte), li.aux_num, _clean(li.aux_lib), _clean(e.piece_ref),
                    yyyymmdd(e.piece_date or e.day), _clean(e.lib), cents_plain(li.debit, ","),
                    cents_plain(li.credit, ","), li.letter, yyyymmdd(li.date_let), yyyymmdd(e.valid_date), "", "",
                )))
                written += 1
            if len(buf) >= 5000:
                fh.write("\r\n".join(buf) + "\r\n")
                buf.clear()
        if buf:
            fh.write("\r\n".join(buf) + "\r\n")
    return written


def fec_entries(world: EntityWorld, as_of: date, rng: random.Random) -> list[FecEntry]:
    """Sales (VE) and bank (BQ) entries of a Sage entity, in date order."""
    out: list[tuple[date, int, str, FecEntry]] = []

    def valid(day: date) -> date:
        return min(as_of, date.fromordinal(day.toordinal() + rng.randint(0, 3)))

    for d in world.documents:
        c = d.customer
        label = ("Facture " if d.doc_type == "invoice" else "Avoir ") + f"{d.number} {c.name}"
        lines = [
            FecLine("411000", debit=max(d.total_cents, 0), credit=max(-d.total_cents, 0), aux_num=c.customer_id,
                    aux_lib=c.name, letter=d.letter, date_let=d.date_let),
            FecLine("706000", debit=max(-d.net_cents, 0), credit=max(d.net_cents, 0)),
            FecLine("445710", debit=max(-d.vat_cents, 0), credit=max(d.vat_cents, 0)),
        ]
        out.append((d.issue_date, 0, d.number, FecEntry("VE", d.issue_date, d.number, label, valid(d.issue_date), lines)))
    receipts = {id(r.tx): r for r in world.receipts}
    for entry in world.bank_entries:
        for tx in entry.txs:
            amt = tx.amount_cents
            e = FecEntry("BQ", tx.booking_date, tx.ref, "", valid(tx.booking_date))
            if tx.kind == "customer":
                rc = receipts[id(tx)]
                e.lib = f"VIR {tx.counterparty_name} {tx.ustrd or tx.creditor_ref}".strip()[:100]
                bank_line = FecLine("512000", debit=amt)
                if rc.suspense:
                    e.lines = [bank_line, FecLine("471000", credit=amt)]
                else:
                    e.lines = [bank_line, FecLine("411000", credit=amt, aux_num=rc.customer.customer_id,
                                                  aux_lib=rc.customer.name, letter=rc.letter,
                                                  date_let=rc.booking_date if rc.letter else None)]
            elif tx.kind in ("stripe_payout", "gc_payout"):
                e.lib = f"{'Virement Stripe' if tx.kind == 'stripe_payout' else 'Virement GoCardless'} " \
                        f"{tx.payout.payout_id}"
                e.piece_ref = tx.payout.payout_id
                e.lines = [FecLine("512000", debit=amt),
                           FecLine("467100" if tx.kind == "stripe_payout" else "467200", credit=amt)]
            elif tx.kind == "supplier":
                e.lib = f"Règlement {tx.counterparty_name} {tx.ustrd}"
                e.lines = [FecLine("401000", debit=-amt), FecLine("512000", credit=-amt)]
            elif tx.kind == "return":
                e.lib = f"Retour virement {tx.counterparty_name} {tx.return_reason}"
                e.lines = [FecLine("512000", debit=amt), FecLine("401000", credit=amt)]
            else:  # bank fees
                e.lib = tx.ustrd
                e.lines = [FecLine("627000", debit=-amt), FecLine("512000", credit=-amt)]
            out.append((tx.booking_date, 1, tx.ref, e))
    out.sort(key=lambda t: (t[0], t[1], t[2]))
    return [t[3] for t in out]


def fec_filename(siren: str, year: int) -> str:
    """``<SIREN>FEC<closing date>.txt`` — fiscal year = calendar year, closing on 31 December."""
    return f"{siren}FEC{year}1231.txt"


def entries_by_year(entries: Iterable[FecEntry]) -> Iterator[tuple[int, list[FecEntry]]]:
    current: list[FecEntry] = []
    year: int | None = None
    for e in entries:
        if year is not None and e.day.year != year:
            yield year, current
            current = []
        year = e.day.year
        current.append(e)
    if year is not None:
        yield year, current
