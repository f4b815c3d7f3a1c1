"""Calendar arithmetic the rules share: UK local dates, calendar months, qualifying periods.

Rules speak of "within one month" and "within six months". People in England read those as
calendar months on the local calendar, so times are turned into Europe/London dates before any
comparison (an incident at 00:30 BST on 2 April happened on 2 April, although it is 1 April in
UTC), and a month added to 31 January is clamped to the end of February.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.correlator.domain.policy import AreaPolicy

__all__ = [
    "LONDON",
    "add_months",
    "evaluation_horizon",
    "is_qualifying",
    "local_date",
    "start_of_day",
    "window_end",
]

LONDON = ZoneInfo("Europe/London")


def local_date(moment: datetime) -> date:
    """The calendar date in England of an aware time."""
    return moment.astimezone(LONDON).date()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of ``day`` in England, as an aware UTC time."""
    return datetime.combine(day, time(), tzinfo=LONDON).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, clamped to the last day of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def window_end(start: datetime, months: int) -> datetime:
    """The last moment of a window of ``months`` calendar months opened at ``start``.

    The window is inclusive of its whole final local day: six months from 10 January is every
    time up to the end of 10 July.
    """
    return start_of_day(add_months(local_date(start), months) + timedelta(days=1)) - timedelta(
        microseconds=1
    )


def is_qualifying(occurred_at: datetime, reported_at: datetime, policy: AreaPolicy) -> bool:
    """Whether a complaint was made within the area's qualifying period of the behaviour.

    ``calendar_month``: reported on or before the same day of the next month (31 January gives
    28 February, or 29 in a leap year). A number of days: reported on or before that many days
    after the day of the behaviour (31 January + 30 days gives 2 March).
    """
    occurred, reported = local_date(occurred_at), local_date(reported_at)
    if policy.qualifying_period == "calendar_month":
        latest = add_months(occurred, 1)
    else:
        latest = occurred + timedelta(days=policy.qualifying_period)
    return reported <= latest


def evaluation_horizon(policy: AreaPolicy, newest: datetime) -> datetime:
    """Facts that happened before this are kept but raise nothing new.

    One window plus ``allowed_lateness_days`` before the newest thing known about the subject
    (or the stream time the caller passes): a complaint arriving that late cannot start an
    episode any more, so a replay of ancient history never alerts.
    """
    back = add_months(local_date(newest), -policy.window_months)
    return start_of_day(back) - timedelta(days=policy.allowed_lateness_days)
