"""NetSuite SuiteQL connector against the sandbox: OAuth1 verified, key ranges under the cap, concurrency, faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import httpx
import pytest

from connectors.netsuite import netsuite_source
from lettrage.config import WarehouseConfig
from lettrage.errors import AuthenticationExpired
from sandbox.server import RunningSandbox
from tests.fixtures.loading import rows, scalar
from tests.integration.connectors.sage_accounting.erp_world import (
    FAST_RETRIES,
    append_jsonl,
    configure,
    credentials,
    first_jsonl,
    ground_truth,
    root_cause,
    served,
)
from warehouse.build import build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline

ENTITY = "US01"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    yield from served(tmp_path / "world", ENTITY)


def _source(sandbox: RunningSandbox, **kwargs: Any) -> dlt.sources.DltSource:
    creds = credentials(sandbox.state.root, ENTITY, "netsuite")
    creds.update({k: kwargs.pop(k) for k in list(kwargs) if k in creds})
    return netsuite_source(ENTITY, base_url=f"{sandbox.url}/netsuite", retry_policy=FAST_RETRIES, **creds, **kwargs)


def test_key_range_paging_under_the_row_cap_and_staging(sandbox: RunningSandbox,
                                                         warehouse_config: WarehouseConfig) -> None:
    configure(sandbox, "/netsuite", row_cap=30)  # 109 transactions: four key ranges of at most 30 rows
    run_pipeline("ns_us01", _source(sandbox, page_limit=10, row_cap=30), warehouse_config)
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_netsuite_transactions") == 109
    assert scalar(warehouse_config, "SELECT count(DISTINCT id) FROM raw_netsuite_transactions") == 109
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_netsuite_payment_applications") > 0
    with connect(warehouse_config) as engine:
        build_staging(engine)
    count, total = ground_truth(sandbox.state.root, ENTITY)
    got = rows(warehouse_config, "SELECT count(*), sum(amount_total), min(currency) FROM stg_netsuite__invoices")
    assert got[0][0] == count and Decimal(got[0][1]) == total and got[0][2] == "USD"
    assert scalar(warehouse_config, "SELECT count(*) FROM stg_netsuite__payments WHERE erp_lettrage IS NOT NULL") > 0
    assert scalar(warehouse_config, "SELECT min(payment_terms_days) FROM stg_netsuite__customers") == 30


def test_server_enforces_the_cap_and_the_prefer_header(sandbox: RunningSandbox) -> None:
    from connectors.netsuite.auth import NetSuiteOAuth1

    c = credentials(sandbox.state.root, ENTITY, "netsuite")
    auth = NetSuiteOAuth1(c["account_id"], c["consumer_key"], c["consumer_secret"], c["token_id"], c["token_secret"])
    url = f"{sandbox.url}/netsuite/services/rest/query/v1/suiteql"
    body = {"q": "SELECT id FROM transaction"}
    over = httpx.post(url, params={"limit": 1000, "offset": 100_000}, json=body, auth=auth,
                      headers={"Prefer": "transient"})
    assert over.status_code == 400 and "100000" in over.json()["o:errorDetails"][0]["detail"]
    no_prefer = httpx.post(url, params={"limit": 5}, json=body, auth=auth)
    assert no_prefer.status_code == 400


def test_concurrency_stays_within_the_account_limit(sandbox: RunningSandbox, tmp_path: Path) -> None:
    configure(sandbox, "/netsuite", concurrency_limit=2, latency_s=0.02, reset_peak=True)
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    run_pipeline("ns_conc", _source(sandbox, page_limit=5, concurrency=2), config)
    settings = configure(sandbox, "/netsuite")
    assert settings["peak_in_flight"][credentials(sandbox.state.root, ENTITY, "netsuite")["account_id"]] <= 2
    assert scalar(config, "SELECT count(*) FROM raw_netsuite_payment_applications") == 29


def test_faults_are_retried_and_bad_credentials_fail_clearly(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    sandbox.faults.set(provider="netsuite", rate_limit=2, retry_after=0.05, server_error=1, server_error_status=503)
    run_pipeline("ns_faults", _source(sandbox), config)
    assert sandbox.faults.snapshot()["injected"]["server_error"] == 1
    assert scalar(config, "SELECT count(*) FROM raw_netsuite_customers") == 20
    sandbox.faults.clear()
    with pytest.raises(Exception) as info:  # a wrong token secret: the server's signature check refuses it
        run_pipeline("ns_bad", _source(sandbox, token_secret="wrong"), WarehouseConfig(
            url=f"duckdb:///{tmp_path / 'bad.duckdb'}"))
    cause = root_cause(info.value)
    assert isinstance(cause, AuthenticationExpired) and "HTTP 401" in str(cause)


def test_second_sync_reads_only_changes(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    run_pipeline("ns_incr", _source(sandbox), config)
    path = sandbox.state.root / ENTITY / "netsuite" / "transaction.jsonl"
    tx = first_jsonl(path)
    tx.update(foreignamountremaining="0.00", status="B", lastmodifieddate="2025-07-01T10:00:00Z")
    append_jsonl(path, tx)
    again = run_pipeline("ns_incr", _source(sandbox), config)
    assert again.rows.get("raw_netsuite_transactions") == 1 and "raw_netsuite_customers" not in again.rows
    assert scalar(config, f"SELECT status FROM raw_netsuite_transactions WHERE id = '{tx['id']}'") == "B"


def test_an_application_moved_to_another_invoice_leaves_no_stale_link(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """A payment re-applied from one invoice to another: its applications are replaced as a whole."""
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    run_pipeline("ns_moved", _source(sandbox), config)
    root = sandbox.state.root / ENTITY / "netsuite"
    links = [json.loads(line) for line in (root / "nexttransactionlinelink.jsonl").read_text().splitlines() if line]
    moved = next(k for k in links if k.get("nexttype") == "CustPymt")
    other = next(k["previousdoc"] for k in links if k["previousdoc"] != moved["previousdoc"])
    old_invoice, payment = moved["previousdoc"], moved["nextdoc"]
    moved["previousdoc"] = other
    (root / "nexttransactionlinelink.jsonl").write_text("".join(json.dumps(k) + "\n" for k in links))
    tx = next(json.loads(line) for line in (root / "transaction.jsonl").read_text().splitlines()
              if line and json.loads(line)["id"] == payment)
    tx.update(lastmodifieddate="2025-07-01T10:00:00Z")
    append_jsonl(root / "transaction.jsonl", tx)
    run_pipeline("ns_moved", _source(sandbox), config)
    pairs = {(r[0], r[1]) for r in rows(config, "SELECT previousdoc, nextdoc FROM raw_netsuite_payment_applications "
                                                 f"WHERE nextdoc = '{payment}'")}
    assert (other, payment) in pairs and (old_invoice, payment) not in pairs


def test_a_payment_deleted_in_netsuite_is_no_longer_received(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """A payment entered on the wrong customer is deleted: DeletedRecord names it, and the next sync's staging
    leaves it and its applications out."""
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    run_pipeline("ns_deleted", _source(sandbox), config)
    payment = scalar(config, "SELECT min(id) FROM raw_netsuite_transactions WHERE type = 'CustPymt'")
    append_jsonl(sandbox.state.root / ENTITY / "netsuite" / "deletedrecord.jsonl",
                 {"recordid": payment, "type": "customerpayment", "deleteddate": "2025-07-02T08:00:00Z"})
    again = run_pipeline("ns_deleted", _source(sandbox), config)
    assert again.rows.get("raw_netsuite_deleted_records") == 1
    with connect(config) as engine:
        build_staging(engine)
        kept = engine.query(f"SELECT count(*) FROM stg_netsuite__payments WHERE source_id = '{payment}'")[0][0]
        applied = engine.query(f"SELECT count(*) FROM stg_netsuite__applications WHERE payment_id = 'NS-{payment}'")[0][0]
    assert kept == 0 and applied == 0


def test_oneworld_subsidiaries_are_entities_of_one_account(sandbox: RunningSandbox,
                                                          warehouse_config: WarehouseConfig) -> None:
    """One OneWorld account, two entities: each reads the transactions whose main line is of its subsidiary,
    the customers whose primary subsidiary it is, and a customer of the other subsidiary its transactions name."""
    books = sandbox.state.root / ENTITY / "netsuite"
    customers = [json.loads(line) for line in (books / "customer.jsonl").read_text().splitlines() if line.strip()]
    moved = {c["id"] for c in customers[::3]}  # a third of the customers belong to subsidiary 2 ...
    shared = customers[1]["id"]  # ... and this one stays in 1 while its documents are booked by subsidiary 2
    for c in customers:
        if c["id"] in moved:
            append_jsonl(books / "customer.jsonl", {**c, "subsidiary": "2"})
    docs = [json.loads(line) for line in (books / "transaction.jsonl").read_text().splitlines() if line.strip()]
    in_two = {d["id"] for d in docs if d["entity"] in moved | {shared}}
    for d in docs:
        if d["id"] in in_two:
            append_jsonl(books / "transaction.jsonl", {**d, "subsidiary": "2"})
    creds = credentials(sandbox.state.root, ENTITY, "netsuite")
    for entity, sub in (("US01", 1), ("CA01", "2")):
        source = netsuite_source(entity, base_url=f"{sandbox.url}/netsuite", retry_policy=FAST_RETRIES,
                                 subsidiary=sub, page_limit=20, **creds)
        run_pipeline(f"ns_{entity.lower()}", source, warehouse_config)
    got = {e: set(ids.split(",")) for e, ids in rows(
        warehouse_config, "SELECT entity, string_agg(id, ',') FROM raw_netsuite_transactions GROUP BY entity")}
    assert got == {"CA01": in_two, "US01": {d["id"] for d in docs} - in_two}
    got = {e: set(ids.split(",")) for e, ids in rows(
        warehouse_config, "SELECT entity, string_agg(id, ',') FROM raw_netsuite_customers GROUP BY entity")}
    assert got == {"CA01": moved | {shared}, "US01": {c["id"] for c in customers} - moved}
    # the applications follow their payments: none crosses to the other entity's documents
    crossing = rows(warehouse_config, "SELECT count(*) FROM raw_netsuite_payment_applications AS a "
                                      "JOIN raw_netsuite_transactions AS t ON t.id = a.previousdoc AND t.entity <> a.entity")
    assert crossing[0][0] == 0
    assert rows(warehouse_config, "SELECT count(*) FROM raw_netsuite_payment_applications WHERE entity = 'CA01'")[0][0] > 0
    with connect(warehouse_config) as engine:
        build_staging(engine)
    count, total = ground_truth(sandbox.state.root, ENTITY)
    per = {e: (int(n), Decimal(t)) for e, n, t in rows(
        warehouse_config, "SELECT entity, count(*), sum(amount_total) FROM stg_netsuite__invoices GROUP BY entity")}
    assert sum(n for n, _ in per.values()) == count and sum(t for _, t in per.values()) == total
    assert per["CA01"][0] > 0 and per["US01"][0] > 0


def test_a_transaction_with_an_unreadable_value_is_quarantined_and_the_others_load(
        sandbox: RunningSandbox, warehouse_config: WarehouseConfig) -> None:
    """One invoice dated 31/10/2025 (day and month swapped) and one payment of "2,005.62" among good
    transactions: the other 107 load, each bad one is a raw_quarantine row naming it, its field and its value;
    once the clerk corrects them in NetSuite (lastmodifieddate moves), the next sync loads them."""
    path = sandbox.state.root / ENTITY / "netsuite" / "transaction.jsonl"
    docs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    invoice = next(d for d in docs if d["type"] == "CustInvc")
    payment = next(d for d in docs if d["type"] == "CustPymt")
    append_jsonl(path, {**invoice, "trandate": "31/10/2025"})
    append_jsonl(path, {**payment, "foreigntotal": "2,005.62"})
    first = run_pipeline("ns_quarantine", _source(sandbox, page_limit=10), warehouse_config)

    assert first.rows.get("raw_quarantine") == 2
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_netsuite_transactions") == len(docs) - 2
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_netsuite_transactions "
                                    f"WHERE id IN ('{invoice['id']}', '{payment['id']}')") == 0
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_netsuite_payment_applications "
                                    f"WHERE nextdoc = '{payment['id']}'") == 0  # read with its payment, once fixed
    quarantined = {r[1]: r for r in rows(warehouse_config, "SELECT file, field, reason, raw, source_system, entity "
                                                          "FROM raw_quarantine ORDER BY field")}
    assert set(quarantined) == {"trandate", "foreigntotal"}
    file, _, reason, raw, system, entity = quarantined["trandate"]
    assert (file, system, entity) == (f"transaction {invoice['id']} ({invoice['tranid']})", "netsuite", ENTITY)
    assert "'31/10/2025'" in reason and "M/D/YYYY" in reason
    assert json.loads(raw)["id"] == invoice["id"] and json.loads(raw)["trandate"] == "31/10/2025"
    file, _, reason, raw, _, _ = quarantined["foreigntotal"]
    assert file == f"transaction {payment['id']} ({payment['tranid']})" and "'2,005.62'" in reason

    append_jsonl(path, {**invoice, "lastmodifieddate": "2025-07-02T09:00:00Z"})  # corrected in NetSuite
    append_jsonl(path, {**payment, "lastmodifieddate": "2025-07-02T09:05:00Z"})
    again = run_pipeline("ns_quarantine", _source(sandbox, page_limit=10), warehouse_config)
    assert again.rows.get("raw_netsuite_transactions") == 2 and "raw_quarantine" not in again.rows
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_netsuite_transactions") == len(docs)
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_netsuite_payment_applications "
                                    f"WHERE nextdoc = '{payment['id']}'") > 0


def test_a_customer_with_an_unreadable_credit_limit_is_quarantined(sandbox: RunningSandbox, tmp_path: Path) -> None:
    path = sandbox.state.root / ENTITY / "netsuite" / "customer.jsonl"
    customer = first_jsonl(path)
    append_jsonl(path, {**customer, "creditlimit": "5.000,00"})
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    run_pipeline("ns_bad_customer", _source(sandbox), config)
    assert scalar(config, "SELECT count(*) FROM raw_netsuite_customers") == 19
    assert rows(config, "SELECT file, field FROM raw_quarantine") == [
        (f"customer {customer['id']} ({customer['entityid']})", "creditlimit")]


def test_an_api_source_quarantining_first_leaves_raw_quarantine_to_the_file_sources_too(
        sandbox: RunningSandbox, warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """NetSuite sets a bad record aside before any file source ever did: raw_quarantine takes the shape every
    writer gives it, so a bank statement with a bad amount, loaded next, quarantines its entry too (it failed
    the whole camt053 source with "NOT NULL constraint failed: raw_quarantine._dlt_id")."""
    from connectors.camt053 import camt053_source
    from tests.fixtures.golden import FIXTURES
    from tests.fixtures.loading import copy_samples, run

    path = sandbox.state.root / ENTITY / "netsuite" / "transaction.jsonl"
    invoice = next(d for d in map(json.loads, path.read_text(encoding="utf-8").splitlines()) if d["type"] == "CustInvc")
    append_jsonl(path, {**invoice, "trandate": "31/10/2025"})
    run_pipeline("ns_first", _source(sandbox), warehouse_config)
    drop = copy_samples(FIXTURES / "camt053", tmp_path / "FR01" / "camt053", ["FR7630006000011234567890189_2025-01.xml"])
    _, stats = run(camt053_source, drop, warehouse_config, "camt053_after_ns")
    assert stats.rows_quarantined == 1 and stats.files_loaded == 1
    assert {r[0] for r in rows(warehouse_config, "SELECT DISTINCT source_system FROM raw_quarantine")} == {
        "netsuite", "camt053"}


def _refund(root: Path, refund_id: str, memo: dict[str, Any], *, reversed_link: bool) -> None:
    """A customer refund of the whole of ``memo`` added to the sandbox's account, with its link to the credit memo
    written credit memo -> refund, or refund -> credit memo (``reversed_link``)."""
    amount = memo["foreigntotal"].lstrip("-")
    append_jsonl(root / "transaction.jsonl", {
        "id": refund_id, "tranid": f"RFND{refund_id}", "type": "CustRfnd", "trandate": memo["trandate"],
        "duedate": None, "entity": memo["entity"], "currency": memo["currency"], "foreigntotal": amount,
        "foreignamountremaining": None, "status": "Y", "otherrefnum": None, "memo": "Refund", "posting": "T",
        "voided": "F", "lastmodifieddate": f"2025-07-0{1 + int(reversed_link)}T10:00:00Z"})
    ends = [(memo["id"], "CustCred"), (refund_id, "CustRfnd")]
    (previous, previoustype), (following, nexttype) = ends[::-1] if reversed_link else ends
    append_jsonl(root / "nexttransactionlinelink.jsonl", {
        "previousdoc": previous, "nextdoc": following, "foreignamount": amount,
        "linktype": "Payment" if reversed_link else "Refund", "previoustype": previoustype, "nexttype": nexttype})


def test_a_customer_refund_and_the_credit_memo_it_pays_back_are_read(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """A credit memo refunded in NetSuite: the customer refund (CustRfnd) is read with its link to the credit memo
    (previousdoc the credit memo, nextdoc the refund, whatever its linktype), and staged as money paid back. A link
    written the other way round (the refund as previousdoc) is read too, and kept with the refund as nextdoc: the
    links are merged by nextdoc, and the credit memo's own links to its invoices stay; read again with the credit
    memo, it is not kept a second time as written."""
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    root = sandbox.state.root / ENTITY / "netsuite"
    memos = [t for t in (json.loads(line) for line in (root / "transaction.jsonl").read_text().splitlines() if line)
             if t["type"] == "CustCred"]
    linked = {k["nextdoc"] for k in (json.loads(line) for line in
                                     (root / "nexttransactionlinelink.jsonl").read_text().splitlines() if line)}
    other = next(t for t in memos if t["id"] in linked)  # a credit memo applied to its invoice
    memo = next(t for t in memos if t["id"] != other["id"])
    _refund(root, "99001", memo, reversed_link=False)
    run_pipeline("ns_refund", _source(sandbox), config)
    own_links = scalar(config, f"SELECT count(*) FROM raw_netsuite_payment_applications WHERE nextdoc = '{other['id']}'")
    _refund(root, "99002", other, reversed_link=True)
    append_jsonl(root / "transaction.jsonl", {**other, "foreignamountremaining": "0.00",  # re-read with its refund
                                              "lastmodifieddate": "2025-07-02T10:00:00Z"})
    run_pipeline("ns_refund", _source(sandbox), config)
    assert rows(config, "SELECT previousdoc, nexttype FROM raw_netsuite_payment_applications "
                        "WHERE nextdoc = '99001'") == [(memo["id"], "CustRfnd")]
    assert rows(config, "SELECT previousdoc, previoustype, nexttype FROM raw_netsuite_payment_applications "
                        "WHERE nextdoc = '99002'") == [(other["id"], "CustCred", "CustRfnd")]
    assert rows(config, "SELECT nextdoc FROM raw_netsuite_payment_applications WHERE previousdoc = '99002'") == []
    assert own_links > 0 and scalar(config, "SELECT count(*) FROM raw_netsuite_payment_applications "
                                            f"WHERE nextdoc = '{other['id']}'") == own_links
    with connect(config) as engine:
        build_staging(engine)
        staged = engine.query("SELECT amount, erp_lettrage FROM stg_netsuite__payments WHERE source_id = '99001'")
        applied = engine.query("SELECT invoice_id, amount FROM stg_netsuite__applications WHERE payment_id = 'NS-99001'")
    assert staged == [(-Decimal(memo["foreigntotal"].lstrip("-")), memo["id"])]
    assert applied == [(memo["id"], Decimal(memo["foreigntotal"].lstrip("-")))]
