"""Reading the residue's batch from the warehouse: the search's I/O.

The run (run.py) calls :func:`load_and_run` once per pass. It reads the payments the cascade left (``rc_pay``
less ``rc_match``, with their reference candidates and what 30_allocate said of them), the ERP's receipts of
the same money, the customer numbers unknown payers wrote, and only the open items those payments can reach
(:meth:`Residue.needs`); runs the search of ``residue.py``, which touches no engine; and returns its rows for
the run to write. Kept apart so that the search reads as its rules and its tests build inputs by hand.
"""

from __future__ import annotations

import gc
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

from mappings.matching import MatchingRules
from warehouse.engine import Engine
from warehouse.reconcile.bulk import insert_rows
from warehouse.reconcile.erp import ERP_MOVEMENTS
from warehouse.reconcile.names import CustomerNames, customer_names
from warehouse.reconcile.residue import (
    NETTED_IN_OPEN0,
    ErpHint,
    ErpLine,
    Item,
    Outcome,
    Payment,
    Residue,
    customer_number_key,
    payment_tokens,
)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (reference counting still frees everything).

    A batch builds ~10^5 rows, items, payments and names that all live until it ends and form
    no reference cycles; while they accumulate, the collector re-traverses the growing heap
    again and again for nothing (about 0.25 s of a 30,000-payment batch).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_and_run(engine: Engine, rules_for: Any, *, max_inv: int, widen: Callable[[], None] | None = None,
                 names_fresh: bool = False) -> Outcome:
    """Read the residue of this run from the rc_* tables, search it, and return rows to write.

    ``widen`` (incremental runs, whose rc_inv holds only what they touch) is called once the
    rc_need_* tables say what the batch can reach, to bring those open items into rc_inv.
    ``names_fresh``: no customer changed since the kept names were normalised (the run checked),
    so they are read without comparing every customer with them first.
    """
    with _collector_paused():
        return _load_and_run(engine, rules_for, max_inv=max_inv, widen=widen, names_fresh=names_fresh)


