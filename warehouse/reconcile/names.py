"""Customer names as the residue compares them, normalised once and kept between runs.

The residue finds a payer by name (exact, then fuzzy) among every customer of the entity.
Normalising 50,000 names (accents folded, punctuation and legal forms stripped) cost
~0.25 s of Python in every run (~0.07 s since normalize_name's ASCII fast path), full or
incremental, although names rarely change. They
are kept in ``reconcile_customer_name`` with the legal forms they were normalised with; a
run normalises only customers that are new, renamed, or whose legal forms changed
(``mappings/matching.yaml``); :class:`CustomerNames` then reads back only the names a
batch asks for, or all of them for a fuzzy search.
"""

from __future__ import annotations

import hashlib

from warehouse.engine import Engine
from warehouse.reconcile.bulk import insert_rows
from warehouse.reconcile.decisions import normalize_name

# Bumped when normalize_name changes (2: runs of single letters joined, S.A.R.L. -> SARL), so kept
# names are normalised again, as when the legal forms change.
_NORMALIZATION = "2"


def _forms_key(legal_forms: tuple[str, ...]) -> str:
    return hashlib.md5((_NORMALIZATION + "#" + "|".join(sorted(legal_forms))).encode()).hexdigest()


class CustomerNames:
    """The normalised names of one entity's customers, read from ``reconcile_customer_name`` as needed.

    Most residue payers are found by IBAN, alias or the exact name: looking up just the batch's
    names is one small query, where reading every customer (50,000 rows, and a dict of them) was
    a tenth of an incremental run. The whole list is read only for a fuzzy name search.
    """

    def __init__(self, engine: Engine, entity: str) -> None:
        self._engine, self._entity = engine, entity
        self._all: dict[str, str] | None = None

    def with_names(self, names: set[str]) -> dict[str, list[str]]:
        """``normalised name -> customer ids`` (in id order) for the names asked that some customer has."""
        known = self._all if self._all is not None else self._of_names(names)
        found: dict[str, list[str]] = {}
        for cid, norm in known.items():
            if norm in names:
                found.setdefault(norm, []).append(cid)
        return found

    def _of_names(self, names: set[str]) -> dict[str, str]:
        """``customer_id -> normalised name`` of the customers some row of which has one of ``names``."""
        self._engine.execute("DELETE FROM rc_need_name")
        insert_rows(self._engine, "rc_need_name", ("name",), [{"name": n} for n in names])
        # every row of the customers concerned: as in all(), a customer's last row (by name) is its name
        return {str(cid): str(norm) for cid, norm in self._engine.query(
            "SELECT customer_id, normalized FROM reconcile_customer_name WHERE entity = :entity "
            "AND customer_id IN (SELECT customer_id FROM reconcile_customer_name WHERE entity = :entity "
            "AND normalized IN (SELECT name FROM rc_need_name)) ORDER BY customer_id, name",
            {"entity": self._entity})}

    def all(self) -> dict[str, str]:
        """``customer_id -> normalised name`` for every named customer (read once)."""
        if self._all is None:
            self._all = {str(cid): str(norm) for cid, norm in self._engine.query(
                "SELECT customer_id, normalized FROM reconcile_customer_name WHERE entity = :entity "
                "ORDER BY customer_id, name", {"entity": self._entity})}
        return self._all


def customer_names(engine: Engine, entity: str, legal_forms: tuple[str, ...]) -> CustomerNames:
    """The entity's normalised customer names, after refreshing the kept ones that are stale
    (the table itself is created by ``ensure_reconcile_tables``)."""
    p = {"entity": entity, "forms": _forms_key(legal_forms)}
    kept = ("SELECT 1 FROM reconcile_customer_name AS n WHERE n.entity = c.entity AND n.customer_id = c.customer_id "
            "AND n.name = c.name AND n.forms = :forms")
    stale = engine.query(
        f"SELECT DISTINCT c.customer_id, c.name FROM dim_customer AS c WHERE c.entity = :entity "
        f"AND c.customer_id IS NOT NULL AND c.name IS NOT NULL AND c.name <> '' AND NOT EXISTS ({kept})", p)
    # rows of customers gone or renamed, or of other legal forms, go (two plain DELETEs: an EXISTS
    # inside an OR runs per row); what is left matches dim_customer, so stale rows are only added
    engine.execute("DELETE FROM reconcile_customer_name WHERE entity = :entity AND forms <> :forms", p)
    engine.execute("DELETE FROM reconcile_customer_name WHERE entity = :entity AND NOT EXISTS (SELECT 1 FROM dim_customer "
                   "AS c WHERE c.entity = reconcile_customer_name.entity AND c.customer_id = reconcile_customer_name.customer_id "
                   "AND c.name = reconcile_customer_name.name)", {"entity": entity})
    if stale:
        insert_rows(engine, "reconcile_customer_name", ("entity", "customer_id", "name", "forms", "normalized"),
                    [{"entity": entity, "customer_id": cid, "name": name, "forms": p["forms"],
                      "normalized": normalize_name(name, legal_forms)} for cid, name in stale])
    return CustomerNames(engine, entity)
