"""The sage_fec source end to end into DuckDB and Postgres: counts, types, re-drop, quarantine, rejection."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from connectors.sage_fec import sage_fec_source
from lettrage.config import WarehouseConfig
from lettrage.errors import WrongFormat
from lettrage.orchestration import quarantined_message
from tests.fixtures.golden import FIXTURES
from tests.fixtures.loading import columns, copy_samples, rows, run, scalar, small_world
from warehouse.load import quarantined_by_load

README_LINE_COLUMNS = (
    "entity journal_code journal_lib ecriture_num ecriture_date compte_num compte_lib comp_aux_num comp_aux_lib "
    "piece_ref piece_date ecriture_lib debit credit ecriture_let date_let valid_date montant_devise idevise "
    "line_in_entry source_file line_no file_hash fiscal_year").split()
README_CUSTOMER_COLUMNS = (
    "entity customer_account name email vat_id siren payment_terms_days iban credit_limit country account_owner "
    "source_file line_no").split()


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    return copy_samples(FIXTURES / "sage_fec", tmp_path / "FR01" / "sage_fec",
                        ["123456789FEC20251231_pipe_latin9.txt", "fec_bad_rows.txt", "customers.csv"])


def test_load_quarantine_and_redrop(warehouse_config: WarehouseConfig, drop: Path) -> None:
    result, stats = run(sage_fec_source, drop, warehouse_config, "sage_fec_FR01")
    # both FECs hold entry VE000001 (3 lines): the first file's lines load, the second's are
    # quarantined as duplicates of this run, so the table never holds two rows for one key
    assert (stats.files_loaded, stats.rows_loaded, stats.rows_quarantined) == (3, 6 + 2 + 2, 0 + 14 + 2)
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_fec_lines") == 6 + 5 - 3
    dups = rows(warehouse_config, "SELECT line FROM raw_quarantine WHERE reason LIKE '%already loaded from another file%' "
                "ORDER BY line")
    assert dups == [(2,), (3,), (4,)]
    assert scalar(warehouse_config, "SELECT sum(debit) - sum(credit) FROM raw_sage_fec_lines") == 0
    quarantined = rows(warehouse_config, "SELECT file, line, field FROM raw_quarantine "
                       "WHERE source_system = 'sage_fec' ORDER BY file, line, field")
    assert ("fec_bad_rows.txt", 7, "EcritureNum") in quarantined and ("customers.csv", 4, "customer_account") in quarantined
    bad = quarantined_by_load(result.load_ids, "sage_fec", "FR01", config=warehouse_config)
    assert bad.records == len({(f, n) for f, n, _ in quarantined}) == 16
    assert quarantined_message("sage_fec", "FR01", 16, bad.examples, bad.records).startswith(
        "16 record(s) quarantined (first: customers.csv line 4, customer_account: ")
    ledger = rows(warehouse_config, "SELECT file, entity, rows_loaded, rows_quarantined, encoding FROM raw_loaded_files "
                  "ORDER BY file")
    assert ledger == [("123456789FEC20251231_pipe_latin9.txt", "FR01", 6, 0, "iso-8859-15"),
                      ("customers.csv", "FR01", 2, 2, "utf-8"), ("fec_bad_rows.txt", "FR01", 2, 14, "utf-8")]

    before = scalar(warehouse_config, "SELECT count(*) FROM raw_quarantine")
    _, again = run(sage_fec_source, drop, warehouse_config, "sage_fec_FR01")
    assert (again.files_loaded, again.files_skipped, again.rows_loaded) == (0, 3, 0)
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_fec_lines") == 8
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_quarantine") == before
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_loaded_files") == 3


def test_windows_export_ledger_records_cp1252(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """A FEC saved by Sage on Windows: cp1252 (’ Œ – €) and a closing Ctrl-Z load clean."""
    drop = copy_samples(FIXTURES / "sage_fec", tmp_path / "FR01" / "sage_fec",
                        ["123456789FEC20251231_windows_cp1252.txt"])
    _, stats = run(sage_fec_source, drop, warehouse_config, "sage_fec_FR01")
    assert (stats.rows_loaded, stats.rows_quarantined) == (5, 0)
    assert rows(warehouse_config, "SELECT encoding, rows_quarantined FROM raw_loaded_files") == [("cp1252", 0)]
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_fec_lines "
                  "WHERE comp_aux_lib = '\u0152uvres d\u2019Art \u2013 Atelier'") == 2


def test_columns_follow_the_readme(warehouse_config: WarehouseConfig, drop: Path) -> None:
    run(sage_fec_source, drop, warehouse_config, "sage_fec_FR01")
    lines = columns(warehouse_config, "raw_sage_fec_lines")
    assert set(README_LINE_COLUMNS) <= set(lines)
    assert set(README_CUSTOMER_COLUMNS) <= set(columns(warehouse_config, "raw_sage_fec_customers"))
    types = {c: t.lower() for c, t in lines.items()}
    assert types["ecriture_date"] == "date" and types["line_in_entry"] == "bigint"
    assert types["debit"].startswith(("decimal", "numeric"))


def test_wrong_format_file_is_rejected(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    bad = copy_samples(FIXTURES / "sage_fec", tmp_path / "FR01" / "sage_fec", ["not_a_fec.txt"])
    (bad / "not_a_fec.txt").rename(bad / "984492926FEC20251231.txt")
    with pytest.raises(PipelineStepFailed) as info:
        run(sage_fec_source, bad, warehouse_config, "sage_fec_FR01")
    cause = info.value.__cause__
    while cause is not None and not isinstance(cause, WrongFormat):
        cause = cause.__cause__
    assert isinstance(cause, WrongFormat) and "Date;Libellé;Montant" in str(cause)


def test_a_wrong_file_among_good_ones_is_rejected_alone(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """One file named like a FEC but not one: the good FEC still loads; the other is in the ledger as rejected."""
    drop = copy_samples(FIXTURES / "sage_fec", tmp_path / "FR01" / "sage_fec",
                        ["123456789FEC20251231_pipe_latin9.txt", "not_a_fec.txt"])
    (drop / "not_a_fec.txt").rename(drop / "984492926FEC20251231.txt")
    _, stats = run(sage_fec_source, drop, warehouse_config, "sage_fec_FR01")
    assert (stats.files_loaded, stats.files_rejected, stats.rows_loaded) == (1, 1, 6)
    assert rows(warehouse_config, "SELECT file, format, rows_loaded FROM raw_loaded_files ORDER BY file") == [
        ("123456789FEC20251231_pipe_latin9.txt", "fec", 6), ("984492926FEC20251231.txt", "rejected", 0)]
    reason = scalar(warehouse_config, "SELECT reason FROM raw_quarantine WHERE file = '984492926FEC20251231.txt' AND line = 0")
    assert reason.startswith("file rejected: expected") and "Date;Libellé;Montant" in reason


def test_sample_world_loads_clean(warehouse_config: WarehouseConfig) -> None:
    folder = small_world() / "FR01" / "sage_fec"
    _, stats = run(sage_fec_source, folder, warehouse_config, "sage_fec_FR01")
    physical = sum(sum(1 for _ in p.open(encoding="utf-8")) - 1 for p in folder.glob("*FEC*.txt"))
    assert stats.rows_quarantined == 0
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_fec_lines") == physical
    assert scalar(warehouse_config, "SELECT count(DISTINCT entity) FROM raw_sage_fec_lines") == 1
    with (small_world() / "ground_truth" / "invoices.csv").open(encoding="utf-8") as fh:
        invoices = {r["invoice_number"] for r in csv.DictReader(fh) if r["entity"] == "FR01"}
    loaded = {r[0] for r in rows(warehouse_config, "SELECT DISTINCT piece_ref FROM raw_sage_fec_lines "
                                 "WHERE journal_code = 'VE'")}
    assert loaded == invoices
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_fec_customers") == 40


HEADER = ("JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\t"
          "PieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise")


def _fec_file(path: Path, entries: list[tuple[str, str, str, str, str]]) -> None:
    """A FEC of sales entries (journal, number, date, piece, amount), each 411 / 706."""
    lines = [HEADER]
    for journal, num, day, piece, amount in entries:
        lines.append(f"{journal}\tVentes\t{num}\t{day}\t411000\tClients\tC1\tACME\t{piece}\t{day}\tFacture {piece}\t"
                     f"{amount}\t0,00\t\t\t{day}\t\t")
        lines.append(f"{journal}\tVentes\t{num}\t{day}\t706000\tVentes\t\t\t{piece}\t{day}\tFacture {piece}\t"
                     f"0,00\t{amount}\t\t\t{day}\t\t")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_each_fiscal_year_numbers_its_entries_anew(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """VT 1 of 2025 and VT 1 of 2026 are two entries: the 2026 FEC adds its year, and its re-export
    replaces only its own year's lines."""
    folder = tmp_path / "FR01" / "sage_fec"
    folder.mkdir(parents=True)
    _fec_file(folder / "123456789FEC20251231.txt", [("VT", "1", "20250110", "FA-2025-0001", "100,00"),
                                                    ("VT", "2", "20251220", "FA-2025-0002", "200,00")])
    run(sage_fec_source, folder, warehouse_config, "sage_fec_FR01")
    _fec_file(folder / "123456789FEC20261231.txt", [("VT", "1", "20260105", "FA-2026-0001", "300,00")])
    _, stats = run(sage_fec_source, folder, warehouse_config, "sage_fec_FR01")
    assert (stats.rows_loaded, stats.rows_quarantined) == (2, 0)
    by_year = "SELECT fiscal_year, ecriture_num, piece_ref FROM raw_sage_fec_lines WHERE compte_num = '411000' ORDER BY 1, 2"
    assert [(str(y), n, p) for y, n, p in rows(warehouse_config, by_year)] == [
        ("2025-12-31", "1", "FA-2025-0001"), ("2025-12-31", "2", "FA-2025-0002"), ("2026-12-31", "1", "FA-2026-0001")]

    # the 2026 FEC exported again on 15 January: VT 1 corrected, VT 2 added; 2025 untouched
    _fec_file(folder / "123456789FEC20261231.txt", [("VT", "1", "20260105", "FA-2026-0001", "310,00"),
                                                    ("VT", "2", "20260112", "FA-2026-0002", "50,00")])
    run(sage_fec_source, folder, warehouse_config, "sage_fec_FR01")
    assert [(str(y), n, p) for y, n, p in rows(warehouse_config, by_year)] == [
        ("2025-12-31", "1", "FA-2025-0001"), ("2025-12-31", "2", "FA-2025-0002"),
        ("2026-12-31", "1", "FA-2026-0001"), ("2026-12-31", "2", "FA-2026-0002")]
    assert scalar(warehouse_config, "SELECT sum(debit) FROM raw_sage_fec_lines WHERE piece_ref = 'FA-2026-0001'") == 310

    # exported again after the accountant deleted VT 1 (a wrong invoice): it goes with the year the export replaces;
    # merged line by line it stayed, an invoice owed for ever (an independent operations check)
    _fec_file(folder / "123456789FEC20261231.txt", [("VT", "2", "20260112", "FA-2026-0002", "50,00")])
    run(sage_fec_source, folder, warehouse_config, "sage_fec_FR01")
    assert [(str(y), n, p) for y, n, p in rows(warehouse_config, by_year)] == [
        ("2025-12-31", "1", "FA-2025-0001"), ("2025-12-31", "2", "FA-2025-0002"), ("2026-12-31", "2", "FA-2026-0002")]