def _load_and_run(engine: Engine, rules_for: Any, *, max_inv: int, widen: Callable[[], None] | None,
                  names_fresh: bool) -> Outcome:
    # only the columns the residue reads, as tuples (a dict per row of ``p.*`` cost more than the search)
    rows = engine.query(
        "SELECT p.entity, p.payment_id, p.currency, p.paid_on, p.remaining, p.reference, p.payer_name, "
        "p.payer_iban, p.customer_id, p.customer_via, p.alias_decision, s.n_inv, s.n_key, "
        "CASE WHEN x.payment_id IS NULL THEN 0 ELSE 1 END AS is_complex, coalesce(x.deducts, 0) AS deducts, "
        "CASE WHEN u.payment_id IS NULL THEN 0 ELSE 1 END AS is_uncorr, coalesce(u.same_cust, 0) AS own_ref, "
        "p.refunded "
        "FROM rc_pay AS p "
        "LEFT JOIN rc_pstat AS s ON s.entity = p.entity AND s.payment_id = p.payment_id "
        "LEFT JOIN rc_complex AS x ON x.entity = p.entity AND x.payment_id = p.payment_id "
        "LEFT JOIN rc_uncorr AS u ON u.entity = p.entity AND u.payment_id = p.payment_id "
        "WHERE p.status = 'succeeded' AND p.remaining > 0 "
        f"AND (s.payment_id IS NULL OR s.n_key > 1 OR s.n_inv > {int(max_inv)} OR x.payment_id IS NOT NULL "
        "OR u.payment_id IS NOT NULL)"
    )
    outcome = Outcome()
    if not rows:
        return outcome
    cands = engine.query(
        "SELECT c.entity, c.payment_id, c.invoice_id, c.kind, i.customer_id, c.token FROM rc_cand AS c "
        "JOIN rc_pstat AS s ON s.entity = c.entity AND s.payment_id = c.payment_id "
        "LEFT JOIN rc_inv AS i ON i.invoice_id = c.invoice_id "
        "LEFT JOIN rc_complex AS x ON x.entity = c.entity AND x.payment_id = c.payment_id "
        "LEFT JOIN rc_uncorr AS u ON u.entity = c.entity AND u.payment_id = c.payment_id "
        f"WHERE s.n_key > 1 OR s.n_inv > {int(max_inv)} OR x.payment_id IS NOT NULL OR u.payment_id IS NOT NULL "
        "ORDER BY c.payment_id, c.kind, c.invoice_id"  # (a payment's candidates in one order on every engine)
    )
    by_payment: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    tokens_of: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for ent, pid, iid, kind, owner, token in cands:
        by_payment[(ent, pid)].append((iid, int(kind)))
        if token:
            tokens_of[(ent, pid)][str(iid)] = str(token)
        if owner is not None:
            owners[(ent, pid)].add(str(owner))
    payments: dict[str, list[Payment]] = defaultdict(list)
    for (entity, payment_id, currency, paid_on, remaining, reference, payer_name, payer_iban, customer_id,
         customer_via, alias_decision, n_inv, n_key, is_complex, deducts, is_uncorr, own_ref, refunded) in rows:
        p = Payment(
            entity=entity, payment_id=payment_id, currency=currency, paid_on=paid_on, remaining=Decimal(remaining),
            reference=reference, payer_name=payer_name, payer_iban=payer_iban, customer_id=customer_id,
            customer_via=customer_via, alias_decision=alias_decision,
            candidates=by_payment.get((entity, payment_id), []),
            candidate_tokens=tokens_of.get((entity, payment_id), {}),
            named_customers=tuple(sorted(owners.get((entity, payment_id), ()))),
            refunded=Decimal(refunded or 0),
        )
        p.ambiguous = bool(n_key and int(n_key) > 1) or bool(n_inv and int(n_inv) > max_inv)
        p.complex_ = bool(is_complex)
        p.deducts = bool(deducts)
        p.uncorroborated = bool(is_uncorr) and not p.ambiguous and not p.complex_
        p.own_reference = p.uncorroborated and bool(own_ref)
        payments[entity].append(p)
    names: dict[str, CustomerNames] = {}
    aliases: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entity in payments:
        p_ent = {"entity": entity}
        names[entity] = (CustomerNames(engine, entity) if names_fresh
                         else customer_names(engine, entity, rules_for(entity).fuzzy.legal_forms))
        aliases[entity] = engine.query_dicts(
            "SELECT entity, customer_id, kind, value, decision_id FROM payer_alias WHERE entity = :entity "
            "ORDER BY customer_id, kind, value, decision_id", p_ent)
    blocked = {(e, p, i) for e, p, i in engine.query("SELECT entity, payment_id, invoice_id FROM rc_blocked")}
    for entity, plist in payments.items():
        ent_blocked = {(p, i) for e, p, i in blocked if e == entity}
        rules = rules_for(entity)
        hints = _erp_hints(engine, entity, rules)
        for p in plist:
            p.erp = hints.get(p.payment_id)
        batch = Residue(rules, plist, {}, {}, aliases.get(entity, []), ent_blocked, names=names[entity],
                        numbers=_customer_numbers(engine, entity, plist, rules))
        batch.set_items(_load_items(engine, entity, *batch.needs(), widen=widen))
        res = batch.run()
        outcome.matches.extend(res.matches)
        outcome.exceptions.extend(res.exceptions)
        outcome.reach.extend(res.reach)
    return outcome


