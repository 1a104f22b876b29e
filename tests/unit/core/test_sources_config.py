"""The sources file: valid and invalid configurations as a table of cases."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.registry import load_sources_config
from lettrage.config import WarehouseConfig, load_warehouse_config
from lettrage.errors import ConfigurationError


@pytest.mark.parametrize(
    ("text", "jobs"),
    [
        ("entities: {}", []),
        ("entities:\n  FR01:\n    sage_fec: {path: fec}\n    stripe: {}\n", [("FR01", "sage_fec"), ("FR01", "stripe")]),
        ("entities:\n  DE01:\n    sap_export: {path: sap, enabled: false}\n    camt053: {path: bank}\n",
         [("DE01", "camt053")]),
        ("entities:\n  US01:\n    netsuite: {concurrency: 4}\n", [("US01", "netsuite")]),
    ],
    ids=["empty", "two-sources", "disabled-source", "netsuite-concurrency"],
)
def test_valid_sources_files(tmp_path: Path, text: str, jobs: list[tuple[str, str]]) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_sources_config(path).jobs() == jobs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("entities:\n  FR01:\n    quickbooks: {}\n", "unknown sources ['quickbooks']"),
        ("entities:\n  FR01:\n    stripe: {enabled: maybe}\n", "enabled"),
        ("other: 1\n", "Extra inputs are not permitted"),
        ("entities:\n  US01:\n    netsuite: {subsidiaries: 1}\n",
         "US01.netsuite has settings no source reads ['subsidiaries']; known: ['base_url', 'concurrency', 'enabled', "
         "'path', 'subsidiary']"),
        ("entities:\n  FR01:\n    camt053: {path: bank, iban: FR76}\n", "FR01.camt053 has settings no source reads ['iban']"),
        ("entities:\n  FR01:\n    camt053: path: bank\n", "sources.yaml: not valid YAML: mapping values are not allowed"),
    ],
    ids=["unknown-source", "bad-bool", "unknown-top-level-key", "netsuite-misspelt-subsidiary", "unknown-setting",
         "not-yaml"],
)
def test_invalid_sources_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_sources_config(path)


def test_missing_sources_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LETTRAGE__SOURCES_FILE"):
        load_sources_config(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("url", "engine"),
    [("duckdb:///x.duckdb", "duckdb"), ("postgresql://u:p@h:5432/db", "postgres"), ("postgres://h/db", "postgres")],
    ids=["duckdb", "postgresql", "postgres-alias"],
)
def test_warehouse_urls(url: str, engine: str) -> None:
    assert load_warehouse_config(url).engine == engine


def test_unsupported_warehouse_url_is_refused_without_leaking_the_password() -> None:
    with pytest.raises(ConfigurationError) as err:
        load_warehouse_config("mysql://user:hunter22@h/db")
    assert "hunter22" not in str(err.value)


def test_postgres_url_gets_a_placeholder_password_for_dlt() -> None:
    assert WarehouseConfig("postgresql://postgres@127.0.0.1:5432/test").postgres_url() == (
        "postgresql://postgres:placeholder@127.0.0.1:5432/test"
    )


def test_a_backfill_s_last_day_is_in_its_window() -> None:
    """`backfill --to 2026-11-26` re-reads what changed on the 26th: the sources' exclusive cursor bound is the
    day after (a NetSuite correction at 15:00 that day was left out)."""
    from datetime import date

    from connectors.registry import window_end

    bound = window_end(date(2026, 11, 26))
    assert bound == date(2026, 11, 27) and "2026-11-26T15:00:00" < bound.isoformat()
    assert window_end(None) is None


def test_a_drop_folder_that_does_not_exist_fails_its_source_by_name(tmp_path: Path) -> None:
    """A typo in a file source's path loaded nothing every night, reported as 0 rows loaded."""
    from connectors.registry import build_job

    (tmp_path / "bank").mkdir()
    (tmp_path / "sources.yaml").write_text("entities:\n  FR01:\n    camt053: {path: bank}\n    sage_fec: {path: fecc}\n"
                                           "  DE01:\n    camt053: {path: 'bank/*.xml'}\n", encoding="utf-8")
    config = load_sources_config(tmp_path / "sources.yaml")
    assert build_job(config, "FR01", "camt053") and build_job(config, "DE01", "camt053")  # (a glob in a folder there)
    with pytest.raises(ConfigurationError, match=r"sage_fec/FR01: path .*fecc does not exist"):
        build_job(config, "FR01", "sage_fec")
