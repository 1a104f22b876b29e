"""A customer the model predicts late gets the firm scenario, and the plan says why (both engines)."""

from __future__ import annotations

import re
from decimal import Decimal

from actions.dunning.rules import plan
from actions.dunning.select import invoice_facts
from lettrage.config import WarehouseConfig
from mappings.dunning import SelectionRule, load_dunning_rules
from tests.integration.marts.history_book import HISTORY_AS_OF, load_history_book
from warehouse.engine import connect
from warehouse.marts import refresh_marts

RULES = load_dunning_rules()


def test_customer_predicted_late_gets_the_firm_scenario(warehouse_config: WarehouseConfig) -> None:
    by_prediction = RULES.model_copy(update={"selection": (
        SelectionRule(scenario="firm", min_probability_late=Decimal("0.7")), SelectionRule(scenario="standard"))})
    with connect(warehouse_config) as engine:
        load_history_book(engine)
        refresh_marts(engine, as_of=HISTORY_AS_OF)
        facts = invoice_facts(engine, "FR01", HISTORY_AS_OF, by_prediction)
        shipped = plan(facts, HISTORY_AS_OF, RULES)
        planned = plan(facts, HISTORY_AS_OF, by_prediction)
    assert {f.invoice_id for f in facts if f.probability_late is not None} == {
        f"H{c}-{n}" for c in ("C1", "C2", "C3") for n in (24, 25)}
    scenario = {p.facts.customer_id: p.scenario for p in planned if p.sends}
    assert scenario == {"C1": "standard", "C2": "firm", "C3": "standard"}
    c2 = {p.facts.invoice_id: p for p in planned if p.facts.customer_id == "C2"}
    # 14 days past due: the firm scenario's firmer step (+7), with the probability and the invoice's top factors
    assert c2["HC2-24"].step == "firmer"
    assert re.fullmatch(
        r"14 days past due; firm scenario \(predicted late \(p=(0\.9\d|1\.00) >= 0\.7\): "
        r"\w+ [+-]\d+\.\d\d; \w+ [+-]\d+\.\d\d; \w+ [+-]\d+\.\d\d\): firmer at \+7", c2["HC2-24"].reason)
    assert c2["HC2-24"].facts.late_factors and c2["HC2-24"].facts.late_factors in c2["HC2-24"].reason
    # with the shipped rules the segment rule comes first: C2 (never on time) is chronic_late, firm for that
    firm = {p.facts.customer_id: p.reason for p in shipped if p.scenario == "firm" and p.sends}
    assert set(firm) == {"C2"} and "firm scenario (segment chronic_late)" in firm["C2"]
