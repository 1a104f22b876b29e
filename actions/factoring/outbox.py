"""Exactly-once assignment: the outbox of bordereaux and its state machine.

    propose ─▶ planned ─▶ built ─▶ uploaded ─▶ confirmed
               (batch + items     (files,      (manifest on   (fct_factoring_assignment
                in one txn)        sha256)      the server)     rows + state, one txn)

- Intent first: a batch and its invoices are committed before anything leaves.
- The batch id is a hash of contract, entity and invoice ids, and the files are a
  pure function of the batch rows, so a rebuild is byte-identical.
- An invoice is in at most one batch: ``factoring_batch_item`` has primary key
  ``(entity, invoice_id)`` and selection skips anything already in a batch.
- A run first carries every unfinished batch forward. A crash after the upload
  but before ``uploaded`` was recorded is recovered by the delivery step, which
  finds our manifest (same bytes) on the server and does not send again.
- Recording is idempotent (insert where missing), so a crash between ``uploaded``
  and ``confirmed`` is finished on re-run with the same rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from actions.factoring import bordereau, delivery
from actions.factoring.bordereau import BuiltBatch
from actions.factoring.schema import (
    FactoringBatch,
    FactoringBatchItem,
    ensure_factoring_tables,
    insert_row,
    insert_rows,
)
from actions.factoring.selection import Proposal, propose
from lettrage.errors import DataError
from mappings.factoring import FactorContract
from warehouse.engine import Engine

log = logging.getLogger("lettrage.factoring")
SOURCE_SYSTEM = "lettrage_factoring"
DEFAULT_OUT_DIR = Path("var") / "factoring"

# Called after each step with (step, batch_id); tests use it to simulate a crash at any point.
Hook = Callable[[str, str], None]


def _now() -> datetime:
    return datetime.now(UTC)


def _noop(step: str, batch_id: str) -> None:
    return None


@dataclass
class RunReport:
    contract_id: str
    entity: str
    as_of: date
    dry_run: bool
    proposal: dict[str, Any] | None = None
    resumed: list[str] = field(default_factory=list)
    planned: str | None = None
    confirmed: list[str] = field(default_factory=list)
    deliveries: dict[str, str] = field(default_factory=dict)   # batch_id -> uploaded | already_delivered

    def as_dict(self) -> dict[str, Any]:
        return {"contract_id": self.contract_id, "entity": self.entity, "as_of": self.as_of.isoformat(),
                "dry_run": self.dry_run, "proposal": self.proposal, "resumed": self.resumed,
                "planned": self.planned, "confirmed": self.confirmed, "deliveries": self.deliveries}


def plan_batch(engine: Engine, proposal: Proposal, *, now: datetime | None = None) -> str | None:
    """Record the proposal as a ``planned`` batch (batch and items in one transaction); idempotent."""
    batch_id = proposal.batch_id
    if batch_id is None:
        return None
    if engine.query("SELECT 1 FROM factoring_batch WHERE batch_id = :b", {"b": batch_id}):
        return batch_id
    contract, p = proposal.contract, proposal.price
    batch = FactoringBatch(
        batch_id=batch_id, entity=proposal.entity, factor=contract.factor, contract_id=contract.contract_id,
        as_of=proposal.as_of, state="planned", invoice_count=len(proposal.selected), currency=contract.currency,
        amount=p.amount, advance_amount=p.advance, reserve_amount=p.reserve, commission=p.commission,
        financing_fee=p.financing_fee, net_advance=p.net_advance, advance_rate=contract.pricing.advance_rate,
        remote_dir=getattr(contract.delivery, "remote_dir", None) or getattr(contract.delivery, "url", None),
        planned_at=now or _now(),
    )
    items = [
        FactoringBatchItem(
            entity=c.entity, invoice_id=c.invoice_id, batch_id=batch_id, line_no=n, invoice_number=c.invoice_number,
            customer_id=c.customer_id, customer_name=c.customer_name, customer_vat_id=c.vat_id,
            customer_siren=c.siren, customer_country=c.country, issue_date=c.issue_date, due_date=c.due_date,
            currency=c.currency, amount=line.amount, advance_amount=line.advance, reserve_amount=line.reserve,
            commission=line.commission, financing_fee=line.financing_fee, financing_days=line.financing_days,
        )
        for n, (c, line) in enumerate(zip(proposal.selected, proposal.lines, strict=True), start=1)
    ]
    with engine.transaction():
        insert_row(engine, batch)
        insert_rows(engine, list(items))
    log.info("planned batch %s: %d invoices, %s %s, advance %s", batch_id, len(items), p.amount,
             contract.currency, p.advance)
    return batch_id


def load_batch(engine: Engine, batch_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = engine.query_dicts("SELECT * FROM factoring_batch WHERE batch_id = :b", {"b": batch_id})
    if not rows:
        raise DataError(f"factoring batch {batch_id} not found in factoring_batch")
    items = engine.query_dicts("SELECT * FROM factoring_batch_item WHERE batch_id = :b ORDER BY line_no",
                               {"b": batch_id})
    return rows[0], items


def pending_batches(engine: Engine, contract_id: str, entity: str) -> list[str]:
    rows = engine.query(
        "SELECT batch_id FROM factoring_batch WHERE contract_id = :c AND entity = :e AND state <> 'confirmed' "
        "ORDER BY planned_at, batch_id", {"c": contract_id, "e": entity})
    return [str(r[0]) for r in rows]


def _set_state(engine: Engine, batch_id: str, state: str, stamp: str, now: datetime, **extra: Any) -> None:
    sets = ", ".join([f"state = :state, {stamp} = :now"] + [f"{k} = :{k}" for k in extra])
    engine.execute(f"UPDATE factoring_batch SET {sets} WHERE batch_id = :b",
                   {"state": state, "now": now, "b": batch_id, **extra})


def build_batch(engine: Engine, contract: FactorContract, batch_id: str, out_dir: Path,
                *, now: datetime | None = None) -> BuiltBatch:
    """Render the files (byte-identical on every rebuild), keep a local copy, move ``planned`` to ``built``."""
    batch, items = load_batch(engine, batch_id)
    built = bordereau.build(contract, batch, items)
    stored = batch.get("manifest_sha256")
    if stored and stored != built.manifest.sha256:
        raise DataError(
            f"factoring batch {batch_id}: files rebuilt differ from the ones recorded (manifest sha256 {stored[:12]}… "
            f"now {built.manifest.sha256[:12]}…); mappings/factoring.yaml changed while the batch was in flight — "
            "restore its file settings or ask the factor which version it holds")
    folder = out_dir / batch_id
    folder.mkdir(parents=True, exist_ok=True)
    for f in (*built.files, built.manifest):
        (folder / f.name).write_bytes(f.content)
    if batch["state"] == "planned":
        files = json.dumps([{"name": f.name, "format": f.format, "sha256": f.sha256} for f in built.files])
        _set_state(engine, batch_id, "built", "built_at", now or _now(), manifest_name=built.manifest.name,
                   manifest_sha256=built.manifest.sha256, files_json=files)
    return built


def deliver_batch(engine: Engine, contract: FactorContract, batch_id: str, built: BuiltBatch,
                  hook: Hook = _noop, *, now: datetime | None = None) -> delivery.DeliveryResult:
    """Send the files (or find them already there) and record ``uploaded``."""
    try:
        result = delivery.deliver(contract.delivery, built.files, built.manifest)
    except Exception as exc:
        engine.execute("UPDATE factoring_batch SET attempts = coalesce(attempts, 0) + 1, last_error = :e "
                       "WHERE batch_id = :b", {"e": str(exc)[:2000], "b": batch_id})
        raise
    hook("uploaded", batch_id)  # the crash window: files are out, the warehouse does not know yet
    _set_state(engine, batch_id, "uploaded", "uploaded_at", now or _now(), last_error=None)
    return result


_RECORD_SQL = """
INSERT INTO fct_factoring_assignment (entity, invoice_id, batch_id, factor, assigned_on, amount, currency,
                                      advance_rate, advance_amount, status, source_system, source_id, _loaded_at)
