"""Run names, windows, retry classification, failure messages and artifact tables of the flows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest

from lettrage import orchestration as orch
from lettrage.errors import (
    AuthenticationExpired,
    ConfigurationError,
    RateLimited,
    RetriesExhausted,
    RowError,
    TransientSourceError,
)
from lettrage.logging import register_secret


@pytest.mark.parametrize(
    ("kind", "entities", "day", "expected"),
    [
        ("nightly", ["FR01"], date(2026, 11, 22), "nightly-FR01-2026-11-22"),
        ("nightly", None, date(2026, 11, 22), "nightly-all-2026-11-22"),
        ("nightly", [], "2026-11-22", "nightly-all-2026-11-22"),
        ("backfill", ["FR01", "DE01"], "2026-11-01..2026-11-07", "backfill-DE01-FR01-2026-11-01..2026-11-07"),
    ],
    ids=["one-entity", "all-none", "all-empty", "sorted-entities-window"],
)
def test_run_name_says_what_ran(kind: str, entities: list[str] | None, day: date | str, expected: str) -> None:
    assert orch.run_name(kind, entities, day) == expected


@pytest.mark.parametrize(
    ("kind", "entities_param", "params", "expected"),
    [
        ("nightly", "entities", {"entities": ["FR01"], "as_of": date(2026, 11, 22)}, "nightly-FR01-2026-11-22"),
        ("reconcile", "entity", {"entity": "DE01", "as_of": "2026-11-21"}, "reconcile-DE01-2026-11-21"),
        ("marts", None, {"as_of": date(2026, 11, 22), "entities": ["FR01"]}, "marts-all-2026-11-22"),
        ("reminders", "entities", {}, "reminders-all-{today}"),
    ],
    ids=["a-list", "one-entity-parameter", "not-per-entity", "defaults"],
)
def test_a_flow_run_is_named_from_its_own_parameters(monkeypatch: pytest.MonkeyPatch, kind: str,
                                                      entities_param: str | None, params: dict[str, object],
                                                      expected: str) -> None:
    from types import SimpleNamespace

    from flows import params as flow_params

    monkeypatch.setattr(flow_params, "flow_run", SimpleNamespace(parameters=params))
    name = flow_params.run_namer(kind, entities_param)()
    assert name == expected.format(today=orch.today())


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, (date(2026, 11, 15), date(2026, 11, 22))),
        (date(2026, 10, 1), None, (date(2026, 10, 1), date(2026, 11, 22))),
        (None, date(2026, 11, 10), (date(2026, 11, 3), date(2026, 11, 10))),
        (date(2026, 11, 1), date(2026, 11, 1), (date(2026, 11, 1), date(2026, 11, 1))),
    ],
    ids=["defaults", "start-only", "end-only", "one-day"],
)
def test_backfill_window_defaults_are_computed_from_today(start: date | None, end: date | None,
                                                          expected: tuple[date, date]) -> None:
    assert orch.backfill_window(start, end, today_=date(2026, 11, 22)) == expected


def test_backfill_window_refuses_an_inverted_window() -> None:
    with pytest.raises(ConfigurationError, match="ends .*2026-11-01.* before it starts .*2026-11-05"):
        orch.backfill_window(date(2026, 11, 5), date(2026, 11, 1), today_=date(2026, 11, 22))


def _wrapped(inner: BaseException) -> BaseException:
    """What dlt does: a step failure whose cause is the connector's error."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise RuntimeError("Pipeline execution failed at stage extract") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize(
    ("exc", "retry"),
    [
        (TransientSourceError("503 from api.stripe.com"), True),
        (RateLimited("429", retry_after=2), True),
        (RetriesExhausted("/v1/charges", "ch_1", 5, None), True),
        (httpx.ConnectError("connection refused"), True),
        (ConnectionResetError(), True),
        (AuthenticationExpired("401 from api.stripe.com: invalid key"), False),
        (ConfigurationError("missing secret"), False),
        (RowError("fec.txt", 3, "Debit", "not a number"), False),
        (ValueError("a bug"), False),
        (_wrapped(TransientSourceError("502")), True),
        (_wrapped(AuthenticationExpired("401")), False),
        (None, False),
    ],
    ids=["transient", "429", "exhausted", "httpx-network", "socket-reset", "auth", "config", "bad-row", "bug",
         "dlt-wrapped-transient", "dlt-wrapped-auth", "none"],
)
def test_only_transient_trouble_is_retried(exc: BaseException | None, retry: bool) -> None:
    assert orch.is_retryable(exc) is retry


