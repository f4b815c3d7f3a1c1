"""Qualifying periods and windows on the local calendar."""

from __future__ import annotations

from datetime import date

import pytest

from services.correlator.domain.periods import add_months, is_qualifying, local_date, window_end
from services.correlator.domain.policy import AreaPolicy
from tests.correlator.builders import at

MONTH = AreaPolicy(area_id="m", area_name="M")
DAYS_30 = AreaPolicy(area_id="d", area_name="D", qualifying_period=30)
DAYS_7 = AreaPolicy(area_id="w", area_name="W", qualifying_period=7)


@pytest.mark.parametrize(
    ("policy", "occurred", "reported", "qualifies"),
    [
        (MONTH, "2026-01-31T20:00", "2026-02-28T09:00", True),  # clamped to end of February
        (MONTH, "2026-01-31T20:00", "2026-03-01T09:00", False),
        (MONTH, "2028-01-31T20:00", "2028-02-29T09:00", True),  # leap year
        (MONTH, "2026-03-08T21:00", "2026-04-08T23:59", True),
        (MONTH, "2026-03-08T21:00", "2026-04-09T00:01", False),  # 32 days later
        (DAYS_30, "2026-01-31T20:00", "2026-03-02T09:00", True),  # 31 Jan + 30 days
        (DAYS_30, "2026-01-31T20:00", "2026-03-03T09:00", False),
        (DAYS_7, "2026-05-01T12:00", "2026-05-08T18:00", True),
        (DAYS_7, "2026-05-01T12:00", "2026-05-09T08:00", False),
    ],
)
def test_qualifying_period(
    policy: AreaPolicy, occurred: str, reported: str, qualifies: bool
) -> None:
    """Calendar month with month-end clamping, or a number of days, on local dates."""
    assert is_qualifying(at(occurred), at(reported), policy) is qualifies


def test_local_date_is_england() -> None:
    """00:30 BST on 2 April is 2 April, although it is 1 April in UTC."""
    assert local_date(at("2026-04-01T23:30Z")) == date(2026, 4, 2)


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 3, 8), -6, date(2025, 9, 8)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    """Whole calendar months, clamped at month end, either direction."""
    assert add_months(day, months) == expected


def test_window_includes_its_whole_last_day() -> None:
    """Six months from 10 January runs to the end of 10 July (local time)."""
    end = window_end(at("2026-01-10T21:00"), 6)
    assert at("2026-07-10T23:59:59") <= end < at("2026-07-11T00:00")
