"""The residue: payments the set-based cascade could not settle, searched in Python.

Only what needs search lands here (typically a few percent): payments with no
usable reference, ambiguous references, references shared in ways a window
function cannot allocate. They are read in one batch, worked in payment-date
order against an in-memory book of open items (so two payments never take the
same money), and written back in one batch.

Rules, in order: ambiguous/complex references, the ERP's receipt of the same money (its
lettrage names the invoices), fuzzy reference (same customer or same amount), then per candidate customer (from the payment, IBAN, learned
aliases, fuzzy name): one open item of the amount (``customer_amount`` or
``learned_alias``), one item within short-payment tolerance, the oldest items
summing to the amount, a bounded subset-sum. Two or more equal fits are never
auto-applied: they become suggestions with an ``ambiguous`` exception.
"""

from __future__ import annotations

import hashlib
import math
import re
from bisect import bisect_left, insort
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter
from typing import Any

from mappings.matching import MatchingRules
from warehouse.reconcile import fuzzy
from warehouse.reconcile.decisions import normalize_name
from warehouse.reconcile.names import CustomerNames
from warehouse.reconcile.references import (
    KIND_RULE,
    TAIL,
    YEAR_TAIL,
    invoice_keys,
    normalized,
    token_keys,
    tokens,
)
from warehouse.reconcile.subset import oldest_prefix, subset_sum

CENT = Decimal("0.01")
# Rules whose matches 15_credit_notes and 16_erp_settled already take off rc_inv.open0 (SQL list).
NETTED_IN_OPEN0 = "('credit_note', 'erp_lettrage', 'credit_note_refund')"
# Rules whose matches every run lays again from its inputs, full or incremental (15_credit_notes: credit notes set
# against invoices, credit notes paid back): an incremental run replaces them rather than keeping them (SQL list).
REAPPLIED = "('credit_note', 'credit_note_refund')"
MAX_SUGGESTIONS = 5


@lru_cache(maxsize=65536)
def _tokens(reference: str | None, tags: tuple[str, ...]) -> tuple[str, ...]:
    """references.tokens, once per distinct remittance: a payment is placed up to twice (second chance)."""
    return tuple(tokens(reference, tags))


def payment_tokens(p: Payment, rules: MatchingRules) -> tuple[str, ...]:
    """The reference tokens of ``p``'s remittance, bank field codes read as the rules say."""
    return _tokens(p.reference, rules.reference.remittance_tags)


@lru_cache(maxsize=65536)
def _says_on_account(reference: str | None, phrases: tuple[str, ...]) -> bool:
    if not reference or not phrases:
        return False
    words = " " + " ".join(re.findall(r"[A-Z0-9]+", reference.upper())) + " "
    return any(f" {phrase} " in words for phrase in phrases)


def pays_on_account(p: Payment, rules: MatchingRules) -> bool:
    """Whether ``p``'s payer wrote that it pays on account (``reference.on_account_words``), not for given invoices."""
    return _says_on_account(p.reference, rules.reference.on_account_words)


def customer_number_key(value: str) -> str:
    """A customer number as payers write it: upper case, and a number without its zero padding
    (SAP's KUNNR 0000010042 is written 10042)."""
    v = value.strip().upper()
    if v.isdigit():
        return v.lstrip("0") or v
    return v


def match_id(entity: str, payment_id: str, invoice_id: str, rule: str) -> str:
    """Deterministic id (same formula as the SQL cascade): re-runs keep ids and decisions."""
    return hashlib.md5(f"{entity}|{payment_id}|{invoice_id}|{rule}".encode()).hexdigest()


@dataclass
class Item:
    invoice_id: str
    invoice_number: str | None
    customer_id: str | None
    currency: str
    doc_type: str
    issue_date: date | None
    due_date: date | None
    amount_total: Decimal
    open: Decimal
    # the ERP shows it paid (nothing open there) and names no receipt of it: an ERP that settles a payment on
    # account against invoices by an internal reconciliation (SAP Business One) says which, not with what
    erp_orphan: bool = False
    _key: str | None = None
    # set by Residue.set_items: position in the book's sort order, and ``open`` in whole cents
    # (truncated, as the subset search counts them), kept in step with ``open`` by Residue._apply
    _rank: int = field(default=0, repr=False, compare=False)
    _cents: int = field(default=0, repr=False, compare=False)
    _cap: int | None = field(default=None, repr=False, compare=False)  # see Residue._tolerance_cap

    def key(self, prefixes: tuple[str, ...]) -> str:
        if self._key is None:
            self._key = normalized(self.invoice_number, prefixes)
        return self._key

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.due_date or date.min, self.issue_date or date.min, self.invoice_id)

    @property
    def owed_in_full(self) -> bool:
        """Nothing paid or credited of it yet: not a remainder some payment left (subset sums trust only these)."""
        return self.open == self.amount_total


@dataclass(frozen=True)
class ErpLine:
    """One customer line of the ERP's receipt: who paid how much, under which lettrage code (and the
    documents that code names for that customer), and the label the accountant wrote. ``returned_on`` and
    ``returned_by`` say when and by which entry the bank sent a collected bill back unpaid
    (int_erp_receipts)."""

    customer_id: str
    amount: Decimal
    code: str | None
    label: str | None
    invoices: tuple[str, ...]
    returned_on: date | None = None
    returned_by: str | None = None


@dataclass(frozen=True)
class ErpHint:
    """The ERP's receipt of a bank credit: the one bank movement the ERP booked (a journal entry, a payment
    document) of exactly its amount within a few days, fitting no other bank credit (see residue_load._erp_hints)."""

    movement_id: str
    booked_on: date | None
    lines: tuple[ErpLine, ...]
    fees: Decimal  # what the entry books besides the bank and the customers (a card commission): lines - bank

    @property
    def customers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(line.customer_id for line in self.lines))

    @property
    def invoices(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i for line in self.lines for i in line.invoices))


@dataclass
class Payment:
    entity: str
    payment_id: str
    currency: str
    paid_on: date | None
    remaining: Decimal
    reference: str | None
    payer_name: str | None
    payer_iban: str | None
    customer_id: str | None
    customer_via: str | None
    alias_decision: str | None
    candidates: list[tuple[str, int]] = field(default_factory=list)  # (invoice_id, kind)
    # the reference token that named each candidate (rc_cand.token): explanations word it as 30_allocate does
    candidate_tokens: dict[str, str] = field(default_factory=dict)
    named_customers: tuple[str, ...] = ()  # the customers owning what it names (their credit notes may be deducted)
    ambiguous: bool = False
    complex_: bool = False
    deducts: bool = False  # complex only because it may have deducted a credit note (30_allocate), not shared
    uncorroborated: bool = False  # its reference names invoices neither its payer nor its amount confirms
    own_reference: bool = False   # ... the payer's own invoices, but the amount does not fit
    erp: ErpHint | None = None    # the ERP's receipt of this money, when one fits it alone
    refunded: Decimal = Decimal(0)  # handed back to the payer (card refunds): the money received was this much more


@dataclass
class Outcome:
    matches: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    # what each payment could reach (candidate customers, or its amount for an unknown payer): kept
    # for unresolved payments so an incremental run re-runs them only when that moved
    reach: list[dict[str, Any]] = field(default_factory=list)


_rank = attrgetter("_rank")


def _position(items: list[Item], item: Item) -> int:
    """Where ``item`` is in ``items`` (kept in sort order), by identity: equal items may be distinct."""
    if len(items) > 8:
        k = bisect_left(items, item._rank, key=_rank)
        if k < len(items) and items[k] is item:
            return k
    for n, other in enumerate(items):
        if other is item:
            return n
    raise ValueError(f"invoice {item.invoice_id} is not in its customer's open-item index")


def _pays_for_others(customers: list[tuple[str, str, str | None]]) -> bool:
    """People taught that this payer pays for other customers (a parent company for its subsidiaries)."""
    return any(via == "alias" for _, via, _ in customers)


def _who(cid: str, via: str, decision: str | None) -> str:
    return f"customer {cid} ({'payer alias taught by decision ' + str(decision) if via == 'alias' else 'from ' + via})"