def _erp_hints(engine: Engine, entity: str, rules: MatchingRules) -> dict[str, ErpHint]:
    """``payment_id -> ErpHint`` for this run's payments that the ERP booked, as far as it says so alone.

    A bank movement the ERP booked (the customer lines of one journal entry or payment document; its
    amount what the entry books on the bank, else those lines summed) pairs with a bank credit of exactly
    its amount and currency when the ERP's date is at most ``erp.receipt_days_before_bank`` before or
    ``receipt_days_after_bank`` after the bank's. A pair counts only when each side has no other: every
    credit of the entity is weighed, the ones the cascade already placed included, so a movement that
    could be another credit's is nobody's. Nothing is read for an entity whose ERP data hold no receipt
    (most books without a FEC or SAP source).
    """
    p = {"entity": entity}
    if not engine.query("SELECT 1 FROM int_erp_receipts WHERE entity = :entity LIMIT 1", p):
        return {}
    w = rules.erp
    rows = engine.query(
        f"WITH mv AS ({ERP_MOVEMENTS}"
        "), credit AS ("
        "  SELECT p.payment_id, upper(p.currency) AS currency, p.amount, p.paid_on, b.entry_id FROM fct_payment AS p "
        "  LEFT JOIN fct_bank_line AS b ON b.entity = p.entity AND b.bank_line_id = p.payment_id "
        "  WHERE p.entity = :entity AND p.channel <> 'erp' AND p.status = 'succeeded' AND p.amount > 0"
        "), bank AS ("
        "  SELECT payment_id, currency, amount, paid_on FROM credit WHERE amount IN (SELECT bank FROM mv)"
        # a batch entry's transactions (their entry the ERP may book as one bank line): the batch as one credit
        "  UNION ALL"
        "  SELECT '" + _BATCH + "' || entry_id, min(currency), sum(amount), min(paid_on) FROM credit"
        "  WHERE entry_id <> payment_id GROUP BY entry_id HAVING min(currency) = max(currency)"
        "    AND sum(amount) IN (SELECT bank FROM mv)"
        "), pairs AS ("
        "  SELECT b.payment_id, m.movement_id, m.booked_on, m.lines - m.bank AS fees FROM bank AS b JOIN mv AS m "
        "    ON m.currency = b.currency AND m.bank = b.amount "
        f"   AND m.booked_on >= b.paid_on - {int(w.receipt_days_before_bank)} "
        f"   AND m.booked_on <= b.paid_on + {int(w.receipt_days_after_bank)}"
        "), alone AS ("
        "  SELECT payment_id, min(movement_id) AS movement_id, min(booked_on) AS booked_on, min(fees) AS fees "
        "  FROM pairs WHERE (payment_id IN (SELECT payment_id FROM rc_pay) OR payment_id LIKE '" + _BATCH + "%') "
        "    AND movement_id IN (SELECT movement_id FROM pairs GROUP BY movement_id HAVING count(*) = 1) "
        "  GROUP BY payment_id HAVING count(*) = 1"
        ") "
        "SELECT a.payment_id, a.movement_id, a.booked_on, a.fees, r.payment_id, r.customer_id, r.amount, "
        "       r.erp_lettrage, r.reference, r.returned_on, r.returned_by, i.invoice_id "
        "FROM alone AS a JOIN int_erp_receipts AS r ON r.entity = :entity AND r.movement_id = a.movement_id "
        # (a FEC letters per account, so codes repeat across customers: the receipt line's customer's documents;
        # an ERP whose receipt lists the invoices it applied to, NetSuite, SAP Business One, Sage Accounting
        # "5056,5231": those invoices of the same system)
        "LEFT JOIN int_invoices AS i ON i.entity = :entity "
        "  AND (i.erp_lettrage = r.erp_lettrage OR (r.movement_id LIKE i.source_system || ':%' "
        "       AND ',' || replace(r.erp_lettrage, ' ', '') || ',' LIKE '%,' || i.invoice_id || ',%')) "
        "  AND i.customer_id = r.customer_id AND upper(i.currency) = upper(r.currency) "
        "WHERE r.customer_id IS NOT NULL "
        "ORDER BY a.payment_id, r.customer_id, r.erp_lettrage, r.payment_id, i.invoice_id", p)
    heads: dict[str, tuple[str, date | None, Decimal]] = {}
    lines: dict[str, dict[str, tuple[str, Decimal, str | None, str | None, list[str], Any, str | None]]] = \
        defaultdict(dict)
    for (payment_id, movement_id, booked_on, fees, line_id, customer_id, amount, code, label, returned_on, returned_by,
         invoice_id) in rows:
        heads[payment_id] = (movement_id, booked_on, Decimal(fees or 0))
        line = lines[payment_id].setdefault(
            line_id, (str(customer_id), Decimal(amount), code, label, [], returned_on, returned_by))
        if invoice_id is not None:
            line[4].append(str(invoice_id))
    hints = {pid: ErpHint(mid, on, tuple(ErpLine(c, a, k, lab, tuple(ivs), ron, rby)
                                         for c, a, k, lab, ivs, ron, rby in lines[pid].values()), fees)
             for pid, (mid, on, fees) in heads.items()}
    batches = {pid: hint for pid, hint in hints.items() if pid.startswith(_BATCH)}
    for pid in batches:
        del hints[pid]
    if batches:
        hints.update(_batch_hints(engine, entity, batches))
    return hints


