"""Working days skip weekends and England-and-Wales bank holidays (from ``holidays``)."""

from __future__ import annotations

from datetime import date

import pytest

from services.correlator.domain.working_days import add_working_days, is_working_day


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 3, 2), 0, date(2026, 3, 2)),  # Monday, nothing added
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # Friday + 1 skips the weekend
        (date(2026, 3, 2), 10, date(2026, 3, 16)),  # two working weeks
        (date(2026, 4, 2), 1, date(2026, 4, 7)),  # Good Friday 3rd, Easter Monday 6th
        (date(2026, 5, 21), 10, date(2026, 6, 5)),  # Spring bank holiday 25 May
        # Thu 24 Dec: 25th Christmas, weekend, 28th Boxing Day (substitute day) all skipped.
        (date(2026, 12, 24), 1, date(2026, 12, 29)),
        (date(2026, 12, 24), 2, date(2026, 12, 30)),
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # New Year's Day, then the weekend
    ],
)
def test_add_working_days(start: date, n: int, expected: date) -> None:
    """The start day is not counted; each counted day is a working day."""
    assert add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 12, 28), False),  # Boxing Day observed
        (date(2026, 8, 31), False),  # Summer bank holiday (England and Wales, not Scotland)
        (date(2026, 8, 3), True),  # Scotland's summer holiday is a working day here
        (date(2026, 3, 7), False),  # Saturday
        (date(2027, 3, 26), False),  # Good Friday in a later year (library expands years)
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    """Bank holidays of England and Wales only, plus weekends, are not working days."""
    assert is_working_day(day) is working


def test_negative_days_refused() -> None:
    """Counting backwards is not a deadline."""
    with pytest.raises(ValueError, match="negative"):
        add_working_days(date(2026, 1, 5), -1)
