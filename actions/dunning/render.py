"""Jinja2 templates per step and language; the first line of a rendered template is the subject.

Templates live in ``actions/dunning/templates/<template>.<lang>.txt.j2``; a
missing language falls back to English. Money is formatted per language
(``1 234,56 €`` / ``EUR 1,234.56``) from Decimal, never through a float.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from lettrage.money import exponent, quantize

TEMPLATES_DIR = Path(__file__).parent / "templates"
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def money(amount: Decimal | int | None, currency: str = "EUR", lang: str = "en") -> str:
    value = quantize(Decimal(amount or 0), currency)
    digits = f"{abs(value):,.{exponent(currency)}f}"
    sign = "-" if value < 0 else ""
    if lang == "fr":
        digits = digits.replace(",", "\u202f").replace(".", ",")
        return f"{sign}{digits} {SYMBOLS.get(currency, currency)}"
    return f"{sign}{currency} {digits}"


def day(value: date | None, lang: str = "en") -> str:
    if value is None:
        return ""
    if lang == "fr":
        return value.strftime("%d/%m/%Y")
    return f"{value.day} {MONTHS_EN[value.month - 1]} {value.year}"


def days(values: list[date] | None, lang: str = "en") -> str:
    """``5 Nov 2026 and 12 Nov 2026`` / ``05/11/2026 et 12/11/2026``: the dates of earlier reminders."""
    shown = [day(v, lang) for v in values or []]
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} {'et' if lang == 'fr' else 'and'} {shown[-1]}"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), undefined=jinja2.StrictUndefined,
                             autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["money"] = money
    env.filters["day"] = day
    env.filters["days"] = days
    return env


def template_name(template: str, language: str) -> str:
    name = f"{template}.{language}.txt.j2"
    return name if (TEMPLATES_DIR / name).exists() else f"{template}.en.txt.j2"


def render(template: str, language: str, **context: Any) -> tuple[str, str]:
    """(subject, body) of ``template`` in ``language``."""
    text = environment().get_template(template_name(template, language)).render(lang=language, **context)
    subject, _, body = text.partition("\n")
    return subject.removeprefix("Subject:").strip(), body.lstrip("\n")
