"""Bordereaux delivered to a real SFTP server on loopback, on DuckDB and Postgres."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from actions.factoring.bordereau import XML_NS
from actions.factoring.outbox import run_contract
from mappings.factoring import FactorContract
from tests.integration.factoring.conftest import AS_OF, ELIGIBLE, REMOTE_DIR, E, FactoringBook
from tests.integration.factoring.sftp_server import LoopbackSftp


class Crash(RuntimeError):
    """Stands for the process dying at a given step."""


def crash_at(step: str) -> Any:
    def hook(s: str, batch_id: str) -> None:
        if s == step:
            raise Crash(f"killed at {step} of {batch_id}")
    return hook


def snapshot(book: FactoringBook) -> dict[str, Any]:
    """Everything a run leaves in the warehouse, without the wall-clock stamps."""
    batches = book.rows("SELECT batch_id, entity, factor, contract_id, as_of, state, invoice_count, amount, "
                        "advance_amount, net_advance, manifest_name, manifest_sha256, files_json "
                        "FROM factoring_batch ORDER BY batch_id")
    items = book.rows("SELECT * FROM factoring_batch_item ORDER BY entity, invoice_id")
    assigned = book.rows("SELECT entity, invoice_id, batch_id, factor, assigned_on, amount, currency, advance_rate, "
                         "advance_amount, status, source_system, source_id FROM fct_factoring_assignment "
                         "ORDER BY invoice_id")
    return {"batches": batches, "items": items, "assigned": assigned}


def test_batch_delivered_with_manifest_and_recorded(fbook: FactoringBook, contract: FactorContract,
                                                    sftp: LoopbackSftp, tmp_path: Path) -> None:
    report = run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path / "out")

    assert report.planned and report.confirmed == [report.planned]
    assert report.deliveries == {report.planned: "uploaded"}
    batch_id = report.planned
    files = sftp.files(REMOTE_DIR)
    stem = f"BORDEREAU_{contract.contract_id}_{batch_id}"
    assert set(files) == {f"{stem}.csv", f"{stem}.xml", f"{stem}.manifest.json"}  # no temp file left behind

    manifest = json.loads(files[f"{stem}.manifest.json"])
    assert manifest["batch_id"] == batch_id and manifest["invoice_count"] == "3"
    for entry in manifest["files"]:
        assert hashlib.sha256(files[entry["name"]]).hexdigest() == entry["sha256"]
        assert entry["bytes"] == len(files[entry["name"]])
    assert manifest["amount"] == "6000.00" and manifest["advance_amount"] == "5100.00"

    rows = list(csv.reader(io.StringIO(files[f"{stem}.csv"].decode("utf-8")), delimiter=";"))
    assert rows[0][:3] == ["line_no", "invoice_number", "customer_id"]
    # earliest due first; French decimals and dates as the contract says
    assert [(r[1], r[-1]) for r in rows[1:]] == [("F-A1", "1000,00"), ("F-A2", "2000,00"), ("F-L1", "3000,00")]
    assert rows[1][rows[0].index("due_date")] == "01/12/2026"

    doc = etree.fromstring(files[f"{stem}.xml"])
    ns = {"b": XML_NS}
    assert doc.findtext("b:Header/b:BatchId", namespaces=ns) == batch_id
    assert [e.text for e in doc.findall("b:Invoices/b:Invoice/b:InvoiceNumber", ns)] == ["F-A1", "F-A2", "F-L1"]
    assert sum(Decimal(e.text) for e in doc.findall("b:Invoices/b:Invoice/b:AdvanceAmount", ns)) == Decimal("5100.00")

    assigned = fbook.rows("SELECT invoice_id, batch_id, factor, assigned_on, amount, advance_rate, advance_amount, "
                          "status FROM fct_factoring_assignment ORDER BY invoice_id")
    assert {r["invoice_id"] for r in assigned} == ELIGIBLE
    assert all(r["batch_id"] == batch_id and r["status"] == "assigned" and r["assigned_on"] == AS_OF
               and Decimal(r["advance_rate"]) == Decimal("0.85") for r in assigned)
    assert {r["invoice_id"]: Decimal(r["advance_amount"]) for r in assigned} == {
        "A1": Decimal("850.00"), "A2": Decimal("1700.00"), "L1": Decimal("2550.00")}
    (batch,) = fbook.rows("SELECT state, manifest_sha256 FROM factoring_batch")
    assert batch["state"] == "confirmed"
    assert batch["manifest_sha256"] == hashlib.sha256(files[f"{stem}.manifest.json"]).hexdigest()
    # the local audit copy is the same bytes
    assert (tmp_path / "out" / batch_id / f"{stem}.csv").read_bytes() == files[f"{stem}.csv"]


def test_rerun_assigns_nothing_twice(fbook: FactoringBook, contract: FactorContract, sftp: LoopbackSftp,
                                     tmp_path: Path) -> None:
    first = run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path)
    before = snapshot(fbook)
    second = run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path)
    assert first.planned and second.planned is None and second.resumed == []
    assert second.proposal and second.proposal["invoices"] == 0
    assert second.proposal["refused"]["already_assigned"] == 3
    assert snapshot(fbook) == before
    assert len(sftp.files(REMOTE_DIR)) == 3


@pytest.mark.parametrize("step", ["planned", "built", "uploaded", "uploaded_recorded"],
                         ids=["after-plan", "after-build", "after-upload-before-record", "before-confirm"])
def test_crash_is_recovered_without_duplicate(fbook: FactoringBook, contract: FactorContract, sftp: LoopbackSftp,
                                              tmp_path: Path, step: str) -> None:
    with pytest.raises(Crash):
        run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path, hook=crash_at(step))
    (pending,) = fbook.rows("SELECT batch_id, state FROM factoring_batch")
    assert pending["state"] != "confirmed"
    assert fbook.rows("SELECT * FROM fct_factoring_assignment") == []

    report = run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path)

    assert report.resumed == [pending["batch_id"]] and report.planned is None
    expected = "already_delivered" if step in ("uploaded",) else (
        "already_uploaded" if step == "uploaded_recorded" else "uploaded")
    assert report.deliveries == {pending["batch_id"]: expected}
    state = snapshot(fbook)
    assert len(state["batches"]) == 1 and state["batches"][0]["state"] == "confirmed"
    assert {r["invoice_id"] for r in state["assigned"]} == ELIGIBLE
    files = sftp.files(REMOTE_DIR)
    assert len(files) == 3 and not any(n.endswith(".part") for n in files)
    return None


def test_crash_rerun_ends_like_a_clean_run(warehouse_config: Any, fbook: FactoringBook, contract: FactorContract,
                                           sftp: LoopbackSftp, tmp_path: Path) -> None:
    """Same warehouse rows and same remote bytes as a run that never crashed."""
    with pytest.raises(Crash):
        run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path / "a", hook=crash_at("uploaded"))
    run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path / "a")
    crashed, crashed_files = snapshot(fbook), sftp.files(REMOTE_DIR)

    # a clean run on a fresh copy of the same book
    for table in ("fct_factoring_assignment", "factoring_batch_item", "factoring_batch"):
        fbook.engine.execute(f"DELETE FROM {table}")
    for name in list(crashed_files):
        (sftp.root / REMOTE_DIR.strip("/") / name).unlink()
    run_contract(fbook.engine, contract, E, AS_OF, out_dir=tmp_path / "b")
    assert snapshot(fbook) == crashed
    assert sftp.files(REMOTE_DIR) == crashed_files
