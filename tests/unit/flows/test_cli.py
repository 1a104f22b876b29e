"""The CLI's own behaviour: date options, Ctrl-C handling (the flows are tested elsewhere)."""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lettrage import cli


@pytest.mark.parametrize(
    "args",
    [["backfill", "--from", "2026-13-01", "--to", "2026-11-07"], ["sync", "--as-of", "22/11/2026"],
     ["reminders", "list", "--as-of", "2026-02-30"], ["reminders", "statements", "--as-of", "2026/11/01"],
     ["reminders", "promise", "-e", "FR01", "-i", "FA-1", "--on", "2026-02-30", "--actor", "a"],
     ["factoring", "propose", "--as-of", "2026-13-01"], ["report", "--as-of", "2026-02-30"],
     ["proposals", "--as-of", "x"]],
    ids=["backfill-bad-from", "sync-bad-as-of", "reminders-list", "reminders-statements", "reminders-promise",
         "factoring-propose", "report", "proposals"],
)
def test_bad_dates_are_refused_before_anything_runs(args: list[str], monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    # (no warehouse where the command looks: the date is refused before that is found out)
    monkeypatch.setenv("LETTRAGE__WAREHOUSE_URL", f"duckdb:///{tmp_path / 'none.duckdb'}")
    ran: list[str] = []
    monkeypatch.setattr(cli, "_run_with_progress", lambda *a, **k: ran.append("run"))
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code != 0
    assert "is not a date in YYYY-MM-DD form" in result.output
    assert ran == []


def test_first_ctrl_c_interrupts_and_second_stops_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    stopped: list[str] = []
    monkeypatch.setattr(cli, "_stop_now", lambda title: stopped.append(title))
    monkeypatch.setattr(cli, "INTERRUPT_GRACE_SECONDS", 3600.0)
    before = signal.getsignal(signal.SIGINT)
    restore = cli._guard_interrupts("Sync")
    try:
        handler = signal.getsignal(signal.SIGINT)
        assert callable(handler)
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, None)
        assert stopped == []
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, None)
        assert stopped == ["Sync"]
    finally:
        restore()
    assert signal.getsignal(signal.SIGINT) is before


def test_exit_code_for_an_interrupted_run_is_130() -> None:
    assert cli.EXIT_INTERRUPTED == 130


@pytest.mark.parametrize(
    "args", [["report"], ["sql", "select 1"], ["reminders", "list"], ["factoring", "propose"], ["matches", "list"],
             ["matches", "confirm", "m1", "--by", "alice"], ["audit", "invoice", "FR01", "I1"], ["proposals"]],
    ids=["report", "sql", "reminders-list", "factoring-propose", "matches-list", "matches-confirm", "audit",
         "proposals"])
