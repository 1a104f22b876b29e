"""What the demo shows: the batch the contract would take today, and the cash it would bring.

Read-only (a proposal, nothing planned or sent), so the demo can call it on the
sample world at any time: with the sample contract the batch holds the at-risk
and long-terms (60-day) customers' fresh invoices.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from actions.factoring.selection import propose
from mappings.factoring import FactoringMapping, load_factoring
from warehouse.engine import Engine


def demo_proposals(engine: Engine, as_of: date, mapping: FactoringMapping | None = None) -> list[dict[str, Any]]:
    """One proposal summary per (contract, entity) with invoices in the warehouse.

    Each summary: batch_id, invoices, customers, amount, advance_amount, fees, net_advance
    (the expected cash), refused reasons and the lines (invoice, customer, segment, terms, amount, advance).
    """
    mapping = mapping or load_factoring()
    entities = {str(e) for (e,) in engine.query("SELECT DISTINCT entity FROM fct_invoice")}
    out: list[dict[str, Any]] = []
    for contract in mapping.contracts:
        for entity in contract.entities:
            if entity not in entities:
                continue
            proposal = propose(engine, contract, entity, as_of)
            summary = proposal.summary()
            summary["lines"] = [
                {"invoice_number": c.invoice_number, "customer_id": c.customer_id, "customer_name": c.customer_name,
                 "segment": c.segment, "payment_terms_days": c.payment_terms_days, "due_date": c.due_date.isoformat(),
                 "amount": str(c.amount_open), "advance_amount": str(line.advance), "net_advance": str(line.net_advance)}
                for c, line in zip(proposal.selected, proposal.lines, strict=True)
            ]
            out.append(summary)
    return out


def format_proposals(proposals: list[dict[str, Any]], *, max_lines: int | None = 10) -> str:
    """Plain text for the console: each batch, its first ``max_lines`` invoices (None: all) and what was left out."""
    lines: list[str] = []
    for p in proposals:
        lines.append(
            f"{p['entity']} → {p['factor']} ({p['contract_id']}): batch {p['batch_id'] or '-'}, "
            f"{p['invoices']} invoices of {p['customers']} customers, {p['amount']} {p['currency']}; "
            f"advance {p['advance_amount']}, fees {p['commission']} + {p['financing_fee']}, "
            f"expected cash {p['net_advance']} {p['currency']}")
        shown = p.get("lines", []) if max_lines is None else p.get("lines", [])[:max_lines]
        for line in shown:
            lines.append(f"   {line['invoice_number']:<14} {line['customer_id']:<12} {line['segment'] or '-':<16} "
                         f"{line['payment_terms_days'] or '-':>3}d  {line['amount']:>12}  advance {line['advance_amount']:>12}")
        if len(shown) < len(p.get("lines", [])):
            lines.append(f"   … and {len(p['lines']) - len(shown)} more (--all lists every invoice)")
        if p["refused"]:
            lines.append("   left out: " + ", ".join(f"{k} {v}" for k, v in sorted(p["refused"].items())))
    return "\n".join(lines)
