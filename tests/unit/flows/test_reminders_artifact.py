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
