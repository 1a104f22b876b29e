"""The reminders flow's artifact: one readable row per entity for ops."""

from __future__ import annotations

from flows.reminders import reminders_table


def test_reminders_table_summarises_each_entity() -> None:
    out = {
        "FR01": {"summary": {"dry_run": False, "messages": 3, "sent": 3, "failed": 0, "stale": None,
                             "invoices": {"email": 4, "skip": 7, "collect": 1}}},
        "DE01": {"summary": {"dry_run": False, "messages": 0, "sent": 0, "failed": 0,
                             "stale": "last reconcile is 3 days old", "invoices": {}}},
    }
    assert reminders_table(out) == [
        {"entity": "DE01", "dry_run": False, "messages": 0, "sent": 0, "failed": 0, "by_action": "",
         "stale": "last reconcile is 3 days old"},
        {"entity": "FR01", "dry_run": False, "messages": 3, "sent": 3, "failed": 0,
         "by_action": "collect 1, email 4, skip 7", "stale": ""},
    ]


def test_statements_table_says_nothing_was_due_rather_than_nothing() -> None:
    from flows.reminders import statements_table

    out = {"FR01": {"summary": {"dry_run": True, "period": None, "statements": 0, "sent": 0, "failed": 0,
                                "skipped": 0, "stale": None}}}
    assert statements_table(out) == [{"entity": "FR01", "dry_run": True, "period": "", "statements": 0, "sent": 0,
                                      "failed": 0, "skipped": 0, "stale": ""}]


def test_an_entity_whose_run_failed_has_its_row_with_the_reason() -> None:
    out = {"FR01": {"summary": {"dry_run": False, "messages": 1, "sent": 1, "failed": 0, "stale": None,
                                "invoices": {"email": 1}}}}
    rows = reminders_table(out, {"UK01": "UndefinedError: 'margin_points' is undefined"})
    assert [r["entity"] for r in rows] == ["FR01", "UK01"]
    assert rows[1]["by_action"] == "run failed: UndefinedError: 'margin_points' is undefined"


def test_the_dry_run_lists_every_entity_it_can_and_names_the_one_that_failed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One entity's dry run raising (a template error) left every entity's list unprinted: the others are listed,
    and the failure names the entity and the reason."""
    from datetime import date

    import pytest

    from actions.dunning import demo
    from actions.dunning.run import RunReport
    from lettrage.errors import EntitiesFailed

    def fake(engine, entity, **kw):  # type: ignore[no-untyped-def]
        if entity == "UK01":
            raise KeyError("margin_points")
        return RunReport(entity=entity, as_of=kw["as_of"], dry_run=True)

    monkeypatch.setattr(demo, "run_reminders", fake)
    failed: dict[str, str] = {}
    reports = demo.dry_run_reports(None, ["FR01", "UK01", "DE01"], date(2026, 11, 28), failed)  # type: ignore[arg-type]
    assert [r.entity for r in reports] == ["FR01", "DE01"] and list(failed) == ["UK01"]
    assert "KeyError" in failed["UK01"]
    with pytest.raises(KeyError):  # (without a place to name failures, the error is the caller's)
        demo.dry_run_reports(None, ["UK01"], date(2026, 11, 28))  # type: ignore[arg-type]
    assert "1 of 3 entities failed: UK01" in str(EntitiesFailed("reminders", failed, {}, 3))
