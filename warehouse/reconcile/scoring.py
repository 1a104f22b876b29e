"""Quality of a reconciliation against an answer key (the sample world's ground truth).

The answer key is three CSV files any book generator can write
(``ground_truth/{invoices,allocations}.csv``: which payment settled which
invoice for how much, and what each invoice still owes). Scoring reads them and
the warehouse's ``fct_match``/``fct_invoice``/``fct_reconciliation_exception``
and answers the questions of issue 6:

* **precision** of automatic matches (auto or confirmed pairs whose invoice the
  key names for that payment; a credit note netted by a payment counts as right
  when the key credits it to one of that payment's invoices);
* **envelope recall**: share of the key's payments fully and correctly applied
  automatically (same invoices, same amounts);
* **line recall**: share of the key's (payment, invoice) applications found;
* **outcomes**: every money-moving payment in exactly one of fully applied,
  partially applied with its remainder explained by an open exception, or an
  exception (for a failed payment, also one closed because its invoice was since
  paid: there is nothing left to chase); anything else is ``unexplained`` and must be zero;
* **open amount** per entity, warehouse against key: equal when every payment
  is applied; the difference is then exactly the cash not (yet) applied, so the
  **balance net of unapplied cash** (what the customer ledger shows whatever the
  lettering) must be equal always: it checks how short payments, refunds,
  chargebacks and credit notes leave invoices;
* **as finance reads it**: when the marts are built, the entity's encours
  (``mart_open_receivables``) minus its unapplied cash (``mart_unapplied_cash``)
  against the key's open amount net of the cash the key itself leaves unapplied
  (overpayments): the Done-when of issue 4, measured on what finance reads
  rather than recomputed here.

It reads only files and the warehouse, so benchmarks and tests share it; the
generator itself stays out of product code.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from warehouse.engine import Engine
from warehouse.sql import paid_back_by_payment, refunded_by_payment

ZERO = Decimal("0")
OUTCOMES = ("fully_applied", "partially_applied_explained", "exception", "unexplained")


@dataclass
class GroundTruth:
    """The answer key of one book, restricted to some entities."""

    allocations: dict[tuple[str, str], dict[str, Decimal]]   # (entity, payment ref) -> invoice number -> amount
    credited: dict[tuple[str, str], str]                     # (entity, credit note number) -> invoice number
    open_amount: dict[str, Decimal]                          # entity -> sum of amount_open


@dataclass
class QualityScore:
    auto_pairs: int = 0
    wrong_pairs: int = 0
    payments_in_key: int = 0
    payments_correct: int = 0
    lines_in_key: int = 0
    lines_found: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    open_warehouse: dict[str, Decimal] = field(default_factory=dict)
    open_truth: dict[str, Decimal] = field(default_factory=dict)
    unapplied_warehouse: dict[str, Decimal] = field(default_factory=dict)   # cash received, not (yet) applied
    unapplied_truth: dict[str, Decimal] = field(default_factory=dict)
    encours: dict[str, Decimal] = field(default_factory=dict)          # mart_open_receivables, per entity
    unapplied_mart: dict[str, Decimal] = field(default_factory=dict)   # mart_unapplied_cash, per entity
    wrong: list[tuple[str, str, str, Decimal, str]] = field(default_factory=list)   # entity, payment, invoice, amount, rule
    missed: list[tuple[str, str, dict[str, Decimal], dict[str, Decimal]]] = field(default_factory=list)
    unexplained: list[tuple[str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return 1 - self.wrong_pairs / self.auto_pairs if self.auto_pairs else 1.0

    @property
    def envelope_recall(self) -> float:
        return self.payments_correct / self.payments_in_key if self.payments_in_key else 1.0

    @property
    def line_recall(self) -> float:
        return self.lines_found / self.lines_in_key if self.lines_in_key else 1.0

    @property
    def open_equal(self) -> bool:
        keys = set(self.open_warehouse) | set(self.open_truth)
        return all(self.open_warehouse.get(k, ZERO) == self.open_truth.get(k, ZERO) for k in keys)

    def balance(self, entity: str, *, truth: bool) -> Decimal:
        """Receivables net of unapplied cash: what the customer ledger shows, whatever the lettering."""
        if truth:
            return self.open_truth.get(entity, ZERO) - self.unapplied_truth.get(entity, ZERO)
        return self.open_warehouse.get(entity, ZERO) - self.unapplied_warehouse.get(entity, ZERO)

    @property
    def balance_equal(self) -> bool:
        keys = set(self.open_warehouse) | set(self.open_truth)
        return all(self.balance(k, truth=False) == self.balance(k, truth=True) for k in keys)

    def as_read(self, entity: str) -> Decimal | None:
        """Encours minus unapplied cash as the marts show them (None when the marts were not built)."""
        if not self.encours:
            return None
        return self.encours.get(entity, ZERO) - self.unapplied_mart.get(entity, ZERO)

    @property
    def as_read_equal(self) -> bool:
        """Per entity, the marts' encours net of unapplied cash equals the key's (False without marts)."""
        keys = set(self.open_warehouse) | set(self.open_truth)
        return bool(self.encours) and all(self.as_read(k) == self.balance(k, truth=True) for k in keys)

    def table(self) -> str:
        """A plain-text table for benchmarks and logs."""
        total = sum(self.outcomes.values()) or 1
        rows = [
            ("auto-applied pairs", f"{self.auto_pairs}", f"wrong {self.wrong_pairs}"),
            ("precision (auto)", f"{self.precision:.4f}", "target >= 0.995"),
            ("envelope recall", f"{self.envelope_recall:.4f}",
             f"{self.payments_correct}/{self.payments_in_key} payments fully and correctly applied; target >= 0.97"),
            ("line recall", f"{self.line_recall:.4f}", f"{self.lines_found}/{self.lines_in_key} applications found"),
        ]
        rows += [(f"outcome: {k}", f"{self.outcomes.get(k, 0)}", f"{self.outcomes.get(k, 0) / total:.1%}")
                 for k in OUTCOMES]
        for entity in sorted(set(self.open_warehouse) | set(self.open_truth)):
            wh, gt = self.open_warehouse.get(entity, ZERO), self.open_truth.get(entity, ZERO)
            rows.append((f"open invoices {entity}", f"{wh:,.2f}",
                         f"truth {gt:,.2f} ({'EQUAL' if wh == gt else f'diff {wh - gt:,.2f}: unapplied cash'})"))
            wb, gb = self.balance(entity, truth=False), self.balance(entity, truth=True)
            rows.append((f"balance net of unapplied cash {entity}", f"{wb:,.2f}",
                         f"truth {gb:,.2f} ({'EQUAL' if wb == gb else f'diff {wb - gb:,.2f}'})"))
            read = self.as_read(entity)
            if read is not None:
                rows.append((f"encours - unapplied cash (marts) {entity}", f"{read:,.2f}",
                             (f"truth {gb:,.2f} ({'EQUAL' if read == gb else f'diff {read - gb:,.2f}'}); "
                              f"unapplied cash {self.unapplied_mart.get(entity, ZERO):,.2f}")))
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{a:<{width}}  {b:>14}  {c}" for a, b, c in rows)


def read_ground_truth(folder: Path, entities: set[str] | None = None) -> GroundTruth:
    """Read ``invoices.csv`` and ``allocations.csv`` of ``folder`` (only ``entities`` if given)."""
    allocations: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    credited: dict[tuple[str, str], str] = {}
    with (folder / "allocations.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if entities is not None and r["entity"] not in entities:
                continue
            if r["payment_source"] == "erp":   # a credit note applied or a difference written off: not a payment
                if r["kind"] == "credit_note":
                    credited[(r["entity"], r["payment_ref"])] = r["invoice_number"]
                continue
            per = allocations[(r["entity"], r["payment_ref"])]
            per[r["invoice_number"]] = per.get(r["invoice_number"], ZERO) + Decimal(r["amount_applied"])
    open_amount: dict[str, Decimal] = defaultdict(lambda: ZERO)
    with (folder / "invoices.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if entities is None or r["entity"] in entities:
                open_amount[r["entity"]] += Decimal(r["amount_open"])
    return GroundTruth(dict(allocations), credited, dict(open_amount))


def warehouse_entities(engine: Engine) -> set[str]:
    return {str(r[0]) for r in engine.query("SELECT DISTINCT entity FROM fct_invoice")}


def score(engine: Engine, truth: GroundTruth) -> QualityScore:
    """Score the warehouse's current reconciliation against ``truth``."""
    s = QualityScore()
    entities = warehouse_entities(engine)
    found: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    rows = engine.query(
        "SELECT m.entity, m.payment_id, i.invoice_number, i.doc_type, m.amount_applied, m.rule "
        "FROM fct_match AS m JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
        "WHERE m.state IN ('auto', 'confirmed') AND m.rule NOT IN ('credit_note', 'erp_lettrage', 'credit_note_refund')")
    netted: list[tuple[str, str, str, Decimal]] = []
    for entity, payment, number, doc_type, amount, rule in rows:
        amount = Decimal(amount)
        s.auto_pairs += 1
        key = truth.allocations.get((entity, payment), {})
        right = (truth.credited.get((entity, number)) in key) if doc_type == "credit_note" else number in key
        if not right:
            s.wrong_pairs += 1
            s.wrong.append((entity, payment, number, amount, rule))
        if doc_type != "credit_note":
            found[(entity, payment)][number] = found[(entity, payment)].get(number, ZERO) + amount
        elif right:
            netted.append((entity, payment, truth.credited[(entity, number)], amount))
    # A credit note the payment netted (a remittance naming it, a payer deducting it) is, in the key, the credit
    # note crediting that invoice and the payment paying its net: the same money. The payment's application to
    # the invoice is compared net of it.
    for entity, payment, invoice, amount in netted:
        found[(entity, payment)][invoice] = found[(entity, payment)].get(invoice, ZERO) + amount
    for (entity, payment), want in truth.allocations.items():
        if entity not in entities:
            continue
        got = found.get((entity, payment), {})
        s.payments_in_key += 1
        s.lines_in_key += len(want)
        s.lines_found += sum(1 for n in want if n in got)
        if got == want:
            s.payments_correct += 1
        else:
            s.missed.append((entity, payment, want, dict(got)))
    _outcomes(engine, s, truth)
    s.open_truth = {e: v for e, v in truth.open_amount.items() if e in entities}
    s.open_warehouse = {str(e): Decimal(v) for e, v in engine.query(
        "SELECT entity, sum(amount_open) FROM fct_invoice GROUP BY entity")}
    if engine.table_exists("mart_open_receivables") and engine.table_exists("mart_unapplied_cash"):
        s.encours = {str(e): Decimal(v) for e, v in engine.query(
            "SELECT entity, sum(amount_open) FROM mart_open_receivables GROUP BY entity")}
        s.unapplied_mart = {str(e): Decimal(v) for e, v in engine.query(
            "SELECT entity, sum(amount_unapplied) FROM mart_unapplied_cash GROUP BY entity")}
    return s