def within_tolerance(rules: MatchingRules, short: Decimal, total: Decimal, paid_on: date | None,
                     issue_date: date | None) -> str | None:
    """Why a shortfall may close an invoice (mirror of 40_adjust.sql), or None."""
    tol = rules.tolerances
    if short <= 0:
        return None
    if short <= tol.rounding_abs:
        return "rounding difference"
    if paid_on and issue_date and paid_on <= issue_date + timedelta(days=tol.early_discount_days):
        for pct in tol.early_discount_pct:
            if abs(short - (total * pct / 100).quantize(CENT)) <= tol.discount_slack_abs:
                return f"early-payment discount {pct}%"
    if short <= tol.bank_charges_abs and short <= total * tol.bank_charges_pct / 100:
        return "bank charges within tolerance"
    return None


def group_plan(rules: MatchingRules, paid: Decimal, paid_on: date | None,
               items: list[Item]) -> tuple[str, dict[str, Decimal]] | None:
    """What a payment naming several invoices applies to each (mirror of 30_allocate.sql's ``multi``), or None.

    Exactly what they owe: each in full. Short by an early-payment discount of their total, in time for the
    first issued: the discount is taken on each invoice (40_adjust explains each), the latest due taking the
    cents the per-invoice rounding leaves. Short by what the tolerances accept on the last one (bank charges,
    rounding): each in full by due date, the last short. Anything else is not this group's payment.
    """
    owed = sum((i.open for i in items), Decimal(0))
    ordered = sorted(items, key=lambda i: i.sort_key)
    if owed == paid:
        return "", {i.invoice_id: i.open for i in items}
    if owed < paid or paid <= 0:
        return None
    tol = rules.tolerances
    billed = sum((i.amount_total for i in items), Decimal(0))
    issued = [i.issue_date for i in items if i.issue_date]
    if paid_on and issued and paid_on <= min(issued) + timedelta(days=tol.early_discount_days):
        for pct in tol.early_discount_pct:
            if abs((owed - paid) - (billed * pct / 100).quantize(CENT)) <= tol.discount_slack_abs:
                net = {i.invoice_id: i.open - (i.amount_total * pct / 100).quantize(CENT) for i in items}
                net[ordered[-1].invoice_id] += paid - sum(net.values(), Decimal(0))
                return f" less an early-payment discount of {pct}%", net
    last = ordered[-1]
    if within_tolerance(rules, owed - paid, last.amount_total, paid_on, last.issue_date):
        amounts = {i.invoice_id: i.open for i in ordered}
        amounts[last.invoice_id] -= owed - paid
        return (f" less {owed - paid} {items[0].currency}", amounts) if amounts[last.invoice_id] > 0 else None
    return None


