"""Factoring (affacturage): hand eligible receivables to a factor, exactly once, and follow the money.

    selection ─▶ outbox (planned → built → uploaded → confirmed) ─▶ SFTP/HTTPS ─▶ fct_factoring_assignment
    fct_bank_line (factor) ─▶ settlement (advance, reserve release, fee, transfer) ─▶ mart_factoring
                              └▶ settlement items: invoices the factor collected ─▶ status collected
    fct_match on assigned invoices ─▶ factoring_exception paid_to_us_factored ◀─ our transfers close it

The contract terms are data (``mappings/factoring.yaml``); fct_invoice shows an
assigned invoice as ``factored`` through reconciliation (``70_invoice.sql``).
"""

from __future__ import annotations

from actions.factoring.demo import demo_proposals, format_proposals
from actions.factoring.eligibility import Candidate, apply_concentration, decide, exclusion_reason
from actions.factoring.mart import build_mart_factoring
from actions.factoring.outbox import RunReport, advance_batch, plan_batch, run_contract
from actions.factoring.pricing import price_line
from actions.factoring.schema import ensure_factoring_tables
from actions.factoring.selection import Proposal, propose
from actions.factoring.settlement import reconcile_settlements

__all__ = [
    "Candidate", "Proposal", "RunReport", "advance_batch", "apply_concentration", "build_mart_factoring", "decide",
    "demo_proposals", "ensure_factoring_tables", "exclusion_reason", "format_proposals", "plan_batch",
    "price_line", "propose", "reconcile_settlements", "run_contract",
]