def _outcomes(engine: Engine, s: QualityScore, truth: GroundTruth) -> None:
    """Classify every payment that moved money (failed card attempts and pending ones did not)."""
    rows = engine.query(
        "SELECT p.entity, p.payment_id, p.amount - coalesce(r.refunded, 0) - coalesce(b.paid_back, 0), p.status, "
        "coalesce(a.applied, 0), "
        "CASE WHEN e.payment_id IS NULL THEN 0 ELSE 1 END, CASE WHEN x.payment_id IS NULL THEN 0 ELSE 1 END "
        "FROM fct_payment AS p "
        "LEFT JOIN (SELECT entity, payment_id, sum(amount_applied) AS applied FROM fct_match "
        "           WHERE state IN ('auto', 'confirmed') AND rule <> 'credit_note' GROUP BY entity, payment_id) AS a "
        "  ON a.entity = p.entity AND a.payment_id = p.payment_id "
        "LEFT JOIN (SELECT DISTINCT entity, payment_id FROM fct_reconciliation_exception "
        "           WHERE resolved_at IS NULL AND payment_id IS NOT NULL) AS e "
        "  ON e.entity = p.entity AND e.payment_id = p.payment_id "
        # (a failed payment's exception closed because its invoice was since paid still ends it)
        "LEFT JOIN (SELECT DISTINCT entity, payment_id FROM fct_reconciliation_exception "
        "           WHERE payment_id IS NOT NULL AND detail LIKE '%[closed: settled since]') AS x "
        "  ON x.entity = p.entity AND x.payment_id = p.payment_id "
        "LEFT JOIN (" + refunded_by_payment() + ") AS r "
        "  ON r.entity = p.entity AND r.payment_id = p.payment_id "
        # (an overpayment's excess paid back to the payer: the rest is the whole payment)
        "LEFT JOIN (" + paid_back_by_payment() + ") AS b "
        "  ON b.entity = p.entity AND b.payment_id = p.payment_id "
        "WHERE p.channel <> 'erp' AND p.payment_id NOT IN "
        "  (SELECT bank_line_id FROM fct_payout WHERE bank_line_id IS NOT NULL) "
        "AND (p.status IN ('succeeded', 'charged_back', 'refunded') OR (p.status = 'failed' AND p.channel <> 'stripe'))")
    counts = dict.fromkeys(OUTCOMES, 0)
    unapplied_wh: dict[str, Decimal] = defaultdict(lambda: ZERO)
    unapplied_gt: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entity, payment, amount, status, applied, has_exc, settled_since in rows:
        amount, applied = Decimal(amount), Decimal(applied)
        if status == "succeeded" and amount > 0:
            unapplied_wh[entity] += amount - applied
            unapplied_gt[entity] += amount - sum(truth.allocations.get((entity, payment), {}).values(), ZERO)
        if status != "succeeded" or amount <= 0:   # failed, charged back, refunded in full
            outcome = "exception" if has_exc or settled_since else "unexplained"
        elif applied == amount and applied > 0:
            outcome = "fully_applied"
        elif ZERO < applied < amount and has_exc:
            outcome = "partially_applied_explained"
        elif applied == 0 and has_exc:
            outcome = "exception"
        else:
            outcome = "unexplained"
        counts[outcome] += 1
        if outcome == "unexplained":
            s.unexplained.append((entity, payment))
    s.outcomes = counts
    s.unapplied_warehouse, s.unapplied_truth = dict(unapplied_wh), dict(unapplied_gt)
