"""Dunning scenarios, thresholds, account owners and penalty rates as data (``mappings/dunning.yaml``).

Why data: credit control changes when a reminder fires, its tone, who is told and
the ECB rate each half-year without touching code. This module only validates;
``actions/dunning`` decides.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings._loader import MAPPINGS_DIR, load_model, overridable

DEFAULT_PATH = MAPPINGS_DIR / "dunning.yaml"
CHANNELS = ("email", "task")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Freshness(_Strict):
    max_reconcile_age_hours: int = Field(ge=1)
    on_stale: Literal["refuse", "dry_run"] = "refuse"


class Languages(_Strict):
    default: str
    supported: tuple[str, ...]
    by_country: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known(self) -> Languages:
        unknown = {self.default, *self.by_country.values()} - set(self.supported)
        if unknown:
            raise ValueError(f"languages {sorted(unknown)} are not in supported {list(self.supported)}")
        return self

    def for_country(self, country: str | None) -> str:
        return self.by_country.get((country or "").upper(), self.default)


def _folded(text: str) -> str:
    """Lower case without accents: "Prélèvement" and "PRELEVEMENT" are the same word in a customer master."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


class Thresholds(_Strict):
    min_customer_open: dict[str, Decimal]
    alert_overdue_above: dict[str, Decimal]
    in_transit_lookback_days: int = Field(ge=0)
    promise_default_days: int = Field(ge=0)
    min_days_before_formal_step: int = Field(default=8, ge=0)
    direct_debit_lookback_days: int = Field(default=100, ge=0)
    direct_debit_terms: tuple[str, ...] = ()

    def names_direct_debit(self, terms: str | None) -> bool:
        """Whether the customer master's terms say the customer pays by direct debit (a word of
        ``direct_debit_terms`` in them, case and accents aside)."""
        if not terms or not self.direct_debit_terms:
            return False
        text = _folded(terms)
        return any(_folded(word) in text for word in self.direct_debit_terms)

    @field_validator("min_customer_open", "alert_overdue_above")
    @classmethod
    def _has_default(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if "default" not in value:
            raise ValueError("needs a 'default' amount beside any per-currency ones")
        return value

    def min_open(self, currency: str) -> Decimal:
        return self.min_customer_open.get(currency, self.min_customer_open["default"])

    def alert_above(self, currency: str) -> Decimal:
        return self.alert_overdue_above.get(currency, self.alert_overdue_above["default"])


class Step(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    offset_days: int
    channel: Literal["email", "task"]
    template: str
    tone: Literal["friendly", "neutral", "firm", "formal"]
    requires_prior: bool = False
    include_penalties: bool = False
    separate_message: bool = False


class Scenario(_Strict):
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Scenario:
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError(f"step names must be unique, got {names}")
        offsets = [s.offset_days for s in self.steps]
        if offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
            raise ValueError(f"step offsets must strictly increase, got {offsets}")
        return self


class SelectionRule(_Strict):
    """Every condition set must hold; ``min_probability_late`` compares the customer's predicted lateness.

    The customer's probability is the amount-weighted mean of ``probability_late``
    (``mart_invoice_prediction``) over their eligible open invoices that have one:
    the scenario treats the customer, and a small invoice predicted late should not
    set the tone for a large balance that is not. A customer without any prediction
    never matches a rule that asks for one.
    """

    scenario: str
    entity: str | None = None
    segment: tuple[str, ...] | None = None
    min_open: Decimal | None = None
    min_probability_late: Decimal | None = Field(default=None, gt=0, le=1)

    @property
    def unconditional(self) -> bool:
        return (self.entity is None and self.segment is None and self.min_open is None
                and self.min_probability_late is None)

    def matches(self, entity: str, segment: str | None, open_amount: Decimal,
                probability_late: Decimal | None = None) -> bool:
        if self.entity is not None and self.entity != entity:
            return False
        if self.segment is not None and segment not in self.segment:
            return False
        if self.min_probability_late is not None and (
                probability_late is None or probability_late < self.min_probability_late):
            return False
        return self.min_open is None or open_amount >= self.min_open

    def why(self, segment: str | None, open_amount: Decimal, probability_late: Decimal | None) -> str:
        """The conditions that picked this rule, in words for the plan's reason ("" for the default rule)."""
        parts = []
        if self.min_probability_late is not None:
            parts.append(f"predicted late (p={probability_late:.2f} >= {self.min_probability_late})")
        if self.segment is not None:
            parts.append(f"segment {segment}")
        if self.min_open is not None:
            parts.append(f"owes {open_amount} >= {self.min_open}")
        if self.entity is not None:
            parts.append(f"entity {self.entity}")
        return ", ".join(parts)


class EarlyPaymentDiscount(_Strict):
    rate: Decimal = Field(gt=0, lt=1)
    within_days: int = Field(ge=1)


class EntitySettings(_Strict):
    sender: str
    reply_to: str | None = None
    signature: str = ""
    penalties: str | None = None
    early_payment_discount: EarlyPaymentDiscount | None = None
    statement_day: int = Field(default=1, ge=1, le=28)
    language: str = "en"  # of internal mail (the account owners' digest)


class AccountOwners(_Strict):
    default: str
    mailboxes: dict[str, str] = Field(default_factory=dict)

    def mailbox(self, owner: str | None) -> str:
        return self.mailboxes.get(owner or "", self.default)


class RatePoint(_Strict):
    from_: date = Field(alias="from")
    rate: Decimal = Field(ge=0)


class PenaltyRules(_Strict):
    margin_points: Decimal
    day_count: Literal["actual_actual", "actual_365"] = "actual_actual"
    fixed_indemnity: Decimal = Field(ge=0)
    indemnity_currency: str = "EUR"
    reference_rates: tuple[RatePoint, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _sorted(self) -> PenaltyRules:
        dates = [p.from_ for p in self.reference_rates]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("reference_rates must be in strictly increasing date order")
        return self


class Statements(_Strict):
    """Statements of account: monthly on each entity's ``statement_day``, or on demand."""

    enabled: bool = True
    # a run up to this many days after the statement day still sends a month the schedule missed
    catch_up_days: int = Field(default=3, ge=0, le=27)
    # movements listed for a customer that never had a statement: this many days back
    first_lookback_days: int = Field(default=31, ge=1)


class Acceptance(_Strict):
    """How a crash between SMTP acceptance and the record is settled (``actions.dunning.imap``).

    ``mailboxes`` are searched for the Message-ID (the archive or Sent folder the mail
    server copies every accepted message to); ``absent_is_proof`` lets "not found"
    requeue the message (only for an archive written at acceptance), else it goes to review.
    """

    checker: Literal["none", "imap"] = "none"
    mailboxes: tuple[str, ...] = ("Sent",)
    absent_is_proof: bool = False


class DunningRules(_Strict):
    freshness: Freshness
    languages: Languages
    thresholds: Thresholds
    scenarios: dict[str, Scenario]
    selection: tuple[SelectionRule, ...] = Field(min_length=1)
    entities: dict[str, EntitySettings] = Field(default_factory=dict)
    default_entity: EntitySettings
    account_owners: AccountOwners
    penalties: dict[str, PenaltyRules] = Field(default_factory=dict)
    statements: Statements = Statements()
    acceptance: Acceptance = Acceptance()
    standard_steps: tuple[Step, ...] | None = None  # the YAML anchor's home; not read directly

    @model_validator(mode="after")
    def _consistent(self) -> DunningRules:
        unknown = [r.scenario for r in self.selection if r.scenario not in self.scenarios]
        if unknown:
            raise ValueError(f"selection names unknown scenarios {unknown}; known {sorted(self.scenarios)}")
        if not self.selection[-1].unconditional:
            raise ValueError("the last selection rule must match every customer "
                             "(no entity, segment, min_open or min_probability_late)")
        for code, settings in {**self.entities, "default_entity": self.default_entity}.items():
            if settings.penalties is not None and settings.penalties not in self.penalties:
                raise ValueError(f"entity {code} names unknown penalties {settings.penalties!r}")
        return self

    def entity(self, code: str) -> EntitySettings:
        return self.entities.get(code, self.default_entity)

    def selection_rule(self, entity: str, segment: str | None, open_amount: Decimal,
                       probability_late: Decimal | None = None) -> SelectionRule:
        """The first selection rule that matches (the last one always does)."""
        for rule in self.selection:
            if rule.matches(entity, segment, open_amount, probability_late):
                return rule
        raise AssertionError("unreachable: the last selection rule matches everyone")  # pragma: no cover

    def scenario_for(self, entity: str, segment: str | None, open_amount: Decimal,
                     probability_late: Decimal | None = None) -> tuple[str, Scenario]:
        """The scenario named by the first selection rule that matches."""
        rule = self.selection_rule(entity, segment, open_amount, probability_late)
        return rule.scenario, self.scenarios[rule.scenario]


@overridable("dunning.yaml")
def load_dunning_rules(path: Path) -> DunningRules:
    return load_model(DunningRules, path)
