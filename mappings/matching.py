"""Matching rules and tolerances as data (``mappings/matching.yaml``).

Why data: finance teams tune tolerances (bank charges, discounts), confidences
and search bounds per legal entity without touching code, and every match
records which of these rules produced it. This module only validates; the
reconciliation engine decides.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mappings._loader import mapping_file

DEFAULT_PATH = Path(__file__).with_name("matching.yaml")

RULE_NAMES: tuple[str, ...] = (
    "exact_reference", "normalized_reference", "reference_groups", "reference_tail", "fuzzy_reference",
    "learned_alias", "customer_amount", "subset_sum", "amount_only", "credit_note", "erp_lettrage", "erp_receipt",
    "alias_reference", "credit_note_refund",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    confidence: Decimal = Field(ge=0, le=1)
    enabled: bool = True
    auto: bool = True


_NOT_ALNUM = {"prefixes": "reference prefix {!r} must be letters/digits only",
              "remittance_tags": "remittance tag {!r} must be letters/digits only (written without its slashes)",
              "credit_note_words": "credit-note word {!r} must be letters/digits only"}


class ReferenceSettings(_Strict):
    prefixes: tuple[str, ...] = ()
    remittance_tags: tuple[str, ...] = ()
    # words a remittance writes before a credit note's number ("AL NETTO NS NC 2025/008"): the number
    # after one names a credit note, never an invoice (it may equal another customer's invoice number)
    credit_note_words: tuple[str, ...] = ()
    # what a payer writes when it pays on account, not for given invoices ("AKONTO ZAHLUNG", "PAYMENT ON ACCOUNT"):
    # its customer's open items are searched, but what the search finds beyond one item owing exactly the amount
    # (a combination, a short payment) is suggested, never applied (phrases: words separated by single spaces)
    on_account_words: tuple[str, ...] = ()
    customer_number_min_length: int = Field(default=4, ge=1)
    min_key_length: int = Field(default=4, ge=1)
    min_tail_length: int = Field(default=2, ge=1)
    max_invoices_per_payment: int = Field(default=25, ge=1)

    @field_validator("prefixes", "remittance_tags", "credit_note_words")
    @classmethod
    def _upper_alnum(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        for v in value:
            if not v.isalnum():
                raise ValueError(_NOT_ALNUM[str(info.field_name)].format(v))
        # longest first, so FACTURE is stripped before FA (and a tag's alternation tries the longest too)
        return tuple(sorted({v.upper() for v in value}, key=lambda v: (-len(v), v)))


    @field_validator("on_account_words")
    @classmethod
    def _phrases(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for v in value:
            if not all(w.isalnum() for w in v.split(" ")) or not v.strip():
                raise ValueError(f"on-account phrase {v!r} must be letters/digits words separated by single spaces")
        return tuple(sorted({v.upper() for v in value}))


class Tolerances(_Strict):
    bank_charges_abs: Decimal = Field(default=Decimal("0"), ge=0)
    bank_charges_pct: Decimal = Field(default=Decimal("0"), ge=0, le=100)
    rounding_abs: Decimal = Field(default=Decimal("0"), ge=0)
    early_discount_pct: tuple[Decimal, ...] = ()
    early_discount_days: int = Field(default=0, ge=0)
    discount_slack_abs: Decimal = Field(default=Decimal("0.01"), ge=0)
    overpayment_ignore_abs: Decimal = Field(default=Decimal("0"), ge=0)
    # A remainder beyond the other tolerances on an invoice the ERP shows settled is closed on the ERP's
    # word up to this share of the invoice, in percent (0: never).
    erp_settled_pct: Decimal = Field(default=Decimal("0"), ge=0, le=100)
    # A payment naming nothing, of a payer with more open invoices than this, short of one of them within the
    # tolerances, is only suggested for it: among many open items one falls that close by chance.
    short_by_amount_max_open: int = Field(default=10, ge=1)


class Windows(_Strict):
    payment_before_issue_days: int = Field(default=5, ge=0)
    payout_to_bank_days: int = Field(default=5, ge=0)
    # A payout's deposit is looked for on the statement from this many days before its arrival date to this many
    # after (a weekend or a bank holiday delays it; a bank may book it a day early).
    payout_bank_days_before: int = Field(default=3, ge=0, le=30)
    payout_bank_days_after: int = Field(default=7, ge=0, le=30)
    max_invoice_age_days: int = Field(default=1100, ge=1)
    # An overpayment's excess paid back: a debit of exactly it to the account the payment came from, booked up to
    # this many days after the payment (50_exceptions), leaves no customer credit.
    overpayment_refund_days: int = Field(default=90, ge=0, le=400)


class Fuzzy(_Strict):
    name_score_cutoff: int = Field(default=90, ge=0, le=100)
    name_margin: int = Field(default=5, ge=0, le=100)
    reference_max_distance: int = Field(default=1, ge=0, le=3)
    reference_min_length: int = Field(default=5, ge=1)
    legal_forms: tuple[str, ...] = ()
    # A payer name written in abbreviations ("ACME IND INTL" for Acme Industries International): each of its words
    # the start, or the first letter and then some letters in order, of the customer's next word; words of at most
    # this many letters of the customer's name (connectors: DE, ET, AND, UND...) may be left out. 0: off.
    abbreviation_min_letters: int = Field(default=6, ge=0)
    name_connectors: tuple[str, ...] = ()

    @field_validator("legal_forms", "name_connectors")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.upper() for v in value)


class SubsetSum(_Strict):
    max_items: int = Field(default=20, ge=1, le=40)
    max_subset_size: int = Field(default=6, ge=1, le=12)
    max_nodes: int = Field(default=200_000, ge=100)


class Erp(_Strict):
    agreement_confidence: Decimal = Field(default=Decimal("0.99"), ge=0, le=1)
    confirm_on_agreement: bool = False
    # An invoice the ERP settled with its own receipt is settled by the ERP's lettrage alone when the
    # receipt is older than the first bank line or provider payment; in this many days before it,
    # only when no bank credit of its amount follows (the ERP may book a receipt before the bank).
    receipt_before_data_days: int = Field(default=5, ge=0)
    # Within the bank data's period, a bank credit the cascade could not place is the ERP's receipt (its
    # bank-journal entry or payment document) of exactly that amount booked this many days before or
    # after it, when no other bank credit fits that receipt (rule erp_receipt): the accountant's lettrage
    # of that receipt names the invoices, and its customer is the payer.
    receipt_days_before_bank: int = Field(default=10, ge=0)
    receipt_days_after_bank: int = Field(default=15, ge=0)
    # An entry booking a customer's money back out of the bank (an unpaid LCR) returns the latest bill of
    # that customer and amount collected up to this many days before it (int_erp_receipts.returned_on).
    bill_return_days: int = Field(default=90, ge=0)


class MatchingRules(_Strict):
    """The validated content of ``matching.yaml`` (one entity's effective view)."""

    version: int = 1
    rules: dict[str, Rule]
    reference: ReferenceSettings = ReferenceSettings()
    tolerances: Tolerances = Tolerances()
    windows: Windows = Windows()
    fuzzy: Fuzzy = Fuzzy()
    subset_sum: SubsetSum = SubsetSum()
    erp: Erp = Erp()
    entities: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, value: dict[str, Rule]) -> dict[str, Rule]:
        unknown = sorted(set(value) - set(RULE_NAMES))
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; known rules are {list(RULE_NAMES)}")
        missing = sorted(set(RULE_NAMES) - set(value))
        if missing:
            raise ValueError(f"rule(s) {missing} missing: give each a confidence (enabled: false to skip)")
        return value

    def rule(self, name: str) -> Rule:
        return self.rules[name]

    def for_entity(self, entity: str | None) -> MatchingRules:
        """The rules with ``entities[entity]`` merged over the defaults (deep merge of mappings)."""
        if not entity or entity not in self.entities:
            return self
        base = self.model_dump(mode="python", exclude={"entities"})
        merged = _deep_merge(base, self.entities[entity])
        merged["entities"] = {}
        return MatchingRules.model_validate(merged)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_matching_rules(path: Path | str | None = None) -> MatchingRules:
    """Read and validate the matching rules; the error names the file and the bad key.

    Parsed once per version of the file (path, modification time and size): every reconciliation
    run asks for them, and reading the YAML and validating it cost ~12 ms, a fiftieth of an
    incremental run. The models are frozen, so callers share one instance safely.
    """
    file = Path(path) if path else mapping_file("matching.yaml")
    stat = file.stat()
    return _load_matching_rules(file.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load_matching_rules(file: Path, mtime_ns: int, size: int) -> MatchingRules:
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    try:
        rules = MatchingRules.model_validate(data)
    except ValueError as exc:
        raise ValueError(f"{file}: invalid matching rules: {exc}") from exc
    for entity in rules.entities:  # validate each override now, not at 2 a.m.
        try:
            rules.for_entity(entity)
        except ValueError as exc:
            raise ValueError(f"{file}: invalid override for entity {entity}: {exc}") from exc
    return rules
