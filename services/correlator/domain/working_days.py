"""Deadlines in working days: weekends and England-and-Wales bank holidays do not count.

Bank holidays come from the maintained ``holidays`` library (``GB`` with subdivision ``ENG``;
Wales has the same bank holidays), including substitute days such as Boxing Day observed on a
Monday, so nobody keeps a hand-written list that goes stale at the end of a year.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

import holidays

__all__ = ["add_working_days", "is_working_day"]

_SATURDAY = 5


@cache
def _bank_holidays() -> holidays.HolidayBase:
    # The library expands to further years on demand when a date is looked up.
    return holidays.country_holidays("GB", subdiv="ENG")


def is_working_day(day: date) -> bool:
    """Monday to Friday and not an England-and-Wales bank holiday."""
    return day.weekday() < _SATURDAY and day not in _bank_holidays()


def add_working_days(start: date, n: int) -> date:
    """The date ``n`` working days after ``start``; the start day itself is never counted.

    This is the usual reading of "within ten working days of the application": a complaint
    made on Thursday 24 December 2026 has its first working day on Tuesday 29 December (25th,
    weekend, and Boxing Day observed on the 28th do not count), so ``n=2`` gives the 30th.
    """
    if n < 0:
        raise ValueError("n must not be negative")
    day = start
    remaining = n
    while remaining:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return day