class Residue:
    """One batch of residue payments of one entity against its book of open items."""

    def __init__(self, rules: MatchingRules, payments: list[Payment], items: dict[str, Item],
                 customers: dict[str, str], aliases: list[dict[str, Any]], blocked: set[tuple[str, str]],
                 *, normalized: dict[str, str] | None = None, names: CustomerNames | None = None,
                 numbers: dict[str, list[str]] | None = None) -> None:
        self.rules = rules
        # customer number as payers write it (see customer_number_key) -> customer ids; the numbers
        # the batch's unknown payers wrote, looked up by _load_and_run (or given by a test)
        self.numbers = numbers or {}
        self.payments = sorted(payments, key=lambda p: (p.paid_on or date.min, p.payment_id))
        self.set_items(items)
        legal = rules.fuzzy.legal_forms
        self._payer_names: dict[str, str] = {}  # normalize_name per distinct payer name
        # ``names`` (names.customer_names): the customers of the batch's payer names now, every
        # customer only if a fuzzy search needs them; ``normalized`` spares normalising them each run
        self._names_source = names
        self._names: dict[str, str] | None = None
        self.exact_name: dict[str, list[str]] = defaultdict(list)
        if names is not None:
            wanted = {self._payer_name(p.payer_name) for p in self.payments if p.payer_name} - {""}
            self.exact_name.update(names.with_names(wanted) if wanted else {})
        else:
            self._names = normalized if normalized is not None else {
                cid: normalize_name(name, legal) for cid, name in customers.items() if name}
            for cid, name in self._names.items():
                self.exact_name[name].append(cid)
        self._word_index: dict[str, list[str]] | None = None  # blocking for fuzzy names, built on first use
        self._initial_index: dict[str, list[str]] | None = None  # and for abbreviated names
        self._connectors = frozenset(rules.fuzzy.name_connectors)
        self.alias_name: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.alias_parent: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for a in aliases:
            if a["kind"] == "name":  # (kept normalised; normalised again in case the rule changed since)
                self.alias_name[self._payer_name(a["value"])].append((a["customer_id"], a["decision_id"]))
            elif a["kind"] == "parent":
                self.alias_parent[a["value"]].append((a["customer_id"], a["decision_id"]))
        self.blocked = blocked
        self.out = Outcome()
        # bounds, in cents, of a shortfall within_tolerance can accept (see _tolerance_cap)
        tol = rules.tolerances
        pcts = [abs(pct) for pct in tol.early_discount_pct]
        self._cap_fixed = max(math.ceil(tol.rounding_abs * 100), math.ceil(tol.bank_charges_abs * 100), 0)
        self._cap_pct = math.ceil(max(pcts)) if pcts else 0
        self._cap_slack = math.ceil(tol.discount_slack_abs * 100) + 1 if pcts else 0
        self._customer_cache: dict[str, list[tuple[str, str, str | None]]] = {}
        self._windows: dict[str, tuple[date, date]] = {}
        # how many times this batch applied money to each customer's items: a payment that found
        # nothing among its customers' items needs another look only when one of them moved
        self._moved: dict[str | None, int] = defaultdict(int)

    def set_items(self, items: dict[str, Item]) -> None:
        """The book of open items the batch searches (all of them, or just those :meth:`needs` names)."""
        self.items = items
        ordered = sorted(items.values(), key=lambda i: i.sort_key)
        self.by_customer: dict[str | None, list[Item]] = defaultdict(list)
        for rank, item in enumerate(ordered):
            item._rank = rank
            item._cents = int(item.open * 100)
            item._cap = None  # depends on this batch's tolerances
            self.by_customer[item.customer_id].append(item)
        # per customer, built on first use and kept in step by _apply: its items still open (sort
        # order), and the same items by open amount, so an exact amount is a look-up, not a scan
        self._open: dict[str | None, tuple[list[Item], dict[Decimal, list[Item]]]] = {}
        self._ordered = ordered
        self._open_at_load = [i.open for i in ordered]
        self._by_amount: dict[Decimal, list[Item]] | None = None

    @property
    def by_amount(self) -> dict[Decimal, list[Item]]:
        """Items by their open amount at load, in sort order: only unknown payers look here, so it is
        built on first use (most batches never need it)."""
        if self._by_amount is None:
            self._by_amount = defaultdict(list)
            for item, amount in zip(self._ordered, self._open_at_load, strict=True):
                self._by_amount[amount].append(item)
        return self._by_amount

    def _tolerance_cap(self, item: Item) -> int:
        """An upper bound, in cents, of a shortfall on ``item`` that :func:`within_tolerance` accepts.

        Rounding and bank charges are capped by their absolute ceilings, an early-payment discount by
        the largest rate of the item's total plus slack; a cent or two more covers the truncation of
        amounts to cents. Only a filter in front of the exact (Decimal) test, never a decision.
        """
        cap = item._cap
        if cap is None:
            total = abs(int(item.amount_total * 100)) + 1
            cap = item._cap = max(self._cap_fixed, total * self._cap_pct // 100 + self._cap_slack) + 2
        return cap

    def _open_items(self, cid: str | None) -> tuple[list[Item], dict[Decimal, list[Item]]]:
        found = self._open.get(cid)
        if found is None:
            live = [i for i in self.by_customer.get(cid, ()) if i.open != 0]
            by_open: dict[Decimal, list[Item]] = defaultdict(list)
            for item in live:
                by_open[item.open].append(item)
            found = self._open[cid] = (live, by_open)
        return found

    def needs(self) -> tuple[set[str], set[Decimal], set[str]]:
        """What the batch can touch: customers, open amounts (unknown payers) and named invoices.

        Loading only these open items (not the whole book) is what keeps the residue
        proportional to its payments; :meth:`run` never looks at any other item.
        """
        customers: set[str] = set()
        amounts: set[Decimal] = set()
        invoices: set[str] = set()
        for p in self.payments:
            if p.remaining <= 0:
                continue
            invoices.update(i for i, _ in p.candidates)
            if p.erp is not None:
                invoices.update(p.erp.invoices)
                customers.update(line.customer_id for line in p.erp.lines if not line.invoices)
            if p.candidates and not p.uncorroborated:
                if len(p.candidates) == 1 or p.deducts:  # maybe paid less a credit note of its customers'
                    customers.update(p.named_customers)
                continue
            found = self._customers(p)
            customers.update(c for c, _, _ in found)
            if not found or _pays_for_others(found):  # see _amount_only, _amount_beyond_taught
                amounts.add(p.remaining)
        return customers, amounts, invoices

    # -- writing -------------------------------------------------------------------------
    def _apply(self, p: Payment, item: Item, amount: Decimal, rule: str, explanation: str,
               *, confidence: Decimal | None = None, suggest: bool = False,
               adjustment: Decimal = Decimal("0"), adjustment_reason: str | None = None) -> None:
        r = self.rules.rule(rule)
        state = "suggested" if suggest or not r.auto else "auto"
        self.out.matches.append({
            "entity": p.entity, "match_id": match_id(p.entity, p.payment_id, item.invoice_id, rule),
            "payment_id": p.payment_id, "invoice_id": item.invoice_id, "amount_applied": amount,
            "adjustment": adjustment, "adjustment_reason": adjustment_reason, "currency": p.currency, "rule": rule,
            "confidence": confidence if confidence is not None else r.confidence, "explanation": explanation,
            "state": state, "paid_on": p.paid_on,
        })
        if state == "auto":
            before = item.open
            item.open -= amount + adjustment
            item._cents = int(item.open * 100)
            p.remaining -= amount
            self._moved[item.customer_id] += 1
            self._reindex(item, before)

    def _reindex(self, item: Item, before: Decimal) -> None:
        """Move ``item`` in its customer's open-item index after its open amount changed."""
        index = self._open.get(item.customer_id)
        if index is None or item.open == before:
            return
        live, by_open = index
        if before != 0:
            bucket = by_open[before]
            del bucket[_position(bucket, item)]
            if not bucket:
                del by_open[before]
        if item.open != 0:
            insort(by_open[item.open], item, key=_rank)
            if before == 0:
                insort(live, item, key=_rank)
        else:
            del live[_position(live, item)]

    def _exception(self, p: Payment, kind: str, detail: str, invoice_id: str | None = None,
                   amount: Decimal | None = None, settled: bool = False, customer_id: str | None | bool = True) -> None:
        """``customer_id``: who the money is for, True to take the payer's one found customer (the default),
        None when that would be a guess the detail says not to make."""
        # who pays, when the payment does not say and exactly one customer was found for the payer
        if customer_id is True:
            found = {c for c, _, _ in self._customers(p)} if not p.customer_id else set()
            customer_id = p.customer_id or (next(iter(found)) if len(found) == 1 else None)
        self.out.exceptions.append({
            "entity": p.entity, "kind": kind, "payment_id": p.payment_id, "invoice_id": invoice_id,
            "payout_id": None, "bank_line_id": None, "amount": amount if amount is not None else p.remaining,
            "currency": p.currency, "detail": detail, "settled": settled, "customer_id": customer_id,
        })

    def _suggest(self, p: Payment, items: list[Item], rule: str, why: str, *, on_account: bool = False) -> None:
        """Suggest ``items`` for ``p``, never apply them, with the exception that asks a person: which one
        (``ambiguous``), or, for a payer that said it pays on account, whether to apply them at all or leave the
        money as the customer's credit (``unmatched_payment``)."""
        note = "the payer pays on account: suggestion, not applied" if on_account else "suggestion, not applied"
        for item in items[:MAX_SUGGESTIONS]:
            self._apply(p, item, min(p.remaining, item.open), rule, f"{why}; {note}", suggest=True)
        numbers = ", ".join(i.invoice_number or i.invoice_id for i in items[:MAX_SUGGESTIONS])
        if on_account:
            self._exception(p, "unmatched_payment", f"payment on account ({(p.reference or '').strip()}): {why} "
                            f"({numbers}); apply them or leave it as the customer's credit",
                            invoice_id=items[0].invoice_id)
        else:
            self._exception(p, "ambiguous", f"{why}: {len(items)} open items fit equally ({numbers}); "
                            "confirm the right one", invoice_id=items[0].invoice_id)

    # -- rules ---------------------------------------------------------------------------
    def _usable(self, p: Payment, item: Item, *, dated: bool = True) -> bool:
        # hot path (every open item of every candidate customer): the date window is computed once per payment
        if item.currency != p.currency or (self.blocked and (p.payment_id, item.invoice_id) in self.blocked):
            return False
        if dated and p.paid_on and item.issue_date:
            window = self._windows.get(p.payment_id)
            if window is None:
                w = self.rules.windows
                window = self._windows[p.payment_id] = (p.paid_on - timedelta(days=w.max_invoice_age_days),
                                                        p.paid_on + timedelta(days=w.payment_before_issue_days))
            if item.issue_date > window[1] or item.issue_date < window[0]:
                return False
        return True

    def _references(self, p: Payment) -> None:
        cands = [(self.items[i], k) for i, k in p.candidates if i in self.items]
        cands = [(it, k) for it, k in cands if it.currency == p.currency]
        if not p.ambiguous:  # complex: sequential allocation, credit notes first, then by due date
            deductible = self._deducted_credit_notes(p, cands)
            deducted = deductible[0] if len(deductible) == 1 else None
            named = cands[0][0] if deductible else None
            # (the invoices the payment names, as a person reads them in the explanations)
            inv = ("invoice " if len(cands) == 1 else "invoices ") + ", ".join(
                it.invoice_number or it.invoice_id for it, _ in cands)
            if deducted is not None:
                cands.append((deducted, cands[0][1]))
            elif deductible and named is not None:  # two credit notes fit: a person says which the payer deducted
                numbers = ", ".join(c.invoice_number or c.invoice_id for c in deductible)
                self._exception(p, "ambiguous", f"pays {inv} less a credit note, and {len(deductible)} "
                                f"of the customer's fit ({numbers}): letter the one deducted with the invoice in the "
                                "ERP and the next run nets it", invoice_id=named.invoice_id,
                                amount=sum((it.open for it, _ in cands), Decimal("0")) - p.remaining)
            cands.sort(key=lambda c: (c[0].open >= 0, c[0].sort_key))
            applied = False
            for item, kind in cands:
                if p.remaining <= 0:
                    break
                take = item.open if item.open < 0 else min(item.open, p.remaining)
                if take == 0:
                    continue
                rule = KIND_RULE[kind]
                if deducted is not None and named is not None:
                    cn = deducted.invoice_number or deducted.invoice_id
                    why = (f"credit note {cn} deducted by the payer: the payment is what {inv} "
                           f"{'owes' if len(cands) == 2 else 'owe'} less it"
                           if item is deducted else
                           f"reference names invoice {item.invoice_number or item.invoice_id}, paid "
                           + (f"less credit note {cn}" if len(cands) == 2 else f"as one of {inv} less credit note {cn}"))
                elif p.complex_ and not p.deducts:
                    why = (f"reference names invoice {item.invoice_number or item.invoice_id}"
                           f" (shared with other payments, allocated in date order)")
                else:  # (its own invoice, another amount; or no credit note fits after all): as 30_allocate writes it
                    # (word for word: a full run placing here what a nightly placed in SQL rewrote the match for
                    # its wording alone, with a new _loaded_at)
                    token = p.candidate_tokens.get(item.invoice_id)
                    why = (f"reference {token + ' ' if token else ''}names invoice "
                           f"{item.invoice_number or item.invoice_id}"
                           + (f" (one of {len(p.candidates)} listed)" if len(p.candidates) > 1 else "")
                           + (" ; partial payment" if take < item.open else ""))
                self._apply(p, item, take, rule, why)
                applied = True
            if applied and p.remaining > 0 and p.uncorroborated:  # (its payer's items are loaded: needs())
                self._rest_by_amount(p, {it.invoice_id for it, _ in cands})
            if p.remaining > self.rules.tolerances.overpayment_ignore_abs:
                self._exception(p, "overpayment", ("payment exceeds what its invoice(s) still owe" if applied else
                                "the invoice(s) this payment names are already settled")
                                + f"; {p.remaining} {p.currency} left as customer credit",
                                invoice_id=cands[0][0].invoice_id if cands else None)
            return
        open_cands = [(it, k) for it, k in cands if it.open > 0]
        fits = [(it, k) for it, k in open_cands if it.open == p.remaining]
        if len(fits) == 1:
            item, kind = fits[0]
            rule = KIND_RULE[kind]
            conf = self.rules.rule(rule).confidence * Decimal("0.95")
            self._apply(p, item, item.open, rule, f"reference fits several invoices; only "
                        f"{item.invoice_number or item.invoice_id} has the amount", confidence=conf.quantize(CENT))
            return
        items = [it for it, _ in open_cands] or [it for it, _ in cands]
        if not items:
            self._exception(p, "unmatched_payment", "reference found but no usable open invoice")
            return
        self._suggest(p, sorted(items, key=lambda i: i.sort_key), KIND_RULE[min(k for _, k in cands)],
                      "reference matches several invoices")

    def _deducted_credit_notes(self, p: Payment, cands: list[tuple[Item, int]]) -> list[Item]:
        """The open credit notes the payer may have taken off the invoices its reference names.

        A payer paying an invoice less its credit note often names the invoice only ("FA-38", 2,748.89 for
        3,597.47 with an unlettered credit note of 843.37), or lists the invoices it pays and takes a credit
        note off their total ("FA012685 FA012505", a parent paying two subsidiaries). When the reference names
        only invoices (of the payer's, when the payer is known), the payment is short of what they owe, and
        exactly one open credit note of their customers (in its currency, not named, not lettered elsewhere in
        this run) brings the shortfall to nothing or to what the short-payment tolerances close, the credit note
        is netted in the payment, as a remittance naming it would be (40_adjust then closes the rest, saying
        why). Two that fit: neither is netted, and an ``ambiguous`` exception asks a person which one (the
        caller).

        A payer we cannot identify (no IBAN or alias on file) is taken to be the named invoices' customer(s),
        as the reference says, but only when the credit note fits to the cent: the amount is then the only
        evidence that the payer meant that credit note (30_allocate sends only such payments here).
        """
        invoices = [it for it, _ in cands]
        if not invoices or any(it.doc_type != "invoice" or it.open <= 0 for it in invoices):
            return []
        owners = {it.customer_id for it in invoices}
        if p.customer_id and owners != {p.customer_id}:
            return []
        short = sum((it.open for it in invoices), Decimal("0")) - p.remaining
        if short <= 0:
            return []
        first = min(invoices, key=lambda it: it.sort_key)
        fits = [c for owner in sorted(o for o in owners if o) for c in self.by_customer.get(owner, [])
                if c.doc_type == "credit_note" and c.open < 0 and c.currency == p.currency and -c.open <= short
                and self._usable(p, c)
                and (short + c.open == 0
                     or (p.customer_id is not None and within_tolerance(
                         self.rules, short + c.open, first.amount_total, p.paid_on, first.issue_date)))]
        return fits

    def _names_own_invoices(self, p: Payment, customers: list[tuple[str, str, str | None]]) -> bool:
        """Whether every invoice the reference names belongs to a customer the residue found for the
        payer (by name, alias or customer number): then it is the payer's own reference, as for a payer
        the cascade knew by IBAN (``own_reference``)."""
        ids = {c for c, _, _ in customers}
        named = [self.items[i] for i, _ in p.candidates if i in self.items]
        return bool(named) and all(it.customer_id in ids for it in named)

    def _rest_by_amount(self, p: Payment, named: set[str]) -> None:
        """What a payment has left after the invoices it names, when it is exactly what one other open
        invoice of the payer owes: that invoice too, before calling the rest an overpayment.

        A reference cut short (BACS keeps 18 characters: ``INV 90012140 90012``) or a second invoice
        the payer did not write: only the payer's own customer, only an exact amount, only one item.
        Else the one combination of the payer's other open invoices that owes exactly the rest (a
        remittance naming the credit note it nets and writing its invoices in a way no key reads,
        "FRAS 777-771 ABONO AB25-000010"): those invoices.
        """
        rule = "learned_alias" if any(via == "alias" for _, via, _ in self._customers(p)) else "customer_amount"
        if not self.rules.rule(rule).enabled:
            return
        fits = [i for cid, _, _ in self._customers(p) for i in self._owing_exactly(p, cid, p.remaining)
                if i.invoice_id not in named]
        if len(fits) == 1:
            item = fits[0]
            self._apply(p, item, p.remaining, rule,
                        f"after the invoice(s) its reference names, the rest {p.remaining} {p.currency} is exactly "
                        f"what {item.invoice_number or item.invoice_id}, another open item of the payer, owes")
            return
        cfg = self.rules.subset_sum
        if fits or not self.rules.rule("subset_sum").enabled:
            return
        pool = [i for cid, _, _ in self._customers(p) for i in self._open_items(cid)[0]
                if i.open > 0 and i.doc_type == "invoice" and i.invoice_id not in named and self._usable(p, i)]
        pool = pool[: cfg.max_items]
        found = subset_sum([int(i.open * 100) for i in pool], int(p.remaining * 100), max_size=cfg.max_subset_size,
                           max_nodes=cfg.max_nodes).unique
        if found is None or len(found) < 2:
            return
        chosen = [pool[k] for k in found]
        if not all(i.owed_in_full for i in chosen):
            # a remainder some payment left (a few euros of charges, the rest of a part payment) summing with others
            # to exactly what is left is more often chance than the payer's intent: the rest stays customer credit
            return
        numbers = ", ".join(i.invoice_number or i.invoice_id for i in chosen)
        why = (f"after the document(s) its reference names, the rest {p.remaining} {p.currency} is exactly what the "
               f"payer's open invoices {numbers} owe, and no other combination of them")
        for item in chosen:
            self._apply(p, item, item.open, "subset_sum", why)

    def _owing_exactly(self, p: Payment, cid: str, amount: Decimal) -> list[Item]:
        """The open invoices of customer ``cid`` owing exactly ``amount`` that ``p`` may pay: a look-up in
        the customer's index by open amount, not a scan."""
        return [i for i in self._open_items(cid)[1].get(amount, ())
                if i.open > 0 and i.doc_type == "invoice" and self._usable(p, i)]

    def _customers(self, p: Payment) -> list[tuple[str, str, str | None]]:
        """Candidate customers in trust order: (customer_id, via, decision_id); computed once per payment."""
        cached = self._customer_cache.get(p.payment_id)
        if cached is None:
            cached = self._customer_cache[p.payment_id] = self._find_customers(p)
        return cached

    def _find_customers(self, p: Payment) -> list[tuple[str, str, str | None]]:
        out: list[tuple[str, str, str | None]] = []
        if p.customer_id:
            out.append((p.customer_id, p.customer_via or "payment", p.alias_decision))
        name = self._payer_name(p.payer_name) if p.payer_name else ""
        if name:
            out.extend((cid, "alias", dec) for cid, dec in self.alias_name.get(name, []))
            if not out and len(self.exact_name.get(name, [])) == 1:
                out.append((self.exact_name[name][0], "name", None))
        if not out and p.erp is not None and len(p.erp.customers) == 1:  # the customer the ERP booked it for
            out.append((p.erp.customers[0], "ERP receipt", None))
        if not out:  # the payer wrote its customer number (Kd-Nr. 10042, Client C0042): before a fuzzy name
            numbered = self._numbered_customer(p)
            if numbered:
                out.append((numbered, "customer number in the reference", None))
        if not out and name:
            best = fuzzy.best_name(name, self._name_block(name), cutoff=self.rules.fuzzy.name_score_cutoff,
                                   margin=self.rules.fuzzy.name_margin)
            if best:
                out.append((best[0], "name", None))
            else:
                abbreviated = fuzzy.abbreviated_name(
                    name, self._name_block(name, initials=True), min_letters=self.rules.fuzzy.abbreviation_min_letters,
                    connectors=self._connectors)
                if abbreviated:
                    out.append((abbreviated, "name (abbreviated)", None))
        for cid, _, _ in list(out):
            out.extend((child, "alias", dec) for child, dec in self.alias_parent.get(cid, []))
        seen: set[str] = set()
        unique = []
        for c in out:
            if c[0] not in seen:
                seen.add(c[0])
                unique.append(c)
        return unique

    def _numbered_customer(self, p: Payment) -> str | None:
        """The one customer whose number the remittance holds, or None (none, or several).

        Not for a remittance that names invoices: its numbers are read as invoice references
        (a customer numbered like an invoice, 1001 and 1001, must not become the payer).
        """
        if not self.numbers or not p.reference or p.candidates:
            return None
        found = {cid for t in payment_tokens(p, self.rules) for cid in self.numbers.get(customer_number_key(t), ())}
        return found.pop() if len(found) == 1 else None

    def _payer_name(self, payer_name: str) -> str:
        cached = self._payer_names.get(payer_name)
        if cached is None:
            cached = self._payer_names[payer_name] = normalize_name(payer_name, self.rules.fuzzy.legal_forms)
        return cached

    @property
    def names(self) -> dict[str, str]:
        """``customer_id -> normalised name`` of every customer (read on first use)."""
        if self._names is None:
            assert self._names_source is not None
            self._names = self._names_source.all()
        return self._names

    def _name_block(self, name: str, max_df: int = 500, *, initials: bool = False) -> dict[str, str]:
        """Customers sharing a distinctive word with ``name`` (all of them for small books); with ``initials``,
        customers whose name starts with the letter ``name`` starts with (an abbreviated name shares no word)."""
        if len(self.names) <= 2000:
            return self.names
        if initials:
            if self._initial_index is None:
                self._initial_index = defaultdict(list)
                for cid, cname in self.names.items():
                    self._initial_index[cname[:1]].append(cid)
            return {cid: self.names[cid] for cid in self._initial_index.get(name[:1], [])}
        if self._word_index is None:
            self._word_index = defaultdict(list)
            for cid, cname in self.names.items():
                for word in set(cname.split()):
                    self._word_index[word].append(cid)
        ids: set[str] = set()
        for word in set(name.split()):
            owners = self._word_index.get(word, [])
            if len(owners) <= max_df:
                ids.update(owners)
        return {cid: self.names[cid] for cid in ids}

    def _fuzzy_reference(self, p: Payment, pool: list[Item], *, allow_partial: bool = False,
                         exclude: frozenset[str] = frozenset()) -> bool:
        """A reference one typo away from one open invoice, corroborated by the amount.

        ``allow_partial``: the pool is the payer's own customer, so a payment below the
        invoice's open amount may be a partial payment of it: suggested, never applied (neither
        the reference nor the amount is exact); for an unknown payer only the amount can corroborate.
        """
        rule = self.rules.rule("fuzzy_reference")
        if not rule.enabled or not p.reference:
            return False
        prefixes = self.rules.reference.prefixes
        keys = {normalized(t, prefixes) for t in payment_tokens(p, self.rules)}
        if not keys:
            return False
        hits, partial = [], []
        for item in pool:
            if item.doc_type != "invoice" or item.open <= 0 or item.invoice_id in exclude:
                continue
            key = item.key(prefixes)
            if any(fuzzy.reference_close(k, key, max_distance=self.rules.fuzzy.reference_max_distance,
                                         min_length=self.rules.fuzzy.reference_min_length) for k in keys):
                short = item.open - p.remaining
                if short == 0 or within_tolerance(self.rules, short, item.amount_total, p.paid_on, item.issue_date):
                    hits.append(item)
                elif allow_partial and short > 0:
                    partial.append(item)
        if not hits and len(partial) == 1:
            # Neither the reference nor the amount is right: with sequential numbering one digit away
            # is as often another invoice as a typo (FA-0050 paid, FA-0080 open), so a person confirms.
            item = partial[0]
            why = (f"reference in '{(p.reference or '')[:60]}' is one typo away from invoice {item.invoice_number} "
                   f"of the payer's own customer, which owes {item.open} {p.currency}, but the payment is {p.remaining}")
            self._apply(p, item, p.remaining, "fuzzy_reference", f"{why}; partial payment? suggestion, not applied",
                        suggest=True)
            self._exception(p, "amount_mismatch", why + "; confirm the invoice or correct the reference",
                            invoice_id=item.invoice_id)
            return True
        if len(hits) == 1:
            item = hits[0]
            self._apply(p, item, min(item.open, p.remaining), "fuzzy_reference",
                        f"reference in '{(p.reference or '')[:60]}' is one typo away from invoice "
                        f"{item.invoice_number} of the same amount")
            return True
        if len(hits) > 1:
            self._suggest(p, hits, "fuzzy_reference", "reference is one typo away from several invoices")
            return True
        return False

    def _tail_reference(self, p: Payment, pool: list[Item], *, payer_known: bool = True) -> bool:
        """A bare number naming one open invoice of the payer by its number without the year part
        (``PAIEMENT PARTIEL FACT 0050`` for FA2024-0050), partial payments included; several such
        numbers when the payment is what they owe together.

        What the SQL cascade's tail key does for a payer known before the run (payment, IBAN,
        alias), here for one the residue identified (name, customer number in the remittance):
        ``pool`` holds that customer's open items only, as the cascade's same-customer condition.
        For a payer nobody knows (a parent company: "PAGO FACTURA N. 211"), ``pool`` holds the open
        items owing exactly the payment: the number and the amount, two facts that agree, name it.
        """
        if not pool or not self.rules.rule("reference_tail").enabled:
            return False
        ref = self.rules.reference
        words = payment_tokens(p, self.rules)
        tails = {keys[TAIL] for t in words
                 if TAIL in (keys := token_keys(t, ref.prefixes, ref.min_key_length, ref.min_tail_length))}
        # An invoice numbered with digits alone (SAP Business One's DocNum 10303) is also named with a year
        # before it ("FACTUUR 2026-10303") or zero-padded at the end of a long structured number (a Dutch
        # payment reference "2100060000010304": check digit, customer number, invoice number).
        after_year = {m.group(2).lstrip("0") for t in words if (m := re.match(YEAR_TAIL, t))}
        structured = [t for t in words if t.isdigit() and len(t) >= 12]
        if not tails and not after_year and not structured:
            return False

        def digits_named(item: Item) -> bool:
            n = (item.invoice_number or "").strip().lstrip("0")
            return (n.isdigit() and len(n) >= ref.min_tail_length
                    and (n in after_year or any(t.endswith("0" + n) for t in structured)))

        hits = [i for i in pool if i.doc_type == "invoice" and i.open > 0
                and (invoice_keys(i.invoice_number, ref.prefixes, ref.min_key_length, ref.min_tail_length).get(TAIL)
                     in tails or digits_named(i))]
        if len(hits) == 1 and not any(c.doc_type == "credit_note" and c.open < 0 and hits[0].open + c.open == p.remaining
                                      for c in pool):  # netted with a credit note: the subset rule says so
            item = hits[0]
            how = ("after a year or at the end of a structured reference" if digits_named(item)
                   else "without its year part")
            self._apply(p, item, min(item.open, p.remaining), "reference_tail",
                        f"'{(p.reference or '')[:60]}' names invoice {item.invoice_number} {how}; "
                        + ("payer identified by the residue" if payer_known
                           else "payer unknown, the payment is exactly what it owes"))
            return True
        plan = group_plan(self.rules, p.remaining, p.paid_on, hits) if len(hits) > 1 else None
        if plan is not None:  # "Fact. n°15 et 25" paid in full, or "Rg.-Nr. 00145, 00146 abzgl. 2% Skonto"
            numbers = ", ".join(i.invoice_number or i.invoice_id for i in hits)
            how, amounts = plan
            for item in sorted(hits, key=lambda i: i.sort_key):
                self._apply(p, item, amounts[item.invoice_id], "reference_tail",
                            f"'{(p.reference or '')[:60]}' names invoices {numbers} without their year part, "
                            f"and pays what they owe{how}; payer identified by the residue")
            return True
        return False  # several, another amount (a credit note netted, a partial payment): the amount rules decide

    def _erp_receipt(self, p: Payment) -> bool:
        """What the ERP's receipt of this money says it pays, line by line.

        The accountant booked this bank credit (same amount, a few days apart, no other credit fits that
        entry). Each of its customer lines pays, up to the line's amount: the documents its lettrage code
        names for that customer still open (credit notes netted first, then invoices by due date), else
        the one open invoice of that customer its label names, else the one owing exactly the line's
        amount. The commission an entry books beside them (a card settlement: the bank net, the customer
        lines gross) closes the last document as an adjustment. A line none of these places leaves its
        money unapplied (an exception says so); nothing at all placed, and the customer rules look.
        Not when the payer is known and is none of the receipt's customers.
        """
        hint = p.erp
        rule = "erp_receipt"
        if hint is None or not self.rules.rule(rule).enabled:
            return False
        if p.customer_id and p.customer_id not in hint.customers:
            return False
        plan: list[tuple[Item, Decimal, str]] = []
        taken: dict[str, Decimal] = defaultdict(Decimal)  # per item, what earlier lines of this receipt took
        returned = [line for line in hint.lines if line.returned_by]
        for line in hint.lines:
            if line.returned_by:
                continue
            rest = line.amount
            for item, why in self._erp_line_items(p, hint, line):
                left = item.open - taken[item.invoice_id]
                if left == 0 or (left > 0 and rest <= 0):
                    continue
                take = left if left < 0 else min(left, rest)
                plan.append((item, take, why))
                taken[item.invoice_id] += take
                rest -= take
        if not plan and not returned:
            return False
        gross = sum((take for _, take, _ in plan), Decimal("0"))
        fee = hint.fees if 0 < hint.fees and gross - p.remaining == hint.fees else Decimal("0")
        if returned:
            self._returned_bills(p, hint, returned)
        last = max((k for k, (_, take, _) in enumerate(plan) if take > 0), default=None)
        for k, (item, take, why) in enumerate(plan):
            money = take - (fee if k == last else 0)
            if money > p.remaining and take > 0:
                money = p.remaining
            if take > 0 and money <= 0:
                break
            note = f" ; commission {fee} booked by the ERP with it" if k == last and fee else ""
            self._apply(p, item, money, rule, why + note, adjustment=fee if k == last else Decimal("0"),
                        adjustment_reason="fees the ERP booked with the receipt" if k == last and fee else None)
        return True

    def _returned_bills(self, p: Payment, hint: ErpHint, lines: list[ErpLine]) -> None:
        """Bills this credit collected that the bank then sent back unpaid: their money pays nothing (it left
        again), so it comes off what the credit can apply, and the invoices they had paid are owed again. One
        failed_debit exception for the credit says which; it is raised closed when every one of those invoices
        has since been paid (the customer paid again by transfer), as 50_exceptions does for a failed debit."""
        back = sum((line.amount for line in lines), Decimal("0"))
        # (a return the bank netted from this very credit is a line of its own movement, already netted)
        gone = sum((line.amount for line in lines if line.returned_by != hint.movement_id), Decimal("0"))
        p.remaining = max(p.remaining - gone, Decimal("0"))
        invoices = [i for line in lines for i in line.invoices]
        still = [self.items[i] for i in invoices if i in self.items and self.items[i].open > 0]
        parts = []
        for line in lines:
            named = ", ".join(line.invoices) or f"{line.customer_id}'s line '{(line.label or '')[:40]}'"
            parts.append(f"{line.amount} {p.currency} for {named} returned unpaid on {line.returned_on} "
                         f"({line.returned_by})")
        state = ("; invoice(s) still owed: " + ", ".join(i.invoice_number or i.invoice_id for i in still)) if still \
            else ("; since paid" if invoices else "")
        self._exception(p, "failed_debit", f"bill(s) collected in this credit returned unpaid ({hint.movement_id}): "
                        + "; ".join(parts) + state, invoice_id=invoices[0] if invoices else None, amount=back,
                        settled=bool(invoices) and not still)

    def _erp_line_items(self, p: Payment, hint: ErpHint, line: ErpLine) -> list[tuple[Item, str]]:
        """The open documents one line of the ERP's receipt pays, in the order they take its money."""
        head = f"the ERP booked this credit ({hint.movement_id}, {hint.booked_on})"
        if line.invoices:
            items = [self.items[i] for i in line.invoices if i in self.items]
            # (the ERP itself lettered these with the receipt: a deposit received before its invoice was issued,
            # a payment on account allocated later, is theirs whatever the date window of the matching rules)
            items = sorted((i for i in items if i.open != 0 and self._usable(p, i, dated=False)),
                           key=lambda i: (i.open >= 0, i.sort_key))
            numbers = ", ".join(i.invoice_number or i.invoice_id for i in items)
            # (an ERP whose receipt lists the invoices it applied to: its "code" is their ids, not worth repeating)
            how = ("applied it to" if line.code and set(line.invoices) & set(line.code.replace(" ", "").split(","))
                   else f"lettered {line.customer_id}'s line {line.code} with")
            return [(i, f"{head} and {how} {numbers}") for i in items]
        live = self._open_items(line.customer_id)[0]
        own = [i for i in live if i.open > 0 and i.doc_type == "invoice" and self._usable(p, i)]
        prefixes = self.rules.reference.prefixes
        keys = {normalized(t, prefixes) for t in _tokens(line.label, self.rules.reference.remittance_tags)} - {""}
        named = [i for i in own if i.key(prefixes) in keys]
        if len(named) == 1:
            first = named[0]
            says = f"{head}: {line.customer_id}'s line '{(line.label or '')[:60]}' names {first.invoice_number or first.invoice_id}"
            out = [(first, says)]
            # (a line of more than the invoice it names, the rest exactly what one other open invoice of the
            # customer owes: the accountant labelled a payment of two invoices with the first)
            rest = line.amount - first.open
            other = [i for i in own if i is not first and i.open == rest] if rest > 0 else []
            if len(other) == 1:
                out.append((other[0], f"{says}, and the rest, {rest}, is what "
                                      f"{other[0].invoice_number or other[0].invoice_id} owes"))
            # (a line of what the invoice owes less exactly one open credit note of the customer's: the payer
            # deducted it, and the accountant booked the cash as received)
            credits = [c for c in live if c.doc_type == "credit_note"
                       and c.open == rest and c.currency == p.currency and self._usable(p, c, dated=False)] \
                if rest < 0 else []
            if len(credits) == 1:
                cn = credits[0]
                out.insert(0, (cn, f"{says} and is what it owes less credit note {cn.invoice_number or cn.invoice_id}"))
            return out
        settled = self._erp_settled_by_amount(p, live, line.amount)
        if settled:
            numbers = ", ".join(i.invoice_number or i.invoice_id for i in settled)
            return [(i, f"{head} and settled {numbers} in the ERP without naming a receipt: "
                        f"{line.customer_id}'s line of {line.amount} is what {'they' if len(settled) > 1 else 'it'} "
                        "owed") for i in settled]
        exact = [i for i in own if i.open == line.amount]
        if len(exact) == 1:
            return [(exact[0], f"{head}: {line.customer_id}'s line of {line.amount} is the only open item "
                               "of that amount")]
        return []

    def _erp_settled_by_amount(self, p: Payment, live: list[Item], amount: Decimal) -> list[Item]:
        """The customer's invoices the ERP shows paid without naming a receipt (``Item.erp_orphan``: a payment on
        account the ERP reconciled with them internally) that this ERP receipt's line pays: the one owing exactly
        its amount, else the one set of them that adds up to it. The ERP settled them, so an invoice issued after
        the money came (a payment on account ahead of its invoice) is theirs too."""
        orphans = sorted((i for i in live if i.erp_orphan and i.open > 0 and i.doc_type == "invoice"
                          and self._usable(p, i, dated=False)), key=lambda i: i.sort_key)
        if not orphans:
            return []
        exact = [i for i in orphans if i.open == amount]
        if exact:
            return exact if len(exact) == 1 else []
        cfg = self.rules.subset_sum
        found = subset_sum([int(i.open * 100) for i in orphans[:cfg.max_items]], int(amount * 100),
                           max_size=cfg.max_subset_size, max_nodes=cfg.max_nodes)
        unique = found.unique
        return [orphans[k] for k in unique] if unique and sum(orphans[k].open for k in unique) == amount else []

    def _by_customer(self, p: Payment, cid: str, via: str, decision: str | None) -> bool:
        # Hot path (every residue payment of a known customer): the exact amount is a look-up in the
        # customer's index, the other tests run over its open items in one pass, cheapest first, and
        # _usable (currency, blocked pair, date window) only on the items they keep; the lists are the
        # same, in the same order, as filtering the customer's open items by _usable first.
        rule = "learned_alias" if via == "alias" else "customer_amount"
        if not self.rules.rule(rule).enabled:
            return False
        live, _ = self._open_items(cid)
        if not live:
            return False
        rem = p.remaining
        exact = self._owing_exactly(p, cid, rem)
        if len(exact) == 1:
            self._apply(p, exact[0], p.remaining, rule,
                        f"{_who(cid, via, decision)}: only open item of {p.remaining} {p.currency}")
            return True
        if len(exact) > 1:
            self._suggest(p, exact, rule, f"{_who(cid, via, decision)}: amount {p.remaining} {p.currency}")
            return True
        if p.refunded > 0:
            # part of the payment was refunded and no credit note says for what: the one open item owing what
            # was paid before the refund takes the rest, and what was refunded stays owed on it
            paid = rem + p.refunded
            before = self._owing_exactly(p, cid, paid)
            if len(before) == 1:
                says = f"{_who(cid, via, decision)}: only open item of {paid} {p.currency}, the amount paid before "
                # the refund's credit note, when the customer has one open credit note of exactly that: it and the
                # payment's net close the invoice together (as a subset of the two would)
                notes = [c for c in live if c.doc_type == "credit_note" and c.open == -p.refunded
                         and self._usable(p, c, dated=False)]
                if len(notes) == 1:
                    note = notes[0]
                    self._apply(p, before[0], paid, rule,
                                says + f"{p.refunded} was refunded with credit note {note.invoice_number or note.invoice_id}")
                    self._apply(p, note, -p.refunded, rule, says + f"{p.refunded} was refunded: its credit note")
                    return True
                self._apply(p, before[0], rem, rule, says + f"{p.refunded} was refunded (still owed on it)")
                return True
        target = int(rem * 100)
        cap = self._tolerance_cap
        least = None
        tol = []
        for i in live:
            cents = i._cents
            if least is None or cents < least:
                least = cents
            # only a shortfall can be within tolerance; ``cap`` bounds it in cents, so only an item a
            # few cents to (at most) a discount above the payment reaches the Decimal test
            if (cents >= target and cents - target <= (i._cap or cap(i)) and i.open > rem and i.doc_type == "invoice"
                    and within_tolerance(self.rules, i.open - rem, i.amount_total, p.paid_on, i.issue_date)
                    and self._usable(p, i)):
                tol.append(i)
        if len(tol) == 1 and sum(1 for i in live if i.doc_type == "invoice") <= self.rules.tolerances.short_by_amount_max_open:
            if pays_on_account(p, self.rules):
                self._suggest(p, tol, rule, f"{_who(cid, via, decision)}: only open item within short-payment "
                              "tolerance", on_account=True)
                return True
            self._apply(p, tol[0], p.remaining, rule,
                        f"{_who(cid, via, decision)}: only open item within short-payment tolerance")
            return True
        if tol:
            self._suggest(p, tol, rule, f"{_who(cid, via, decision)}: amount within tolerance")
            return True
        if target > 0 and least is not None and least > target:
            return False  # what _subset concludes too: every item alone owes more than the payment
        items = [i for i in live if self._usable(p, i)]
        who = _who(cid, via, decision)
        if items and self._subset(p, items, who):
            return True
        return self._overpaid(p, items, rule, who)

    def _overpaid(self, p: Payment, items: list[Item], rule: str, who: str) -> bool:
        """A payer who owes one invoice and pays more, up to twice it: the invoice is paid, the rest stays
        as customer credit (an overpayment exception says how much, for a person to refund or apply).

        Only then: with two open items the excess may be part of the other one's payment, and a payment
        of more than twice the only invoice is more likely for something the book does not hold yet. Never
        for a remittance naming invoices (settled ones, typically: a second payment, not this invoice's),
        nor one holding any reference at all: "Anzahlung lt. AB zu Auftrag 4500084436" is a payment on
        account of an order, and the invoice it would take is paid three days later by its own transfer.
        """
        if len(items) != 1 or p.candidates or payment_tokens(p, self.rules) or pays_on_account(p, self.rules):
            return False
        item = items[0]
        if item.doc_type != "invoice" or item.open <= 0 or not item.open < p.remaining <= 2 * item.open:
            return False
        self._apply(p, item, item.open, rule, f"{who}: its only open item owes {item.open} {p.currency}, the "
                    f"payment is {p.remaining}; the rest stays as customer credit")
        return True

    def _subset(self, p: Payment, items: list[Item], who: str) -> bool:
        cfg = self.rules.subset_sum
        if not self.rules.rule("subset_sum").enabled:
            return False
        pool = items[: cfg.max_items]
        cents = [int(i.open * 100) for i in pool]
        target = int(p.remaining * 100)
        if target > 0 and min(cents, default=target + 1) > target:
            return False  # every item alone owes more than the payment: no sum of them can fit
        chosen: tuple[int, ...] | None = None
        n = oldest_prefix(cents, target, cfg.max_subset_size)
        how = "oldest open items"
        if n and n > 1:
            chosen = tuple(range(n))
        else:
            result = subset_sum(cents, target, max_size=cfg.max_subset_size, max_nodes=cfg.max_nodes)
            if result.unique and len(result.unique) > 1:
                if not all(pool[k].owed_in_full for k in result.unique):
                    # remainders of invoices part paid summing with others to exactly the amount: as often chance
                    # as intent among a customer's leftovers, so a person says
                    self._suggest(p, [pool[k] for k in result.unique], "subset_sum", f"{who}: the only combination "
                                  f"of open items summing to {p.remaining} holds the rest of a part-paid invoice")
                    return True
                chosen, how = result.unique, "the only combination of open items"
            elif result.solutions:
                first = [pool[k] for k in result.solutions[0]]
                if len(first) > 1 or result.exhausted or len(result.solutions) > 1:
                    self._suggest(p, first, "subset_sum", f"{who}: several combinations of open items "
                                  f"sum to {p.remaining}")
                    return True
        if not chosen:
            return False
        if pays_on_account(p, self.rules):
            self._suggest(p, [pool[k] for k in chosen], "subset_sum", f"{who}: {how} sum to the amount", on_account=True)
            return True
        numbers = ", ".join(pool[k].invoice_number or pool[k].invoice_id for k in chosen)
        for k in sorted(chosen, key=lambda k: pool[k].open >= 0):
            item = pool[k]
            self._apply(p, item, item.open, "subset_sum", f"{who}: {how} sum to the amount ({numbers})")
        return True

    def _invoices_owing(self, p: Payment, *, besides: frozenset[str] = frozenset()) -> list[Item]:
        """The open invoices of the whole book owing exactly what ``p`` has left (of customers not in ``besides``)."""
        return [i for i in self.by_amount.get(p.remaining, []) if i.doc_type == "invoice"
                and i.open == p.remaining and i.customer_id not in besides and self._usable(p, i)]

    def _amount_only(self, p: Payment) -> bool:
        rule = self.rules.rule("amount_only")
        pool = self._invoices_owing(p)
        if len(pool) == 1 and rule.enabled:
            item = pool[0]
            self._apply(p, item, p.remaining, "amount_only",
                        f"unknown payer; invoice {item.invoice_number} is the only open item of this amount",
                        suggest=not rule.auto)
            if rule.auto:
                return True
            self._exception(p, "unmatched_payment", f"payer unknown; suggested invoice "
                            f"{item.invoice_number or item.invoice_id} by amount alone", invoice_id=item.invoice_id)
            return True
        return False

    def _amount_beyond_taught(self, p: Payment, customers: list[tuple[str, str, str | None]]) -> bool:
        """A payer people taught pays for others (a parent company, confirmed once for one subsidiary) whose
        customers, its own and the taught ones, owe nothing that fits: the only open item of its amount,
        another customer's, is suggested, never applied. One confirmation teaches "this payer pays for C0011",
        not "this payer is C0011": the parent paying its other subsidiary's invoice is as likely as money for
        C0011 to come. The cash is not attributed to any of them while the suggestion stands."""
        if not self.rules.rule("amount_only").enabled:
            return False
        taught = frozenset(cid for cid, _, _ in customers)  # the payer's own and those it was taught to pay for
        pool = self._invoices_owing(p, besides=taught)
        if len(pool) != 1:
            return False
        item, decisions = pool[0], ", ".join(sorted({str(d) for _, _, d in customers if d}))
        own = sorted(c for c, via, _ in customers if via != "alias")
        others = sorted(c for c, via, _ in customers if via == "alias")
        why = (f"payer{' (' + ', '.join(own) + ')' if own else ''} taught by decision {decisions} to pay for "
               f"{', '.join(others)}, and none of their open items fits; invoice {item.invoice_number or item.invoice_id} "
               f"of customer {item.customer_id} is the only open item of this amount")
        self._apply(p, item, p.remaining, "amount_only", f"{why}; suggestion, not applied", suggest=True)
        self._exception(p, "unmatched_payment", f"{why}: suggested; confirm it to teach that this payer also pays "
                        f"for {item.customer_id}", invoice_id=item.invoice_id, customer_id=None)
        return True

    def _unconfirmed_reference(self, p: Payment, customers: list[tuple[str, str, str | None]]) -> None:
        """A reference whose invoices neither the payer nor the amount confirms: suggest, never apply.

        Typically a typo that happens to be another valid number (FA-2025-000004 written
        FA-2025-000040): the named invoice belongs to someone else or owes another amount.
        """
        named = [self.items[i] for i, _ in p.candidates if i in self.items]
        named = [it for it in named if it.currency == p.currency and it.open > 0]
        kind = min(k for _, k in p.candidates)
        payer = customers[0][0] if customers else None
        owners = {it.customer_id for it in named}
        numbers = ", ".join(it.invoice_number or it.invoice_id for it in named) or "an invoice already settled"
        if payer and owners and payer not in owners:
            why = f"reference names {numbers} of customer {', '.join(sorted(str(o) for o in owners))}, but the payer is {payer}"
            kind_exc = "customer_mismatch"
        else:
            owed = sum((it.open for it in named), Decimal("0"))
            why = f"reference names {numbers} owing {owed} {p.currency}, but the payment is {p.remaining}"
            kind_exc = "amount_mismatch"
        for item in named[:MAX_SUGGESTIONS]:
            self._apply(p, item, min(p.remaining, item.open), KIND_RULE[kind], f"{why}; suggestion, not applied",
                        suggest=True)
        self._exception(p, kind_exc, why + "; confirm the invoice or correct the reference",
                        invoice_id=named[0].invoice_id if named else None)

    # -- driver ----------------------------------------------------------------------------
    def _record_reach(self, p: Payment) -> None:
        found = self._customers(p)
        self.out.reach.extend({"payment_id": p.payment_id, "kind": "customer", "value": cid} for cid, _, _ in found)
        if not found or _pays_for_others(found):  # an unknown payer (or one paying for others) can take any item of its amount
            self.out.reach.append({"payment_id": p.payment_id, "kind": "amount", "value": str(p.remaining)})

    def _stamp(self, p: Payment) -> tuple[int, ...] | None:
        """What ``p``'s last failed attempt read, as move counts of its customers; None when it also
        reads items beyond them (references it names, an unknown payer's items of its amount)."""
        customers = self._customers(p)
        if p.candidates or not customers or p.erp is not None or _pays_for_others(customers):
            return None
        return tuple(self._moved[c] for c, _, _ in customers)

    def _place(self, p: Payment) -> bool:
        """Try every rule on ``p``; False only when nothing applies (the payment is still unmatched)."""
        if p.candidates and not p.uncorroborated:
            self._references(p)
            return True
        if p.erp is not None and not p.candidates and self._erp_receipt(p):
            return True
        customers = self._customers(p)
        # the fuzzy-reference pool is only worth building when the remittance holds a reference token
        fuzzy = self.rules.rule("fuzzy_reference").enabled and bool(payment_tokens(p, self.rules))
        pool = [i for cid, _, _ in customers for i in self.by_customer.get(cid, [])
                if self._usable(p, i)] if fuzzy else []
        own = p.own_reference or (p.uncorroborated and bool(customers) and self._names_own_invoices(p, customers))
        if own:  # the payer's own invoice, another amount: a typo of an exact fit, else as named
            named = frozenset(i for i, _ in p.candidates)
            if not self._fuzzy_reference(p, pool, exclude=named):
                self._references(p)
            return True
        if not customers and fuzzy:
            pool = [i for i in self.by_amount.get(p.remaining, [])
                    if i.open == p.remaining and self._usable(p, i)]
        if self._fuzzy_reference(p, pool, allow_partial=bool(customers)):
            return True
        if (customers or pool) and self._tail_reference(p, pool, payer_known=bool(customers)):
            return True
        if any(self._by_customer(p, cid, via, dec) for cid, via, dec in customers):
            return True
        if p.uncorroborated:
            self._unconfirmed_reference(p, customers)
            return True
        if not customers:
            return self._amount_only(p)
        return _pays_for_others(customers) and self._amount_beyond_taught(p, customers)

    def run(self) -> Outcome:
        unmatched: list[Payment] = []
        seen: dict[str, tuple[int, ...] | None] = {}  # per unmatched payment, what its last attempt read
        for p in self.payments:
            if p.remaining <= 0:
                continue
            self._record_reach(p)
            if not self._place(p):
                unmatched.append(p)
                seen[p.payment_id] = self._stamp(p)
        # Second chance, until nothing moves: a payment met its items before a later payment settled
        # part of one, and may fit the remainder now. Without it a full run would depend on the order of
        # payment dates while an incremental run (which finds that later payment already applied) would
        # not: the two must agree.
        # A payment with candidate customers and no reference candidates reads only those customers'
        # items (see _place), and a failed attempt changes nothing: while none of them moved, another
        # attempt would fail again, so it is skipped (at volume most unmatched payments are such).
        while unmatched:
            applied = len(self.out.matches)
            again = []
            for p in unmatched:
                stamp = self._stamp(p)
                if stamp is not None and stamp == seen[p.payment_id]:
                    again.append(p)
                elif not self._place(p):
                    seen[p.payment_id] = self._stamp(p)
                    again.append(p)
            unmatched = again
            if len(self.out.matches) == applied:
                break
        for p in unmatched:
            customers = self._customers(p)
            who = ", ".join(c[0] for c in customers) if customers else "unknown payer"
            # a match a person rejected is why its invoice was not taken: say so, not "no invoice found"
            refused = sorted(i for q, i in self.blocked if q == p.payment_id) if self.blocked else []
            if refused:
                numbers = ", ".join(self.items[i].invoice_number or i if i in self.items else i for i in refused)
                self._exception(p, "unmatched_payment", f"its match to {numbers} was rejected by a person and no "
                                f"other invoice fits ({who}); reference '{(p.reference or '')[:80]}'")
                continue
            self._exception(p, "unmatched_payment", f"no invoice found ({who}); reference "
                            f"'{(p.reference or '')[:80]}'")
        return self.out