def test_describe_error_names_the_connector_error_not_dlts_wrapper_and_masks_secrets() -> None:
    register_secret("sk_test_orchestration_secret_123")
    exc = _wrapped(AuthenticationExpired("401: key sk_test_orchestration_secret_123 refused for FR7630004000031234567890143"))
    text = orch.describe_error(exc)
    assert text.startswith("AuthenticationExpired: 401")
    assert "sk_test_orchestration_secret_123" not in text
    assert "FR7630004000031234567890143" not in text


def _failed_extraction(tmp_path: Path) -> BaseException:
    """A real dlt run whose second page fails to parse after another resource ran dry: dlt's pipe iterator
    fetches the next item while handling that resource's ``StopIteration``, so the parse error's implicit
    context is a ``StopIteration`` (what ``netsuite/US01 (StopIteration)`` came from)."""
    import dlt

    @dlt.resource(name="customers")
    def customers() -> Iterator[list[dict[str, int]]]:
        yield [{"id": 1}]

    @dlt.resource(name="transactions")
    def transactions() -> Iterator[list[dict[str, object]]]:
        yield [{"id": 1}]
        yield [{"id": 2, "trandate": date(2025, 31, 10)}]  # ValueError: month must be in 1..12

    pipeline = dlt.pipeline("describe_error", destination=dlt.destinations.duckdb(str(tmp_path / "wh.duckdb")),
                            pipelines_dir=str(tmp_path / "dlt"))
    with pytest.raises(Exception) as info:
        pipeline.extract([customers(), transactions()])
    return info.value


def test_describe_error_names_the_parse_error_and_its_resource_not_stopiteration(tmp_path: Path) -> None:
    exc = _failed_extraction(tmp_path)
    assert any(isinstance(e, StopIteration) for e in _contexts(exc)), "the run no longer reproduces the defect"
    text = orch.describe_error(exc)
    assert "StopIteration" not in text
    assert text == "ValueError: month must be in 1..12 (resource transactions)"
    assert isinstance(orch.root_cause(exc), ValueError)
    outcome = orch.RunOutcome()
    outcome.add_failed("netsuite", "US01", text)
    assert outcome.failure_message() == ("1 of 1 source(s) failed: netsuite/US01 "
                                         "(ValueError: month must be in 1..12 (resource transactions))")


def test_describe_error_skips_a_stopiteration_context_but_keeps_explicit_causes() -> None:
    try:
        try:
            next(iter([]))
        except StopIteration:
            raise ValueError("bad value '31/10/2025'")  # noqa: B904 - the implicit context is the point
    except ValueError as exc:
        assert orch.describe_error(exc) == "ValueError: bad value '31/10/2025'"
    stop = StopIteration()
    try:
        raise RuntimeError("wrapper") from stop
    except RuntimeError as exc:  # a StopIteration given as the explicit cause is still the root
        assert orch.root_cause(exc) is stop