SELECT it.entity, it.invoice_id, it.batch_id, b.factor, b.as_of, it.amount, it.currency, b.advance_rate,
       it.advance_amount, 'assigned', :source_system, it.batch_id || '/' || it.invoice_id, :now
FROM factoring_batch_item AS it
JOIN factoring_batch AS b ON b.batch_id = it.batch_id
WHERE it.batch_id = :b
  AND NOT EXISTS (SELECT 1 FROM fct_factoring_assignment AS fa
                  WHERE fa.entity = it.entity AND fa.invoice_id = it.invoice_id AND fa.batch_id = it.batch_id)
"""


def record_batch(engine: Engine, batch_id: str, *, now: datetime | None = None) -> None:
    """Write ``fct_factoring_assignment`` rows and ``confirmed`` in one transaction (idempotent)."""
    stamp = now or _now()
    with engine.transaction():
        engine.execute(_RECORD_SQL, {"source_system": SOURCE_SYSTEM, "now": stamp, "b": batch_id})
        _set_state(engine, batch_id, "confirmed", "confirmed_at", stamp)


def advance_batch(engine: Engine, contract: FactorContract, batch_id: str, out_dir: Path,
                  hook: Hook = _noop) -> str | None:
    """Carry one batch from whatever state it is in to ``confirmed``; returns the delivery status."""
    batch, _ = load_batch(engine, batch_id)
    state = batch["state"]
    if state == "confirmed":
        return None
    built = build_batch(engine, contract, batch_id, out_dir)
    hook("built", batch_id)
    status = None
    if state in ("planned", "built"):
        status = deliver_batch(engine, contract, batch_id, built, hook).status
        hook("uploaded_recorded", batch_id)
    record_batch(engine, batch_id)
    hook("confirmed", batch_id)
    log.info("batch %s confirmed (%s)", batch_id, status or "already uploaded")
    return status


def run_contract(engine: Engine, contract: FactorContract, entity: str, as_of: date, *,
                 out_dir: Path = DEFAULT_OUT_DIR, dry_run: bool = False, hook: Hook = _noop) -> RunReport:
    """One factoring run for one contract and entity: finish what is pending, then plan and send a new batch.

    ``dry_run`` only proposes: nothing is written, built or sent.
    """
    ensure_factoring_tables(engine)
    report = RunReport(contract.contract_id, entity, as_of, dry_run)
    if not dry_run:
        for batch_id in pending_batches(engine, contract.contract_id, entity):
            report.resumed.append(batch_id)
            status = advance_batch(engine, contract, batch_id, out_dir, hook)
            report.deliveries[batch_id] = status or "already_uploaded"
            report.confirmed.append(batch_id)
    proposal = propose(engine, contract, entity, as_of)
    report.proposal = proposal.summary()
    if dry_run or not proposal.selected:
        return report
    planned = plan_batch(engine, proposal)
    assert planned is not None
    hook("planned", planned)
    report.planned = planned
    status = advance_batch(engine, contract, planned, out_dir, hook)
    report.deliveries[planned] = status or "already_uploaded"
    report.confirmed.append(planned)
    return report
