"""The daily digest leaves disputed invoices out, whichever way the dispute is known."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from actions.dunning.alerts import digest_messages
from actions.dunning.model import InvoiceFacts, Planned
from mappings.dunning import load_dunning_rules

AS_OF = date(2026, 11, 25)
RULES = load_dunning_rules()
BIG = InvoiceFacts(entity="FR01", invoice_id="I1", invoice_number="FA-1", customer_id="C1",
                   due_date=date(2026, 11, 24), currency="EUR", amount_open=Decimal("9000.00"),
                   amount_total=Decimal("9000.00"), status="overdue", customer_name="Client Un",
                   account_owner="Sophie Durand")


class NoTables:
    """An engine with no dunning history: everything overdue is news to the first digest."""

    def table_exists(self, table: str) -> bool:
        return False

    def query(self, *a: Any, **k: Any) -> list[Any]:  # pragma: no cover - never reached
        raise AssertionError("no query expected")


def _digest(facts: InvoiceFacts, action: str = "skip", step: str | None = None) -> list[Any]:
    return digest_messages(NoTables(), "FR01", AS_OF, RULES, [Planned(facts, action, step, "r")], {})  # type: ignore[arg-type]


def test_newly_overdue_big_customer_is_alerted() -> None:
    (msg,) = _digest(BIG)
    assert msg.payload["overdue"][0]["customer_id"] == "C1"


@pytest.mark.parametrize("change", [{"dispute_decision": True}, {"disputed": True}, {"status": "disputed"}],
                         ids=["decision", "flag", "status"])
def test_disputed_invoice_is_in_no_section(change: dict) -> None:
    disputed = replace(BIG, promise_until=date(2026, 11, 24), **change)
    assert _digest(disputed) == []
    assert _digest(disputed, action="task", step="phone_call") == []


def test_the_first_digest_alerts_a_customer_already_overdue_long_before() -> None:
    """Overdue since September, over the threshold: no digest has told its owner yet, so the first one does
    (before, only a customer with an invoice falling due the day before the first run was alerted)."""
    (msg,) = _digest(replace(BIG, due_date=date(2026, 9, 30)))
    assert msg.payload["overdue"][0]["customer_id"] == "C1"


def test_the_digest_of_customers_without_an_owner_greets_no_one_and_says_the_threshold_is_per_currency() -> None:
    from actions.dunning.plan import render_message

    (msg,) = _digest(replace(BIG, account_owner=None, country="GB"))
    render_message(msg, AS_OF, RULES)
    assert "(no owner)," not in msg.body and msg.body.startswith("Bonjour,")  # (FR01 writes its digests in French)
    assert "au-dessus de 5000.00 (dans la devise de leurs factures)" in msg.body