def _contexts(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(out) < 20:
        out.append(current)
        current = current.__cause__ or current.__context__
    return out


def test_outcome_keeps_loaded_sources_and_names_the_failed_ones() -> None:
    outcome = orch.RunOutcome()
    outcome.add_loaded({"entity": "FR01", "source": "camt053", "rows": 120, "quarantined": 0, "seconds": 1.5})
    outcome.add_failed("stripe", "FR01", "AuthenticationExpired: 401")
    assert not outcome.ok
    assert outcome.rows == 120
    assert outcome.failure_message() == "1 of 2 source(s) failed: stripe/FR01 (AuthenticationExpired: 401)"


def test_a_loaded_source_that_rejected_files_fails_the_run_naming_them() -> None:
    """The good files of sap_export/DE01 loaded and the run went on; the one not in a SAP format was
    rejected: the run ends failed so ops see it, and says which file and where to read why."""
    outcome = orch.RunOutcome()
    outcome.add_loaded({"entity": "DE01", "source": "sap_export", "rows": 600, "quarantined": 1, "seconds": 2.0,
                        "rejected_files": ["BSID_ES10.txt"]})
    outcome.add_loaded({"entity": "DE01", "source": "camt053", "rows": 120, "quarantined": 0, "seconds": 1.0})
    assert not outcome.ok and outcome.rows == 720
    assert outcome.failure_message() == ("sap_export/DE01: 1 file(s) rejected, nothing read from them: "
                                         "BSID_ES10.txt (raw_quarantine line 0 says why)")
    rows = orch.rows_loaded_table(outcome.loaded, outcome.failed)
    assert rows[0]["status"] == "loaded" and rows[0]["detail"].startswith("1 file(s) rejected")
    assert "quarantined" not in rows[0]["detail"]  # (its one quarantine row is the rejected file's)


def test_quarantined_rows_are_said_with_where_to_read_them() -> None:
    """Bad rows do not fail a load, but the run summary says how many were set aside and how to list them."""
    message = orch.load_detail("sage_fec", "FR01", [], 102)
    assert message.startswith("102 bad field(s) quarantined: lettrage sql ")  # (the records were not counted)
    assert orch.load_detail("sage_fec", "FR01", [], 102, 60).startswith("60 record(s) quarantined, 102 bad field(s): ")
    assert orch.load_detail("sage_fec", "FR01", [], 2, 2).startswith("2 record(s) quarantined: ")
    api = orch.quarantined_message("netsuite", "US01", 1, [("transaction 2198 (INV10478)", None, "trandate", "not a date")], 1)
    assert "(first: transaction 2198 (INV10478), trandate: not a date)" in api  # (an API record has no line)
    assert "FROM raw_quarantine WHERE source_system = 'sage_fec' AND entity = 'FR01'" in message
    assert orch.load_detail("sage_fec", "FR01", ["customers.csv"], 3).startswith("1 file(s) rejected")
    assert orch.load_detail("sage_fec", "FR01", [], 0) == ""


def test_rows_loaded_table_lists_failed_sources_with_their_reason() -> None:
    rows = orch.rows_loaded_table(
        [{"entity": "FR01", "source": "camt053", "rows": 300, "quarantined": 2, "seconds": 1.5}],
        {"stripe/FR01": "AuthenticationExpired: 401"},
    )
    assert rows == [
        {"source": "camt053/FR01", "status": "loaded", "rows": 300, "quarantined": 2, "seconds": 1.5,
         "rows_per_s": 200, "detail": orch.quarantined_message("camt053", "FR01", 2)},
        {"source": "stripe/FR01", "status": "FAILED", "rows": 0, "quarantined": 0, "seconds": 0, "rows_per_s": 0,
         "detail": "AuthenticationExpired: 401"},
    ]


def test_match_rate_table_computes_the_rate_and_survives_zero_payments() -> None:
    rows = orch.match_rate_table([
        {"entity": "FR01", "payments": 8, "matched": 6, "suggested": 1, "open_exceptions": 2},
        {"entity": "DE01", "payments": 0, "matched": 0, "suggested": 0, "open_exceptions": 0},
    ])
    assert [r["match_rate"] for r in rows] == ["75.0%", "0.0%"]


def test_concurrency_limit_names_are_per_provider() -> None:
    assert orch.concurrency_limit_name("netsuite") == "netsuite-api"
    assert orch.DEFAULT_SOURCE_LIMITS["netsuite"] == 1