# (the credit id _erp_hints gives a batch entry paired as a whole: never a payment id, which is a provider's or a
# statement's reference)
_BATCH = "~batch~"


def _batch_hints(engine: Engine, entity: str, batches: dict[str, ErpHint]) -> dict[str, ErpHint]:
    """The ERP booked a batch entry (a cheque remittance, a batch of transfers) as one bank line of its total with
    one customer line per payer: each transaction is the receipt line of exactly its amount, when neither the
    batch nor the receipt has another of that amount. A batch whose entry books anything beside the bank and the
    customers (fees) is left alone, as is every transaction an amount does not tell apart."""
    entries = {pid[len(_BATCH):]: hint for pid, hint in batches.items() if hint.fees == 0}
    if not entries:
        return {}
    params: dict[str, Any] = {"entity": entity, **{f"e{i}": e for i, e in enumerate(entries)}}
    marks = ", ".join(f":e{i}" for i in range(len(entries)))
    txs: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for entry_id, payment_id, amount in engine.query(
            "SELECT b.entry_id, p.payment_id, p.amount FROM fct_payment AS p JOIN fct_bank_line AS b "
            "ON b.entity = p.entity AND b.bank_line_id = p.payment_id WHERE p.entity = :entity "
            f"AND p.status = 'succeeded' AND p.amount > 0 AND b.entry_id IN ({marks}) "
            "AND p.payment_id IN (SELECT payment_id FROM rc_pay) ORDER BY p.payment_id", params):
        txs[str(entry_id)].append((str(payment_id), Decimal(amount)))
    out: dict[str, ErpHint] = {}
    for entry_id, hint in entries.items():
        lines_of = Counter(line.amount for line in hint.lines)
        txs_of = Counter(amount for _, amount in txs[entry_id])
        for payment_id, amount in txs[entry_id]:
            if txs_of[amount] == 1 and lines_of[amount] == 1:
                line = next(line for line in hint.lines if line.amount == amount)
                out[payment_id] = ErpHint(hint.movement_id, hint.booked_on, (line,), Decimal("0"))
    return out


