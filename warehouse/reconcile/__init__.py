"""Reconciliation (lettrage): payments and bank lines applied to invoices, explained and queued.

Public surface::

    reconcile(engine, *, as_of, rules=None, entity=None, incremental=False) -> ReconcileSummary
    confirm_match(engine, match_id, actor, reason=None) / reject_match(...)
    record_decision(engine, *, entity, kind, actor, ...)
    export_lettrage_proposal(engine, entity, path) -> rows written
    export_lettrage_proposals(engine, out_dir, as_of, entities=None) -> {entity: (path, rows)}

Writes only ``fct_match``, ``fct_reconciliation_exception``, ``fct_invoice`` and
its own bookkeeping (``decision``, ``payer_alias``, ``reconcile_*``).
"""

from __future__ import annotations

from warehouse.reconcile.decisions import confirm_match, record_decision, reject_match
from warehouse.reconcile.erp import export_lettrage_proposal, export_lettrage_proposals
from warehouse.reconcile.run import ReconcileSummary, reconcile

__all__ = [
    "ReconcileSummary", "confirm_match", "export_lettrage_proposal", "export_lettrage_proposals", "reconcile",
    "record_decision", "reject_match",
]