def test_a_line_with_two_bad_fields_is_one_record_set_aside(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """raw_quarantine holds a row per bad field; the run's log counts the lines set aside (the blind bad-input check
    read "3 row(s) quarantined" for two bad lines of a file)."""
    drop = tmp_path / "FR01" / "sage_fec"
    drop.mkdir(parents=True)
    header = ("JournalCode\tJournalLib\tEcritureNum\tEcritureDate\tCompteNum\tCompteLib\tCompAuxNum\tCompAuxLib\t"
              "PieceRef\tPieceDate\tEcritureLib\tDebit\tCredit\tEcritureLet\tDateLet\tValidDate\tMontantdevise\tIdevise")
    lines = [
        "VE\tVentes\tVE000001\t20250103\t411000\tClients\tC00001\tDupont SAS\tFA-1\t20250103\tFacture FA-1\t"
        "120,00\t0,00\t\t\t20250103\t\t",
        "VE\tVentes\tVE000001\t20250103\t706000\tVentes\t\t\tFA-1\t20250103\tFacture FA-1\t0,00\t120,00\t\t\t"
        "20250103\t\t",
        # both the date and the debit are wrong on this line; the next line has a bad credit only
        "VE\tVentes\tVE000002\t2025-13-45\t411000\tClients\tC00001\tDupont SAS\tFA-2\t20250104\tFacture FA-2\t"
        "douze\t0,00\t\t\t20250104\t\t",
        "VE\tVentes\tVE000002\t20250104\t706000\tVentes\t\t\tFA-2\t20250104\tFacture FA-2\t0,00\tx\t\t\t"
        "20250104\t\t",
    ]
    (drop / "123456789FEC20251231.txt").write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    result, _ = run(sage_fec_source, drop, warehouse_config, "sage_fec_FR01")
    fields = rows(warehouse_config, "SELECT line, field FROM raw_quarantine WHERE source_system = 'sage_fec' "
                  "AND field IS NOT NULL ORDER BY line, field")
    assert (4, "Debit") in fields and (4, "EcritureDate") in fields and (5, "Credit") in fields
    every = scalar(warehouse_config, "SELECT count(*) FROM raw_quarantine WHERE source_system = 'sage_fec'")
    bad = quarantined_by_load(result.load_ids, "sage_fec", "FR01", config=warehouse_config)
    assert bad.records == 2 and every >= 3
    assert quarantined_message("sage_fec", "FR01", every, bad.examples, bad.records).startswith(
        f"2 record(s) quarantined, {every} bad field(s) (first: 123456789FEC20251231.txt line 4, ")
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_fec_lines") == 2  # (VE000001 loads)