def _customer_numbers(engine: Engine, entity: str, payments: list[Payment], rules: MatchingRules) -> dict[str, list[str]]:
    """Customers whose number an unknown payer's remittance may hold: ``customer_number_key -> ids``.

    Only the keys the batch's unknown payers wrote are looked up (none at all in most batches),
    and only tokens of at least ``reference.customer_number_min_length`` characters.
    """
    min_len = rules.reference.customer_number_min_length
    wanted = sorted({key for p in payments if not p.customer_id and p.reference and not p.candidates
                     for key in map(customer_number_key, payment_tokens(p, rules)) if len(key) >= min_len})
    if not wanted:
        return {}
    # (zero padding stripped in SQL for all-digit ids, as customer_number_key does; in chunks of bound values)
    cid = "upper(trim(customer_id))"
    key = f"CASE WHEN ltrim({cid}, '0123456789') = '' AND ltrim({cid}, '0') <> '' THEN ltrim({cid}, '0') ELSE {cid} END"
    out: dict[str, list[str]] = defaultdict(list)
    for start in range(0, len(wanted), 1000):
        chunk = wanted[start:start + 1000]
        params: dict[str, Any] = {"entity": entity, **{f"k{i}": k for i, k in enumerate(chunk)}}
        marks = ", ".join(f":k{i}" for i in range(len(chunk)))
        for number, cid in engine.query(
                f"SELECT {key} AS number, customer_id FROM dim_customer WHERE entity = :entity "
                f"AND customer_id IS NOT NULL AND {key} IN ({marks}) ORDER BY customer_id", params):
            out[str(number)].append(str(cid))
    return dict(out)


_NEEDED = ("(customer_id IN (SELECT customer_id FROM rc_need_cust) "
           "OR invoice_id IN (SELECT invoice_id FROM rc_need_inv))")


def _load_items(engine: Engine, entity: str, customers: set[str], amounts: set[Decimal],
                invoices: set[str], *, widen: Callable[[], None] | None = None) -> dict[str, Item]:
    """Open items (after this run's set-based matches) the batch can touch, and no others.

    ``open0`` already nets the credit notes 15_credit_notes applied and the ERP settlements of
    16_erp_settled (both update rc_inv), so their matches (NETTED_IN_OPEN0) are not subtracted a
    second time here: doing so made an invoice partly closed by its credit note look smaller than
    it is, and the payment of exactly what it still owed then found no open item of its amount.
    """
    for table, col, values in (("rc_need_cust", "customer_id", customers), ("rc_need_amt", "amount", amounts),
                               ("rc_need_inv", "invoice_id", invoices)):
        engine.execute(f"DELETE FROM {table}")
        insert_rows(engine, table, (col,), [{col: v} for v in values])
    if widen is not None:
        widen()
    # Without amounts to look up (no unknown payer) only the needed customers' and invoices' items can
    # qualify, and only their matches need summing, not those of the whole book: the same rows.
    if amounts:
        book, mine = "", ""
        wanted = " OR open_now IN (SELECT amount FROM rc_need_amt)"
    else:
        book, mine = " AND " + _NEEDED, " AND invoice_id IN (SELECT invoice_id FROM i)"
        wanted = ""
    rows = engine.query(
        f"WITH i AS (SELECT * FROM rc_inv WHERE entity = :entity{book}), m AS ("
        "  SELECT invoice_id, sum(amount_applied) AS applied FROM rc_match "
        f"  WHERE entity = :entity AND state IN ('auto', 'confirmed') AND rule NOT IN {NETTED_IN_OPEN0}{mine} "
        "  GROUP BY invoice_id"
        "), o AS ("
        "  SELECT i.*, i.open0 - coalesce(m.applied, 0) AS open_now FROM i LEFT JOIN m ON m.invoice_id = i.invoice_id"
        ") "
        "SELECT invoice_id, invoice_number, customer_id, currency, doc_type, issue_date, due_date, amount_total, "
        "open_now, CASE WHEN erp_amount_open = 0 AND amount_total > 0 AND coalesce(erp_lettrage, '') = '' "
        f"THEN 1 ELSE 0 END FROM o WHERE open_now <> 0 AND ({_NEEDED}{wanted})",
        {"entity": entity})
    return {r[0]: Item(r[0], r[1], r[2], r[3], r[4], r[5], r[6], Decimal(r[7]), Decimal(r[8]), bool(r[9]))
            for r in rows}
