"""Money on its way to an invoice: one definition for the flows that must not ask for it again.

Reminders do not chase an invoice whose money is on its way (a transfer naming it received but not yet
applied, a direct debit submitted, a card charge not yet paid out, a bill of exchange accepted or a cheque received and
not yet collected, a credit note not yet applied), and
factoring does not hand such an invoice to the factor: it is being paid. The SQL reads ``:entity`` and
``:lookback`` (the oldest receipt still "on its way": ``mappings/dunning.yaml``
``thresholds.in_transit_lookback_days``).
"""

from __future__ import annotations

from warehouse.engine import Engine
from warehouse.sql import PAYOUT_NOT_BANKED


def transit_sql(engine: Engine) -> str:
    """Money on its way (or credit not yet applied), one row each: what, reference text, customer, amount, currency,
    and the payment's id (``pid``: a person's rejection of that payment for an invoice is heeded)."""
    parts = []
    if engine.table_exists("fct_payment"):
        applied = ("NOT EXISTS (SELECT 1 FROM fct_match AS m WHERE m.entity = p.entity AND m.payment_id = p.payment_id "
                   "AND m.state IN ('auto', 'confirmed'))") if engine.table_exists("fct_match") else "TRUE"
        # not yet paid out, or swept by a payout whose money never reached the bank (failed, canceled, bounced) and
        # not yet sent again (its money back in the provider's balance: fct_payment.banked_payout_id null)
        unbanked = "p.payout_id IS NULL"
        if "banked_payout_id" in engine.columns("fct_payment"):
            unbanked = ("(p.payout_id IS NULL OR (p.banked_payout_id IS NULL AND p.payout_id IN (SELECT f.payout_id "
                        f"FROM fct_payout AS f WHERE f.entity = :entity AND f.status IN {PAYOUT_NOT_BANKED})))")
        # a direct debit submitted, or collected and not yet banked: its customer as fct_payment resolved it
        # (the provider's metadata, the payer's email), its invoice named in its reference
        parts.append(
            "SELECT 'GoCardless payment ' || p.payment_id || CASE WHEN p.status = 'pending' THEN ' submitted' "
            "WHEN p.payout_id IS NULL THEN ' collected, not yet paid out' "
            "ELSE ' collected, its payout ' || p.payout_id || ' never reached the bank' END AS what, coalesce(p.reference, '') AS ref, p.customer_id, "
            "p.amount, p.currency, p.payment_id AS pid FROM fct_payment AS p WHERE p.entity = :entity "
            f"AND p.channel = 'gocardless' AND (p.status = 'pending' OR (p.status = 'succeeded' AND {unbanked}))")
        # a card charge not yet paid out (or swept by a payout that never reached the bank)
        parts.append(
            "SELECT 'Stripe charge ' || p.payment_id || CASE WHEN p.payout_id IS NULL THEN ' not yet paid out' "
            "ELSE ', its payout ' || p.payout_id || ' never reached the bank' END AS what, coalesce(p.reference, '') AS ref, "
            "p.customer_id, p.amount, p.currency, p.payment_id AS pid FROM fct_payment AS p WHERE p.entity = :entity "
            f"AND p.channel = 'stripe' AND p.status IN ('succeeded', 'pending') AND {unbanked} "
            "AND p.paid_on >= :lookback")
        parts.append(
            "SELECT 'bank line ' || p.payment_id || ' received ' || CAST(p.paid_on AS VARCHAR) || ', not yet applied' "
            "AS what, coalesce(p.reference, '') || ' ' || coalesce(p.payer_name, '') AS ref, p.customer_id, p.amount, "
            f"p.currency, p.payment_id AS pid FROM fct_payment AS p WHERE p.entity = :entity "
            f"AND p.channel = 'bank_transfer' "
            f"AND p.status = 'succeeded' AND p.paid_on >= :lookback AND {applied}")
    if engine.table_exists("int_bills") and engine.table_exists("fct_payment"):
        # a bill of exchange the customer accepted (LCR) or a cheque received, until the bank credits it: its
        # customer line becomes a receipt of the bordereau's or the deposit's bank entry, under the same id,
        # once the ERP letters the collection
        parts.append(
            "SELECT CASE WHEN b.kind = 'cheque' THEN 'cheque received ' || CAST(b.accepted_on AS VARCHAR) "
            "|| ', not yet deposited' ELSE 'bill of exchange accepted ' || CAST(b.accepted_on AS VARCHAR) "
            "|| ', not yet collected' END AS what, "
            "coalesce(b.reference, '') AS ref, b.customer_id, b.amount, b.currency, b.bill_id AS pid "
            "FROM int_bills AS b WHERE b.entity = :entity "
            "AND NOT EXISTS (SELECT 1 FROM fct_payment AS c WHERE c.entity = b.entity AND c.payment_id = b.bill_id)")
    if engine.table_exists("fct_invoice"):
        # a credit note issued but not yet applied (no lettrage in the ERP, none by the cascade) that fits an
        # invoice closes it in substance: asking for that money would be asking for it twice
        parts.append(
            "SELECT 'credit note ' || cn.invoice_number || ' of ' || CAST(cn.issue_date AS VARCHAR) || ' not yet "
            "applied' AS what, coalesce(cn.invoice_number, '') AS ref, cn.customer_id, -cn.amount_open AS amount, "
            "cn.currency, CAST(NULL AS VARCHAR) AS pid FROM fct_invoice AS cn WHERE cn.entity = :entity "
            "AND cn.doc_type = 'credit_note' "
            "AND cn.amount_open < 0")
    return " UNION ALL ".join(parts)


def for_invoice(engine: Engine, t: str, i: str) -> str:
    """SQL: transit row ``t`` is money on its way to invoice ``i`` (its number in the reference, or its
    customer and exactly its open amount), unless a person rejected that payment for that invoice."""
    rejected = (f" AND NOT EXISTS (SELECT 1 FROM decision AS rj WHERE rj.entity = {i}.entity AND rj.kind = "
                f"'reject_match' AND rj.payment_id = {t}.pid AND rj.invoice_id = {i}.invoice_id)"
                if engine.table_exists("decision") else "")
    return (f"{t}.currency = {i}.currency AND (strpos(upper({t}.ref), upper({i}.invoice_number)) > 0 "
            f"OR ({t}.customer_id = {i}.customer_id AND {t}.amount = {i}.amount_open)){rejected}")


def invoices_in_transit(engine: Engine, entity: str, lookback: object) -> dict[str, str]:
    """``invoice_id -> what is on its way`` for the open invoices of ``entity`` whose money is coming."""
    transit = transit_sql(engine)
    if not transit or not engine.table_exists("fct_invoice"):
        return {}
    rows = engine.query(
        f"WITH transit AS ({transit}) SELECT i.invoice_id, min(t.what) FROM fct_invoice AS i "
        f"JOIN transit AS t ON {for_invoice(engine, 't', 'i')} "
        "WHERE i.entity = :entity AND i.amount_open > 0 GROUP BY i.invoice_id",
        {"entity": entity, "lookback": lookback})
    return {str(r[0]): str(r[1]) for r in rows}
