"""Who gets what today: pure rules over :class:`InvoiceFacts`, testable as a table of cases.

The warehouse gathers facts set-based (:mod:`actions.dunning.select`); these
functions decide, in a fixed order, so that a skipped invoice always carries the
first reason that stops it:

    paid/credited/written off ─▶ disputed ─▶ write-off requested ─▶ factored ─▶ promise to pay
    ─▶ matched since the last sync
    ─▶ money on its way ─▶ direct-debit mandate (collect instead, from the due date) ─▶ not yet in the window
    ─▶ step due (or already sent) ─▶ customer under threshold (over the customer's total)

The scenario is the customer's: the first selection rule of ``mappings/dunning.yaml``
that matches their segment, eligible open total and predicted lateness
(:func:`customer_probability_late`); the reason says which conditions chose it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from actions.dunning.model import InvoiceFacts, Planned
from mappings.dunning import DunningRules, Scenario, SelectionRule, Step

CLOSED = {"paid": "paid", "credited": "credited by a credit note", "written_off": "written off"}


def exclusion(f: InvoiceFacts, as_of: date) -> str | None:
    """The first reason this invoice gets no reminder at all, or None."""
    if f.status in CLOSED:
        return CLOSED[f.status]
    if f.amount_open <= 0:
        return "nothing left to pay (amount_open is 0)"
    if f.disputed or f.status == "disputed":
        return "disputed"
    if f.dispute_decision:
        return "disputed (decision)"
    if f.write_off_requested:
        return "write-off requested (pending)"
    if f.factored or f.status == "factored":
        return "assigned to a factor"
    if f.promise_until is not None and f.promise_until >= as_of:
        return f"promise to pay until {f.promise_until.isoformat()}"
    if f.matched_since_sync:
        return "matched since the last sync (amount_open may be stale)"
    if f.in_transit:
        return f"money on its way: {f.in_transit}"
    if f.direct_debit_on is not None and not f.mandate_id:  # (a GoCardless mandate collects instead: plan_invoice)
        return (f"pays by direct debit (last collected {f.direct_debit_on.isoformat()}): "
                "the next collection takes it")
    if f.direct_debit_terms and not f.mandate_id:
        return f"pays by direct debit (terms '{f.direct_debit_terms}'): the collection takes it"
    return None


def step_due(scenario: Scenario, days_past_due: int, steps_done: frozenset[str],
             steps_sent: frozenset[str] | None = None, *, days_since_sent: int | None = None,
             min_gap_days: int = 0) -> tuple[Step | None, str]:
    """The latest step whose offset is reached; a formal step needs an earlier email step *sent* first.

    ``steps_sent`` are the steps the mail server accepted (history); recorded but
    unsent steps (failed, in review) do not count as a prior reminder. Without it,
    ``steps_done`` stands in (pure callers that have no history).

    A formal step (``requires_prior``) escalates one rung at a time: it never skips an earlier formal
    email step not yet sent (no agency review before the formal notice), and it waits ``min_gap_days``
    after the invoice's last email (``days_since_sent``), so a second run the same day, or an invoice
    first reached long overdue, does not send a formal notice minutes after the firmer reminder.
    Ordinary steps keep the cadence their offsets give.
    """
    prior = steps_done if steps_sent is None else steps_sent
    reached = [s for s in scenario.steps if s.offset_days <= days_past_due]
    if not reached:
        first = scenario.steps[0]
        return None, f"not in the window yet ({-days_past_due} days before due, first step at {first.offset_days:+d})"
    step, note = reached[-1], ""
    if step.requires_prior:
        skipped = [s for s in reached[:-1] if s.requires_prior and s.channel == "email" and s.name not in prior]
        if skipped:
            step, note = skipped[0], f"{reached[-1].name} needs {skipped[0].name} sent first"
    if step.requires_prior:
        prior_sent = any(s.channel == "email" and not s.requires_prior and s.name in prior for s in reached)
        if not prior_sent:
            ordinary = [s for s in reached if not s.requires_prior and s.channel == "email"]
            if ordinary:
                return ordinary[-1], f"{step.name} needs an earlier reminder first"
        elif days_since_sent is not None and days_since_sent < min_gap_days and step.name not in steps_done:
            return None, (f"{step.name} waits {min_gap_days} days after the last reminder, sent "
                          f"{days_since_sent} day(s) ago")
    return step, note


def customer_probability_late(group: Iterable[InvoiceFacts], as_of: date) -> Decimal | None:
    """Amount-weighted mean of ``probability_late`` over the eligible invoices that have one (None if none).

    Why weighted by amount open: the scenario sets the tone for the whole balance,
    so each invoice counts for what is at stake on it (see ``mappings/dunning.yaml``).
    """
    scored = [f for f in group if f.probability_late is not None and exclusion(f, as_of) is None]
    total = sum((f.amount_open for f in scored), Decimal(0))
    if not scored or total <= 0:
        return None
    weighted = sum((f.amount_open * f.probability_late for f in scored if f.probability_late is not None), Decimal(0))
    return (weighted / total).quantize(Decimal("0.0001"))


def scenario_why(rule: SelectionRule, group: list[InvoiceFacts], f: InvoiceFacts, segment: str | None,
                 eligible_total: Decimal, probability: Decimal | None) -> str:
    """Why the customer got this scenario; a prediction names its top factors (this invoice's, else the
    customer's largest predicted invoice's), so the reader sees what the model saw."""
    why = rule.why(segment, eligible_total, probability)
    if rule.min_probability_late is not None:
        source = f if f.late_factors else max(
            (g for g in group if g.late_factors), key=lambda g: g.amount_open, default=None)
        if source is not None and source.late_factors:
            own = "" if source is f else f" (invoice {source.invoice_number})"
            why += f": {source.late_factors}{own}"
    return why


def plan_invoice(f: InvoiceFacts, as_of: date, scenario_name: str, scenario: Scenario, why: str = "",
                 min_gap_days: int = 0) -> Planned:
    """Decide one invoice (the customer threshold is applied afterwards over the whole customer).

    ``why`` says what chose the scenario (empty for the default rule); it goes into the reason.
    """
    reason = exclusion(f, as_of)
    if reason:
        return Planned(f, "skip", None, reason)
    dpd = f.days_past_due(as_of)
    if f.mandate_id:
        if dpd < 0:
            return Planned(f, "skip", None, f"direct debit mandate {f.mandate_id}: collected on the due date")
        if "direct_debit" in f.steps_done:
            return Planned(f, "skip", "direct_debit", f"direct debit already requested (mandate {f.mandate_id})")
        return Planned(f, "collect", "direct_debit",
                       f"direct debit mandate {f.mandate_id} active: GoCardless payment instead of a reminder")
    last = max((day for _, day in f.reminders_sent), default=None)
    step, note = step_due(scenario, dpd, f.steps_done, f.steps_sent,
                          days_since_sent=None if last is None else (as_of - last).days, min_gap_days=min_gap_days)
    if step is None:
        return Planned(f, "skip", None, note, scenario_name)
    if step.name in f.steps_done:
        return Planned(f, "skip", step.name, f"{step.name} already sent", scenario_name)
    when = f"{dpd} days past due" if dpd >= 0 else f"due in {-dpd} days"
    chosen = f"{scenario_name} scenario ({why})" if why else f"{scenario_name} scenario"
    reason = f"{when}; {chosen}: {step.name} at {step.offset_days:+d}" + (f" ({note})" if note else "")
    return Planned(f, step.channel, step.name, reason, scenario_name, step.template, step.tone,
                   step.separate_message, step.include_penalties)


def plan(facts: Iterable[InvoiceFacts], as_of: date, rules: DunningRules) -> list[Planned]:
    """Plan every invoice; customers whose eligible open total is under the threshold get nothing."""
    facts = list(facts)
    by_customer: dict[tuple[str, str, str], list[InvoiceFacts]] = defaultdict(list)
    for f in facts:
        by_customer[(f.entity, f.customer_id, f.currency)].append(f)
    out: list[Planned] = []
    for (entity, _customer, currency), group in by_customer.items():
        eligible_total = sum((f.amount_open for f in group if exclusion(f, as_of) is None), Decimal(0))
        segment = group[0].segment
        probability = customer_probability_late(group, as_of)
        rule = rules.selection_rule(entity, segment, eligible_total, probability)
        scenario_name, scenario = rule.scenario, rules.scenarios[rule.scenario]
        minimum = rules.thresholds.min_open(currency)
        for f in group:
            why = scenario_why(rule, group, f, segment, eligible_total, probability)
            planned = plan_invoice(f, as_of, scenario_name, scenario, why,
                                   rules.thresholds.min_days_before_formal_step)
            if planned.sends and planned.action != "collect" and eligible_total < minimum:
                planned = Planned(f, "skip", None,
                                  f"under threshold: customer owes {eligible_total} {currency} < {minimum}",
                                  scenario_name)
            out.append(planned)
    return out
