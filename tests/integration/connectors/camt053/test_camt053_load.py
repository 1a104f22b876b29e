"""The camt053 source end to end into DuckDB and Postgres: batches, re-drop, quarantine, rejection, world."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from connectors.camt053 import camt053_source
from lettrage.config import WarehouseConfig
from lettrage.orchestration import quarantined_message
from tests.fixtures import camt053_v02 as v02
from tests.fixtures.golden import FIXTURES
from tests.fixtures.loading import columns, copy_samples, rows, run, scalar, small_world
from warehouse.engine import connect
from warehouse.load import quarantined_by_load

README_COLUMNS = (
    "bank_line_id entity account_iban statement_id booking_date value_date amount currency status credit_debit "
    "bank_tx_code counterparty_name counterparty_iban remittance_unstructured creditor_reference referred_documents "
    "end_to_end_id return_reason batch_size additional_info source_file file_hash").split()


def test_load_quarantine_and_redrop(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    drop = copy_samples(FIXTURES / "camt053", tmp_path / "FR01" / "camt053",
                        ["FR7630006000011234567890189_2025-01.xml", "statement_v02.xml"])
    result, stats = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert (stats.files_loaded, stats.rows_loaded, stats.rows_quarantined) == (2, 4 + 3, 1)
    # what the run's log names beside the count (flows.steps): file, line, field and reason of the first rows
    bad = quarantined_by_load(result.load_ids, "camt053", "FR01", config=warehouse_config)
    assert bad.records == 1
    assert [(f, line, field) for f, line, field, _ in bad.examples] == [("FR7630006000011234567890189_2025-01.xml", 75, "Amt")]
    message = quarantined_message("camt053", "FR01", 1, bad.examples, bad.records)
    assert message.startswith("1 record(s) quarantined (first: ") and "0189_2025-01.xml line 75, Amt: entry " in message
    assert "FR7630006000011234567890189" not in message  # (an IBAN in a file name is masked, as in every log record)
    assert set(README_COLUMNS) <= set(columns(warehouse_config, "raw_camt053_entries"))
    batch = rows(warehouse_config, "SELECT bank_line_id, amount, batch_size FROM raw_camt053_entries "
                 "WHERE bank_line_id LIKE 'BNK-2025-000002/%' ORDER BY bank_line_id")
    assert [(b[0], str(b[1]), b[2]) for b in batch] == [("BNK-2025-000002/1", "600.50", 2), ("BNK-2025-000002/2", "100.00", 2)]
    assert scalar(warehouse_config, "SELECT sum(amount) FROM raw_camt053_entries WHERE statement_id = 'STMT-2025-01'") == \
        scalar(warehouse_config, "SELECT 1835.50")
    assert rows(warehouse_config, "SELECT field, line FROM raw_quarantine WHERE source_system = 'camt053'") == [("Amt", 75)]
    # an IBAN listed in no entity's bank_ibans falls back to the folder's entity
    assert scalar(warehouse_config, "SELECT entity FROM raw_loaded_files WHERE file = 'statement_v02.xml'") == "FR01"

    _, again = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert (again.files_loaded, again.files_skipped) == (0, 2)
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_camt053_entries") == 7


@pytest.mark.parametrize("corrected_name", ["A_corrected.xml", "Z_corrected.xml"])
def test_a_corrected_statement_delivered_with_the_original_wins(warehouse_config: WarehouseConfig,
                                                                 tmp_path: Path, corrected_name: str) -> None:
    """The bank re-sends a statement corrected (same entries, one remittance completed, a later CreDtTm) and both
    files land before the night's load: the corrected entry is kept, whichever file the folder lists first."""
    drop = tmp_path / "FR01" / "camt053"
    drop.mkdir(parents=True)
    original = (FIXTURES / "camt053" / "FR7630006000011234567890189_2025-01.xml").read_text(encoding="utf-8")
    corrected = original.replace("<Ustrd>FACTURE FA-2025-000001</Ustrd>", "<Ustrd>FACTURE FA-2025-000001 CORRIGE</Ustrd>")
    corrected = corrected.replace("<CreDtTm>2025-02-01T06:00:00</CreDtTm>", "<CreDtTm>2025-02-02T07:30:00</CreDtTm>")
    assert corrected != original
    (drop / corrected_name).write_text(corrected, encoding="utf-8")  # listed before or after the original
    (drop / "M_original.xml").write_text(original, encoding="utf-8")
    run(camt053_source, drop, warehouse_config, "camt053_FR01")
    got = rows(warehouse_config, "SELECT remittance_unstructured FROM raw_camt053_entries "
                                 "WHERE bank_line_id LIKE 'BNK-2025-000001%'")
    assert len(got) == 1 and "CORRIGE" in got[0][0]