def test_a_command_run_where_there_is_no_warehouse_says_so_and_creates_none(
        args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "elsewhere" / "warehouse.duckdb"
    monkeypatch.setenv("LETTRAGE__WAREHOUSE_URL", f"duckdb:///{missing}")
    result = CliRunner().invoke(cli.app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert f"no warehouse at {missing}" in result.output and "lettrage sync" in result.output
    assert not missing.exists()


def test_a_bad_query_is_a_message_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from warehouse.engine import connect

    monkeypatch.setenv("LETTRAGE__WAREHOUSE_URL", f"duckdb:///{tmp_path / 'wh.duckdb'}")
    with connect() as engine:
        engine.execute("CREATE TABLE t (a INTEGER)")
    result = CliRunner().invoke(cli.app, ["sql", "select nope from t"], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "nope" in result.output and "Traceback" not in result.output


def test_a_report_for_another_date_than_the_figures_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The marts hold one date's figures: asked for another, the report stops and says how to get them,
    instead of printing the held date's figures under the asked one; asked for their date, it prints them."""
    from warehouse.engine import connect

    monkeypatch.setenv("LETTRAGE__WAREHOUSE_URL", f"duckdb:///{tmp_path / 'wh.duckdb'}")
    with connect() as engine:
        engine.execute("CREATE TABLE mart_open_receivables (entity VARCHAR, currency VARCHAR, status VARCHAR, "
                       "amount_open DECIMAL(18,2), as_of DATE)")
        engine.execute("INSERT INTO mart_open_receivables VALUES ('FR01', 'EUR', 'overdue', 120.00, DATE '2025-11-05')")
    result = CliRunner().invoke(cli.app, ["report", "--as-of", "2025-11-30"], env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "as of 2025-11-05, not 2025-11-30" in said and "lettrage reconcile --as-of 2025-11-30" in said
    result = CliRunner().invoke(cli.app, ["report", "--as-of", "2025-11-05"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "Open receivables (encours) as of 2025-11-05" in result.output


def test_python_dash_m_lettrage_runs_the_same_command_line() -> None:
    """``python -m lettrage`` for an interpreter whose scripts directory is not on PATH."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "lettrage", "--help"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "Usage: lettrage" in done.stdout and "sync" in done.stdout


def test_fx_rates_are_loaded_from_a_csv_or_the_bad_line_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from warehouse.engine import connect

    monkeypatch.setenv("LETTRAGE__WAREHOUSE_URL", f"duckdb:///{tmp_path / 'wh.duckdb'}")
    with connect() as engine:
        engine.execute("CREATE TABLE t (a INTEGER)")
    good = tmp_path / "rates.csv"
    good.write_text("rate_date,currency,entity_currency,rate\n2026-11-26,USD,EUR,0.9234\n2026-11-26,CAD,USD,0.7150\n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["fx-rates", str(good)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "2 rate(s) loaded" in result.output
    with connect(read_only=True) as engine:
        assert engine.query("SELECT currency, rate FROM fx_rates ORDER BY currency") == [
            ("CAD", Decimal("0.7150")), ("USD", Decimal("0.9234"))]
    bad = tmp_path / "bad.csv"
    bad.write_text("rate_date,currency,entity_currency,rate\n2026-11-26,USD,EUR,abc\n", encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["fx-rates", str(bad)], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "bad.csv" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args", [["reminders", "list", "-e", "XX01"], ["proposals", "-e", "ZZ99"],
                                  ["matches", "list", "-e", "ZZ99"], ["factoring", "propose", "-e", "ZZ99"],
                                  ["reconcile", "-e", "XX01"]],
                         ids=["reminders-list", "proposals", "matches-list", "factoring-propose", "reconcile"])
def test_an_unknown_entity_is_refused_naming_the_known_ones(args: list[str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in an entity code printed empty tables (and wrote an empty proposal file) with exit code 0."""
    monkeypatch.setenv("LETTRAGE__WAREHOUSE_URL", f"duckdb:///{tmp_path / 'wh.duckdb'}")
    monkeypatch.setenv("LETTRAGE__SOURCES_FILE", str(tmp_path / "none.yaml"))
    result = CliRunner().invoke(cli.app, args, env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert "unknown entity" in result.output and "FR01" in result.output
    assert not (tmp_path / "wh.duckdb").exists()


def test_an_entity_in_lower_case_is_the_entity() -> None:
    from lettrage.terminal import check_entities

    assert check_entities(["fr01", " DE01 "]) == ["FR01", "DE01"]


def test_a_source_s_detail_is_printed_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing secret's hint names its section, "[sources.stripe.FR01] api_key": rich took it for markup and the
    summary table printed "… or  api_key in .dlt/secrets.toml"."""
    from rich.console import Console

    from lettrage.progress import BOARD

    recorded = Console(record=True, width=300)
    monkeypatch.setattr(cli, "console", recorded)
    BOARD.reset()
    BOARD.start("stripe/FR01")
    BOARD.fail("stripe/FR01", "missing secret: set X or [sources.stripe.FR01] api_key in .dlt/secrets.toml")
    cli._print_source_summary("Sync", 1.0)
    BOARD.reset()
    assert "[sources.stripe.FR01] api_key" in recorded.export_text()
