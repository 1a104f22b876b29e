"""The nightly flow over the sample world publishes no secret, no full IBAN and no customer email.

Everything a run leaves behind is collected: every log record of this process
(pytest's capture, at DEBUG, whichever logger wrote it), the flow run's logs as
stored by the Prefect API, its artifacts, its final state message, and the
audit view of a few invoices. The scan looks for every credential of
``world.json`` and every IBAN and email address that appears in the world's source
files, in full (spaces removed for IBANs).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from lettrage.config import WarehouseConfig
from lettrage.logging import EMAIL_RE, IBAN_RE, mask_tail
from warehouse.engine import connect

from ..conftest import E2E_AS_OF, world_secrets

pytestmark = pytest.mark.e2e
# Every kind of source and credential (files, Stripe, GoCardless, Sage Accounting, NetSuite, SAP B1);
# DE01 repeats FR01's code paths at twice the time, and tests/e2e/test_deployments.py runs it.
RUN_ENTITIES = ["FR01", "UK01", "US01", "ES01"]


def _world_identities(root: Path) -> tuple[set[str], set[str]]:
    """Every IBAN and email address written in the world's source files (all entities: run or not, none may leak)."""
    ibans: set[str] = set()
    emails: set[str] = set()
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix not in (".csv", ".jsonl", ".json", ".xml", ".txt"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        ibans |= {m.group(0).replace(" ", "") for m in IBAN_RE.finditer(text)}
        emails |= {m.group(0) for m in EMAIL_RE.finditer(text)}
    return ibans, emails


def _only(sources_file: Path, entities: list[str], out: Path) -> Path:
    """The sources file of the world, restricted to ``entities`` (the flow's entity parameter knows FR01/DE01 only)."""
    config = yaml.safe_load(sources_file.read_text(encoding="utf-8"))
    config["entities"] = {e: s for e, s in config["entities"].items() if e in entities}
    # (the drop folders stay the world's: relative to the world's own sources file, not to ``out``'s folder, where
    # they do not exist; the file sources' logs are checked too)
    for sources in config["entities"].values():
        for settings in sources.values():
            if isinstance(settings, dict) and settings.get("path") and not Path(settings["path"]).is_absolute():
                settings["path"] = str(sources_file.parent / settings["path"])
    assert sorted(config["entities"]) == sorted(entities)
    out.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return out


class _Capture(logging.Handler):
    """Every record of every logger, formatted with its traceback, as a handler added after Prefect's setup."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @contextmanager
    def attached(self) -> Iterator[None]:
        loggers = [logging.getLogger()] + [
            lg for lg in logging.root.manager.loggerDict.values()
            if isinstance(lg, logging.Logger) and not lg.propagate]
        levels = [lg.level for lg in loggers]
        for lg in loggers:
            lg.addHandler(self)
        logging.getLogger().setLevel(logging.DEBUG)
        for noisy in ("httpcore", "hpack", "aiosqlite", "sqlalchemy", "asyncio", "websockets", "urllib3"):
            logging.getLogger(noisy).setLevel(logging.INFO)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.removeHandler(self)
                lg.setLevel(level)


def _published(flow_run_id: Any) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        LogFilter,
        LogFilterFlowRunId,
    )

    async def read() -> list[str]:
        async with get_client() as client:
            logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                                          limit=200)
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        return [log.message for log in logs] + [f"{a.key} {a.description} {json.dumps(a.data, default=str)}"
                                                for a in artifacts]

    return asyncio.run(read())


@pytest.mark.parametrize("warehouse_config", ["duckdb"], indirect=True)  # what is logged does not depend on the engine
def test_a_nightly_run_publishes_no_secret_no_full_iban_and_no_email(
    prefect_harness: None, sample_world: Path, warehouse_config: WarehouseConfig,
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    from flows.nightly_sync import nightly_sync
    from sandbox.demo import write_sources_file
    from sandbox.server import serve
    from warehouse.access import invoice_history, render_history

    secrets = world_secrets(sample_world)
    ibans, emails = _world_identities(sample_world)
    assert len(secrets) > 10 and len(ibans) > 50 and len(emails) > 20

    world = json.loads((sample_world / "world.json").read_text(encoding="utf-8"))
    capture = _Capture()
    with serve(sample_world) as sandbox, capture.attached():
        sources_file = _only(write_sources_file(sample_world, world, sandbox.stripe_base, sandbox.gocardless_base),
                             RUN_ENTITIES, tmp_path / "sources.yaml")
        monkeypatch.setenv("LETTRAGE__SOURCES_FILE", str(sources_file))
        state = nightly_sync(as_of=E2E_AS_OF, return_state=True)
    assert state.is_completed(), state.message
    assert state.result()["loaded"]

    assert len(capture.lines) > 50
    assert any("nightly sync of" in line for line in capture.lines)  # the flow's own logger was captured
    texts = capture.lines + [state.message or ""]
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    published = _published(state.state_details.flow_run_id)
    assert any("artifact" in p or "rows-loaded" in p for p in published) and len(published) > 10
    texts += published
    with connect(warehouse_config, read_only=True) as engine:  # the audit view is a report too
        sample = engine.query_dicts(
            "SELECT entity, invoice_id FROM fct_invoice WHERE status IN ('paid', 'overdue') ORDER BY entity, invoice_id "
            "LIMIT 20")
        for row in sample:
            texts += render_history(invoice_history(engine, row["entity"], row["invoice_id"]))
    text = "\n".join(texts)
    compact = re.sub(r"\s+", "", text)  # an IBAN printed in groups of four is still a full IBAN

    # not a vacuous scan: identities did flow through the logs, masked to their last four characters
    assert [e for e in emails if mask_tail(e) in text], "no masked email seen: is DEBUG logging captured?"

    leaked_secrets = sorted(s for s in secrets if s in text)
    leaked_ibans = sorted(i for i in ibans if i in compact)
    leaked_emails = sorted(e for e in emails if e.lower() in text.lower())
    assert not leaked_secrets, f"{len(leaked_secrets)} secret(s) published, e.g. {leaked_secrets[0][:6]}…"
    assert not leaked_ibans, f"{len(leaked_ibans)} IBAN(s) published, e.g. {leaked_ibans[0][:6]}…"
    assert not leaked_emails, f"{len(leaked_emails)} email(s) published, e.g. {leaked_emails[0][:4]}…"
