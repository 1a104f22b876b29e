"""Row-level checks of the API sources (NetSuite, SAP Business One, Sage Accounting): a record with a value the
connector cannot read goes to ``raw_quarantine``, and the rest of its page loads.

Why: one transaction dated ``31/10/2025`` (day and month swapped) or totalling ``"2,005.62"`` used to fail the
whole source (nothing loaded, the parse error lost behind dlt's wrapper), or worse, load into a dlt variant
column (``doc_date__v_text``) and leave the real column NULL without a word. A record is checked field by field
as declared (:func:`fields_of` reads the resource's ``date`` and money columns); every failing field becomes one
quarantine row:

    source_system  netsuite
    entity         US01
    file           transaction 2198 (INV10478)     -- what the record is: kind, id, number
    line           NULL                            -- an API record has no line
    field          trandate
    reason         trandate '31/10/2025' is not a date M/D/YYYY (month must be in 1..12)
    raw            the record as the API sent it, as JSON

``quarantine_id`` hashes source, file, line and field (``connectors/_files.py``): a record still bad at the
next sync replaces its row instead of adding one. A quarantined record is not loaded and does not move the
incremental cursor (its quarantine row has no cursor value: the resources' cursors ``include`` it without
reading it), so once it is corrected at the source its modification time moves past the cursor and the next
sync reads and loads it. Its quarantine row stays as history (``quarantined_at`` says when).

Quarantine rows come out of the resource that read the record, marked for ``raw_quarantine``; dlt hands marked
items to the resource's transformers too, so each transformer skips them (:func:`is_quarantine`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, DecimalException
from typing import Any

from dlt.common.schema.typing import TColumnSchema

from connectors._files import QUARANTINE_TABLE, Quarantine, to_table

log = logging.getLogger("lettrage.connectors.records")

__all__ = ["AMOUNT", "ISO_DATE", "FieldParser", "RecordChecks", "amount_or_as_is", "fields_of", "is_quarantine", "money"]


@dataclass(frozen=True, slots=True)
class FieldParser:
    """How one field is read (``parse`` raises ``ValueError`` on a bad value) and what a good value looks like."""

    expected: str
    parse: Callable[[Any], Any]


def money(value: Any) -> Decimal | None:
    """An API amount: a JSON number or a decimal string with a point (``"1234.56"``, ``"-12"``); None if empty.

    A thousands separator (``"2,005.62"``), a comma decimal (``"5.000,00"``), a float or NaN is refused rather
    than guessed: the same characters mean different amounts in different locales."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is no amount")
    if isinstance(value, float):  # JSON bodies are parsed with parse_float=Decimal; never let one through
        value = repr(value)
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except DecimalException:
        raise ValueError("not a number") from None
    if not amount.is_finite():
        raise ValueError("not a finite number")
    return amount


def amount_or_as_is(value: Any) -> Any:
    """:func:`money`, or the value unchanged when it is no amount, for the field check to quarantine by name."""
    try:
        return money(value)
    except ValueError:
        return value


def iso_date(value: Any) -> date | None:
    """``YYYY-MM-DD`` (a timestamp's date part too: ``2024-01-19T00:00:00Z``); None if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


AMOUNT = FieldParser("an amount such as 1234.56 (a point, no thousands separator)", money)
ISO_DATE = FieldParser("a date YYYY-MM-DD", iso_date)


def fields_of(columns: Mapping[str, TColumnSchema], date_parser: FieldParser = ISO_DATE) -> dict[str, FieldParser]:
    """The checks a resource's declared columns imply: each ``date`` column read with ``date_parser``, each
    decimal (``money``) column as an amount."""
    out: dict[str, FieldParser] = {}
    for name, hint in columns.items():
        if hint.get("data_type") == "date":
            out[name] = date_parser
        elif hint.get("data_type") == "decimal":
            out[name] = AMOUNT
    return out


def is_quarantine(meta: Any) -> bool:
    """Whether a transformer's item is its parent's quarantine rows (marked for ``raw_quarantine``), not data."""
    return getattr(meta, "table_name", None) == QUARANTINE_TABLE


@dataclass(slots=True)
class RecordChecks:
    """The checks of one source of one entity, and how many records they set aside in this run."""

    source_system: str
    entity: str
    quarantined: int = 0

    def split(self, records: Iterable[dict[str, Any]], fields: Mapping[str, FieldParser],
              name: Callable[[dict[str, Any]], str],
              convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows of ``records`` whose ``fields`` all read (parsed in place), and the quarantine rows of the others.

        ``convert`` turns an API object into a raw row first (it must not change the object: the quarantine
        keeps the object as sent); ``name`` says which record it is (``transaction 2198 (INV10478)``)."""
        good: list[dict[str, Any]] = []
        bad: list[dict[str, Any]] = []
        for obj in records:
            try:
                row = convert(obj) if convert is not None else obj
            except (ValueError, TypeError, ArithmeticError) as exc:  # a value inside the object's lists
                bad += self._quarantine(name(obj), obj, [(None, f"cannot be read: {exc or type(exc).__name__}")])
                continue
            parsed: dict[str, Any] = {}
            errors: list[tuple[str | None, str]] = []
            for field, parser in fields.items():
                value = row.get(field)
                try:
                    parsed[field] = parser.parse(value)
                except (ValueError, TypeError, ArithmeticError) as exc:
                    errors.append((field, _reason(field, value, parser.expected, exc)))
            if not errors:
                row.update({k: v for k, v in parsed.items() if k in row or v is not None})
                good.append(row)
                continue
            bad += self._quarantine(name(obj), obj, errors)
        return good, bad

    def page(self, records: Iterable[dict[str, Any]], fields: Mapping[str, FieldParser],
             name: Callable[[dict[str, Any]], str],
             convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Iterator[Any]:
        """:meth:`split`, as a resource yields it: the quarantine rows (marked for ``raw_quarantine``), then the
        good rows, if any."""
        good, bad = self.split(records, fields, name, convert)
        if bad:
            yield to_table(bad, QUARANTINE_TABLE)
        if good:
            yield good

    def _quarantine(self, record: str, obj: dict[str, Any], errors: list[tuple[str | None, str]]) -> list[dict[str, Any]]:
        self.quarantined += 1
        log.warning("%s %s: %s quarantined, not loaded: %s", self.source_system, self.entity, record,
                    "; ".join(reason for _, reason in errors))
        quarantine = Quarantine(self.source_system, self.entity, record)
        raw = json.dumps(obj, default=str, ensure_ascii=False)
        for field, reason in errors:
            quarantine.add(None, field, reason, raw)
        rows: list[dict[str, Any]] = quarantine.to_table().to_pylist()
        return rows


def _reason(field: str, value: Any, expected: str, exc: BaseException) -> str:
    detail = str(exc).strip()
    return f"{field} {value!r} is not {expected}" + (f" ({detail})" if detail else "")
