"""``write_world``: generate the sample world and write every source file plus the ground truth."""

from __future__ import annotations

import json
import random
from datetime import date
from pathlib import Path

from sandbox.world import bank, erp_api
from sandbox.world.calendar import add_months
from sandbox.world.generate import MONTHS, build_world, invoice_target
from sandbox.world.model import Entity, EntityWorld, WorldSummary
from sandbox.world.writers import camt053, fec, sage_customers, sap
from sandbox.world.writers.ground_truth import write_ground_truth
from sandbox.world.writers.jsonl import write_objects


def write_world(
    root: Path, *, seed: int = 42, size: str | int = "small", as_of: date | None = None,
    fec_encoding: str = "utf-8",
) -> WorldSummary:
    """Write a deterministic sample world under ``root``.

    ``size`` is ``"small"`` (~1,500 invoices), ``"medium"`` (~20,000) or an approximate
    invoice count. ``as_of`` is the world's today; it defaults to ``date.today()`` here
    only, so callers that care (tests, backfills) pass it. ``fec_encoding`` may be
    ``"iso-8859-15"`` to mimic older Sage exports. Same seed, size and as_of give
    byte-identical files.
    """
    as_of = as_of or date.today()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    worlds = build_world(seed, size, as_of)
    paths: list[Path] = []
    counts: dict[str, dict[str, int]] = {}
    start = add_months(as_of, -MONTHS)
    for w in worlds:
        counts[w.entity.code] = _write_entity(root, w, seed, as_of, start, fec_encoding, paths)
    paths += write_ground_truth(root / "ground_truth", worlds, as_of)
    meta = {
        "seed": seed, "size": size, "invoices_target": invoice_target(size), "as_of": as_of.isoformat(),
        "entities": [
            {"code": w.entity.code, "name": w.entity.name, "country": w.entity.country,
             "currency": w.entity.currency, "erp": w.entity.erp, "iban": w.entity.iban, "bic": w.entity.bic,
             "siren": w.entity.siren, "vat_id": w.entity.vat_id, "company_code": w.entity.code
             if w.entity.erp == "sap_export" else None,
             "stripe": {"api_key": w.entity.stripe_api_key},
             "gocardless": {"access_token": w.entity.gocardless_access_token,
                            "creditor_id": _creditor(w)},
             **erp_api_credentials(w.entity)}
            for w in worlds
        ],
    }
    (root / "world.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths.append(root / "world.json")
    return WorldSummary(root=root, seed=seed, size=size, as_of=as_of, counts=counts, paths=paths)


def erp_api_credentials(e: Entity) -> dict[str, object]:
    """The sandbox credentials of an API ERP (nothing for the file-based entities, so their entry is unchanged)."""
    if e.erp == "sage_accounting":
        return {"sage_accounting": {"access_token": f"sage_sandbox_{e.code}_token"}}
    if e.erp == "netsuite":
        return {"netsuite": {"account_id": f"TSTDRV{e.code[-2:]}0042", "consumer_key": f"ck_{e.code}_sandbox",
                             "consumer_secret": f"cs_{e.code}_sandbox", "token_id": f"tk_{e.code}_sandbox",
                             "token_secret": f"ts_{e.code}_sandbox"}}
    if e.erp == "sap_b1":
        return {"sap_b1": {"company_db": f"SBO_{e.code}", "user": "manager", "password": f"b1_{e.code}_sandbox"}}
    return {}


def _creditor(w: EntityWorld) -> str | None:
    for m in w.gocardless.get("mandates", []):
        return str(m["links"]["creditor"])
    return None


def _write_entity(
    root: Path, w: EntityWorld, seed: int, as_of: date, start: date, fec_encoding: str, paths: list[Path]
) -> dict[str, int]:
    e = w.entity
    base = root / e.code
    counts: dict[str, int] = {
        "customers": len(w.customers),
        "invoices": sum(1 for d in w.documents if d.doc_type == "invoice"),
        "credit_notes": sum(1 for d in w.documents if d.doc_type == "credit_note"),
    }
    if e.erp == "sage_fec":
        assert e.siren is not None
        entries = fec.fec_entries(w, as_of, random.Random(f"{seed}/{e.code}/fec"))
        counts["fec_lines"] = 0
        for year, year_entries in fec.entries_by_year(entries):
            path = base / "sage_fec" / fec.fec_filename(e.siren, year)
            counts["fec_lines"] += fec.write_fec(path, year_entries, encoding=fec_encoding)
            paths.append(path)
        path = base / "sage_fec" / "customers.csv"
        sage_customers.write_sage_customers(path, w)
        paths.append(path)
    elif e.erp in erp_api.API_ERPS:
        for name, path in write_objects(base / e.erp, w.erp_api).items():
            counts[f"{e.erp}_{name}"] = len(w.erp_api[name])
            paths.append(path)
    else:
        items = sap.sap_items(w)
        tag = as_of.strftime("%Y%m%d")
        bsid = base / "sap_export" / f"BSID_{e.code}_{tag}.csv"
        bsad = base / "sap_export" / f"BSAD_{e.code}_{tag}.csv"
        counts["sap_open_items"] = sap.write_sap_items(bsid, (i for i in items if not i.augbl))
        counts["sap_cleared_items"] = sap.write_sap_items(bsad, (i for i in items if i.augbl))
        cust = base / "sap_export" / "customers.csv"
        sap.write_sap_customers(cust, w)
        paths += [bsid, bsad, cust]
    scale = counts["invoices"] / 750
    statements = camt053.write_statements(base / "camt053", e, w.bank_entries, start, as_of,
                                          bank.opening_balance_cents(scale))
    paths += statements
    counts["bank_statements"] = len(statements)
    counts["bank_entries"] = len(w.bank_entries)
    providers = () if e.erp in erp_api.API_ERPS else (("stripe", w.stripe), ("gocardless", w.gocardless))
    for source, objs in providers:
        for name, path in write_objects(base / source, objs).items():
            counts[f"{source}_{name}"] = len(objs[name])
            paths.append(path)
    return counts
