"""Date helpers of the sample world (months, business days, unix seconds).

The world's "now" is always the caller's ``as_of``; nothing here reads the clock.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later (earlier if negative), clipped to the month's last day."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def month_end(day: date) -> date:
    return date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])


def next_business_day(day: date) -> date:
    """The day itself if Monday–Friday, else the following Monday (bank holidays ignored)."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def business_days_after(day: date, n: int) -> date:
    for _ in range(n):
        day = next_business_day(day + timedelta(days=1))
    return day


def unix(day: date, seconds: int = 0) -> int:
    """Unix seconds of ``day`` at midnight UTC plus ``seconds``."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) + seconds


def from_unix(ts: int) -> date:
    return datetime.fromtimestamp(ts, tz=UTC).date()


def iso_z(day: date, seconds: int = 0) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``, as GoCardless writes ``created_at``."""
    dt = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=seconds)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