def test_wrong_format_is_rejected(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    drop = copy_samples(FIXTURES / "camt053", tmp_path / "FR01", ["pain001_not_a_statement.xml"])
    with pytest.raises(PipelineStepFailed) as info:
        run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert "pain.001.001.03" in str(info.value) and "camt.053 statement" in str(info.value)


def test_a_wrong_file_among_statements_is_rejected_alone(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """A pain.001 dropped with the statements: the statement loads, the pain.001 is recorded as rejected."""
    drop = copy_samples(FIXTURES / "camt053", tmp_path / "FR01" / "camt053",
                        ["statement_v02.xml", "pain001_not_a_statement.xml"])
    _, stats = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert (stats.files_loaded, stats.files_rejected, stats.rows_loaded) == (1, 1, 3)
    assert rows(warehouse_config, "SELECT file, format, entity FROM raw_loaded_files WHERE format = 'rejected'") == [
        ("pain001_not_a_statement.xml", "rejected", "FR01")]
    reason = scalar(warehouse_config, "SELECT reason FROM raw_quarantine WHERE file = 'pain001_not_a_statement.xml'")
    assert "camt.053 statement" in reason and "pain.001.001.03" in reason


def test_a_statement_cut_off_in_transfer_is_rejected_alone(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """A statement truncated mid-entry beside a complete one: the complete one loads, the cut one is recorded as
    rejected with the line where the XML stops, and none of its entries loads (not even those before the cut)."""
    drop = tmp_path / "FR01" / "camt053"
    v02.write_statement(drop / "complete.xml", v02.statement(INTRADAY, "STMT-A", "2025-11-11T13:00:00"))
    whole = v02.statement(END_OF_DAY, "STMT-B", "2025-11-12T06:00:00")
    cut = whole[:whole.index("2025111100003") + 200]
    (drop / "cut.xml").write_text(cut, encoding="utf-8")
    _, stats = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert (stats.files_loaded, stats.files_rejected, stats.rows_loaded) == (1, 1, 2)
    assert rows(warehouse_config, "SELECT file FROM raw_loaded_files WHERE format = 'rejected'") == [("cut.xml",)]
    assert "not well-formed XML" in scalar(warehouse_config, "SELECT reason FROM raw_quarantine WHERE file = 'cut.xml'")
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_camt053_entries WHERE statement_id = 'STMT-B'") == 0


def test_sample_world_loads_clean(warehouse_config: WarehouseConfig) -> None:
    world = small_world()
    for entity in ("FR01", "DE01"):
        _, stats = run(camt053_source, world / entity / "camt053", warehouse_config, f"camt053_{entity}")
        assert stats.rows_quarantined == 0 and stats.files_loaded > 0
    assert set(r[0] for r in rows(warehouse_config, "SELECT DISTINCT entity FROM raw_camt053_entries")) == {"FR01", "DE01"}
    with (world / "ground_truth" / "payouts.csv").open(encoding="utf-8") as fh:
        refs = {r["bank_line_ref"] for r in csv.DictReader(fh) if r["bank_line_ref"]}
    loaded = {r[0] for r in rows(warehouse_config, "SELECT bank_line_id FROM raw_camt053_entries")}
    assert refs and refs <= loaded
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_camt053_entries WHERE end_to_end_id = 'NOTPROVIDED'") == 0


def test_a_replaced_warehouse_gets_the_files_again(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """The warehouse is replaced (a new DuckDB file at the same path, a fresh Postgres schema) but dlt's
    local state still lists the files as loaded: they are read again, not silently skipped."""
    drop = copy_samples(FIXTURES / "camt053", tmp_path / "FR01" / "camt053", ["statement_v02.xml"])
    _, first = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    with connect(warehouse_config) as engine:
        tables = engine.query("SELECT table_name FROM information_schema.tables WHERE table_schema = :s",
                              {"s": engine.dataset})
        for (table,) in tables:
            if str(table).startswith(("raw_", "_dlt")):
                engine.execute(f'DROP TABLE "{table}"')
    _, again = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert first.files_loaded == again.files_loaded == 1
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_camt053_entries") == first.rows_loaded


INTRADAY = [v02.entry("2025111100001", "1200.00", "ALPHA SA", "FA-2025-000101"),
            v02.entry("2025111100003", "3634.75", "PAYER A SARL", "FA-2025-000117")]
END_OF_DAY = [INTRADAY[0], v02.entry("2025111100002", "50.00", "BANQUE", "FRAIS", indicator="DBIT"), INTRADAY[1],
              v02.entry("2025111100003", "9113.41", "PAYER B GMBH", "FA-2025-000121")]


def test_a_reference_reused_in_a_statement_loses_no_credit(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """The bank gives reference 2025111100003 to two credits of the day's statement (3,634.75 from A, 9,113.41
    from B): both are loaded, the ledger counts what the table holds, and neither the intraday statement that
    listed A before nor a corrected re-send of the day's statement duplicates a line."""
    drop = tmp_path / "FR01" / "camt053"
    v02.write_statement(drop / "intraday.xml", v02.statement(INTRADAY, "STMT-2025-11-11-INTRA", "2025-11-11T13:00:00"))
    run(camt053_source, drop, warehouse_config, "camt053_FR01")
    v02.write_statement(drop / "eod.xml", v02.statement(END_OF_DAY, "STMT-2025-11-11", "2025-11-12T06:00:00"))
    _, stats = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert (stats.files_loaded, stats.rows_loaded, stats.rows_quarantined) == (1, 4, 0)
    lines = "SELECT bank_line_id, amount, counterparty_name, remittance_unstructured FROM raw_camt053_entries " \
            "ORDER BY bank_line_id"
    assert [(r[0], str(r[1]), r[2]) for r in rows(warehouse_config, lines)] == [
        ("2025111100001", "1200.00", "ALPHA SA"), ("2025111100002", "-50.00", "BANQUE"),
        ("2025111100003", "3634.75", "PAYER A SARL"), ("2025111100003#2", "9113.41", "PAYER B GMBH")]
    assert scalar(warehouse_config, "SELECT rows_loaded FROM raw_loaded_files WHERE file = 'eod.xml'") == \
        scalar(warehouse_config, "SELECT count(*) FROM raw_camt053_entries WHERE statement_id = 'STMT-2025-11-11'")

    corrected = [e.replace("FA-2025-000121", "FA-2025-000121 FA-2025-000122") for e in END_OF_DAY]
    v02.write_statement(drop / "eod_corrected.xml", v02.statement(corrected, "STMT-2025-11-11", "2025-11-12T09:30:00"))
    _, again = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert (again.files_loaded, again.rows_loaded) == (1, 4)
    got = rows(warehouse_config, lines)
    assert len(got) == 4 and got[3][3] == "FA-2025-000121 FA-2025-000122"
    assert str(scalar(warehouse_config, "SELECT sum(amount) FROM raw_camt053_entries")) == "13898.16"


def test_an_entry_without_booking_date_is_booked_on_its_value_date(warehouse_config: WarehouseConfig,
                                                                   tmp_path: Path) -> None:
    """BookgDt is optional in camt.053.001.02: ValDt stands in (Dt or DtTm), so no line loads without a date;
    an entry with neither date is quarantined with its line and the rest of the file loads."""
    xml = v02.statement([
        v02.entry("WITH-BOTH", "100.00", "ALPHA SA", "FA-1"),
        v02.entry("VALDT-ONLY", "200.00", "BETA SAS", "FA-2", booked=None, value="<Dt>2025-11-10</Dt>"),
        v02.entry("VALDTTM-ONLY", "300.00", "GAMMA AG", "FA-3", booked=None, value="<DtTm>2025-11-09T23:10:00+01:00</DtTm>"),
        v02.entry("NO-DATE", "400.00", "DELTA BV", "FA-4", booked=None, value=None)])
    drop = tmp_path / "FR01" / "camt053"
    v02.write_statement(drop / "stmt.xml", xml)
    _, stats = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert (stats.rows_loaded, stats.rows_quarantined) == (3, 1)
    got = rows(warehouse_config, "SELECT bank_line_id, booking_date, value_date FROM raw_camt053_entries "
                                 "ORDER BY bank_line_id")
    assert [(r[0], str(r[1]), str(r[2])) for r in got] == [
        ("VALDT-ONLY", "2025-11-10", "2025-11-10"), ("VALDTTM-ONLY", "2025-11-09", "2025-11-09"),
        ("WITH-BOTH", "2025-11-11", "2025-11-11")]
    quarantined = rows(warehouse_config, "SELECT file, line, field, reason FROM raw_quarantine")
    assert [q[:3] for q in quarantined] == [("stmt.xml", v02.entry_line(xml, "NO-DATE"), "BookgDt")]
    assert "NO-DATE" in quarantined[0][3]
    assert rows(warehouse_config, "SELECT rows_loaded, rows_quarantined FROM raw_loaded_files") == [(3, 1)]


def test_two_entities_banks_giving_the_same_reference_keep_both_lines(warehouse_config: WarehouseConfig,
                                                                      tmp_path: Path) -> None:
    """Two entities' banks number entries the same way (date and sequence: 20261105000001): each entity keeps its
    own line (the raw key starts with the entity, as the ERPs' do), instead of the second load replacing the first."""
    for entity, iban, payer in (("FR01", "FR7630004907725320579463053", "ACME"),
                                ("DE01", "DE75701500002665916458", "MAPLE LEAF")):
        drop = tmp_path / entity / "camt053"
        v02.write_statement(drop / "stmt.xml", v02.statement([v02.entry("20261105000001", "300.00", payer, "INV 1")],
                                                              f"STMT-{entity}", iban=iban))
        run(camt053_source, drop, warehouse_config, f"camt053_{entity}")
    assert rows(warehouse_config, "SELECT entity, bank_line_id, counterparty_name FROM raw_camt053_entries "
                                  "ORDER BY entity") == [("DE01", "20261105000001", "MAPLE LEAF"),
                                                         ("FR01", "20261105000001", "ACME")]


def test_two_accounts_of_one_entity_giving_the_same_reference_keep_both_lines(warehouse_config: WarehouseConfig,
                                                                              tmp_path: Path) -> None:
    """One entity banks with two banks that both number entries by date and sequence: the second account's
    statement adds its line instead of replacing the first's (the raw key holds the account), a re-delivery merges
    as before, and fct_bank_line tells the two apart (the other account's id carries a digest of the account, never
    the IBAN itself)."""
    from warehouse.build import build_core, build_staging

    drop = tmp_path / "FR01" / "camt053"
    for name, iban, payer in (("bnp.xml", "FR7630004000031234567890143", "ACME"),
                              ("sg.xml", "FR7630003000405678901234591", "BETA")):
        v02.write_statement(drop / name, v02.statement([v02.entry("20261105000001", "300.00", payer, "INV 1")],
                                                        f"STMT-{name}", iban=iban))
    run(camt053_source, drop, warehouse_config, "camt053_FR01")
    (drop / "sg_again.xml").write_text((drop / "sg.xml").read_text(encoding="utf-8").replace(
        "2025-11-12T06:00:00", "2025-11-12T09:00:00"), encoding="utf-8")
    run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert sorted(rows(warehouse_config, "SELECT account_iban, counterparty_name FROM raw_camt053_entries")) == [
        ("FR7630003000405678901234591", "BETA"), ("FR7630004000031234567890143", "ACME")]
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=date(2025, 12, 1), report=build_staging(engine))
        lines = engine.query("SELECT bank_line_id, counterparty_name, entry_id FROM fct_bank_line ORDER BY 2")
    (acme_id, _, acme_entry), (beta_id, _, beta_entry) = lines
    # (BETA's account comes first in IBAN order: its line keeps the bank's reference)
    assert beta_id == acme_id.split("@")[0] == "20261105000001" and acme_entry == acme_id and beta_entry == beta_id
    assert len(acme_id) == len("20261105000001@") + 8 and "FR76" not in acme_id


def test_a_portal_copy_under_its_own_statement_id_adds_no_line_twice(warehouse_config: WarehouseConfig,
                                                                     tmp_path: Path) -> None:
    """The bank's portal re-delivers an older statement as a copy (``CpyDplctInd`` DUPL) under a statement id of its
    own: the lines the bank gave a reference merge as always; those without one are keyed by statement and place,
    and came in twice (each credit paid its invoice twice, the second an overpayment). A line of the copy that the
    original holds goes; a line only the copy holds stays. A later load of the copy, or both in one load, alike."""
    from warehouse.build import build_core, build_staging

    drop = tmp_path / "FR01" / "camt053"
    original = [v02.entry("REF-1", "100.00", "ACME", "FA-1"), v02.entry(None, "200.00", "BETA", "FA-2"),
                v02.entry(None, "200.00", "BETA", "FA-3")]
    v02.write_statement(drop / "a.xml", v02.statement(original, "STA-1001"))
    run(camt053_source, drop, warehouse_config, "camt053_FR01")
    copy = v02.statement([*original, v02.entry(None, "50.00", "GAMMA", "FA-9")], "DUPLICATA-STA-1001",
                         "2025-11-20T08:00:00")
    v02.write_statement(drop / "copy.xml", copy.replace("<Acct>", "<CpyDplctInd>DUPL</CpyDplctInd><Acct>", 1))
    run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert len(rows(warehouse_config, "SELECT bank_line_id FROM raw_camt053_entries")) == 6  # (as loaded)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=date(2025, 12, 1), report=build_staging(engine))
        lines = engine.query("SELECT bank_line_id, amount, remittance FROM fct_bank_line ORDER BY bank_line_id")
    assert [(i, str(a), r) for i, a, r in lines] == [
        ("DUPLICATA-STA-1001/00004", "50.00", "FA-9"), ("REF-1", "100.00", "FA-1"),
        ("STA-1001/00002", "200.00", "FA-2"), ("STA-1001/00003", "200.00", "FA-3")]


def test_a_re_sent_original_and_a_portal_copy_both_marked_copies_give_each_line_once(
        warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """The bank re-sends the original marked DUPL (same statement id), and the portal's copy comes under another id,
    also DUPL: the copy delivered first keeps each line; two credits alike within one statement stay two."""
    from warehouse.build import build_core, build_staging

    drop = tmp_path / "FR01" / "camt053"
    entries = [v02.entry(None, "200.00", "BETA", "FA-2"), v02.entry(None, "200.00", "BETA", "FA-2")]
    for name, stmt, created in (("resent.xml", "STA-1001", "2025-11-15T08:00:00"),
                                ("portal.xml", "DUPLICATA-STA-1001", "2025-11-20T08:00:00")):
        xml = v02.statement(entries, stmt, created).replace("<Acct>", "<CpyDplctInd>DUPL</CpyDplctInd><Acct>", 1)
        v02.write_statement(drop / name, xml)
    run(camt053_source, drop, warehouse_config, "camt053_FR01")
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=date(2025, 12, 1), report=build_staging(engine))
        lines = [r[0] for r in engine.query("SELECT bank_line_id FROM fct_bank_line ORDER BY bank_line_id")]
    assert lines == ["STA-1001/00001", "STA-1001/00002"]


def test_statements_read_again_restore_a_lost_line_and_duplicate_nothing(warehouse_config: WarehouseConfig,
                                                                         tmp_path: Path) -> None:
    """A line lost from the raw table (an older key merged two banks' lines into one) does not come back on the
    next sync: its file is remembered as loaded. Read again (a backfill's ``reread_statements``), every statement
    is loaded anew: the line is back, the others are merged in place, none twice."""
    drop = tmp_path / "FR01" / "camt053"
    v02.write_statement(drop / "a.xml", v02.statement(INTRADAY, "STMT-A", "2025-11-11T13:00:00"))
    v02.write_statement(drop / "b.xml", v02.statement(END_OF_DAY, "STMT-B", "2025-11-12T06:00:00"))
    run(camt053_source, drop, warehouse_config, "camt053_FR01")
    count = "SELECT count(*) FROM raw_camt053_entries"
    before = scalar(warehouse_config, count)
    with connect(warehouse_config) as engine:
        engine.execute("DELETE FROM raw_camt053_entries WHERE bank_line_id = '2025111100002'")
    _, skipped = run(camt053_source, drop, warehouse_config, "camt053_FR01")
    assert (skipped.files_skipped, scalar(warehouse_config, count)) == (2, before - 1)
    _, again = run(camt053_source, drop, warehouse_config, "camt053_FR01", reread=True)
    assert (again.files_loaded, again.files_skipped) == (2, 0)
    assert scalar(warehouse_config, count) == before
    run(camt053_source, drop, warehouse_config, "camt053_FR01", reread=True)
    assert scalar(warehouse_config, count) == before
