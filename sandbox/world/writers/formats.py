"""Number and date notations of the formats we write (integer cents in, text out)."""

from __future__ import annotations

from datetime import date


def cents_plain(cents: int, decimal_sep: str = ".") -> str:
    """``123456`` -> ``1234.56`` (or ``1234,56``), no thousands separator, sign kept."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}{decimal_sep}{abs(cents) % 100:02d}"


def cents_german(cents: int) -> str:
    """``123456`` -> ``1.234,56`` (unsigned: SAP gives the sign in SHKZG)."""
    units = f"{abs(cents) // 100:,}".replace(",", ".")
    return f"{units},{abs(cents) % 100:02d}"


def yyyymmdd(day: date | None) -> str:
    return day.strftime("%Y%m%d") if day else ""


def ddmmyyyy(day: date | None) -> str:
    return day.strftime("%d.%m.%Y") if day else ""
