"""The yearly case-review figures the Act requires relevant bodies to publish (s.104(11)):
applications received, applications where the threshold was not met, reviews carried out, and
reviews that resulted in recommendations.

Drawn from the same casework events the lead officers record, so the published numbers are
the work itself, not a second tally. A year is the financial year by default (1 April to
31 March), as councils and police forces publish; any start month can be asked for. Each case
counts once per figure: a threshold decision revisited counts by its latest outcome.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from contracts.casework import ApplicationReceived, CaseworkEvent, ReviewHeld, ThresholdDecided
from services.correlator.domain.periods import add_months

__all__ = ["YearlyFigures", "year_containing", "yearly_figures"]

APRIL = 4


@dataclass(frozen=True)
class YearlyFigures:
    """One year's figures."""

    start: date
    end: date  # exclusive
    applications_received: int
    threshold_not_met: int
    reviews_carried_out: int
    reviews_with_recommendations: int

    @property
    def label(self) -> str:
        """``2026/27`` for a financial year, ``2026`` for a calendar year."""
        if self.start.month == 1:
            return str(self.start.year)
        return f"{self.start.year}/{(self.start.year + 1) % 100:02d}"


def year_containing(day: date, start_month: int = APRIL) -> date:
    """First day of the (financial, by default) year that ``day`` falls in."""
    year = day.year if day.month >= start_month else day.year - 1
    return date(year, start_month, 1)


def yearly_figures(events: Iterable[CaseworkEvent], start: date) -> YearlyFigures:
    """The figures for the twelve months from ``start``."""
    end = add_months(start, 12)
    received: set[str] = set()
    decided: dict[str, bool] = {}
    reviews: dict[str, bool] = {}
    seen: set[str] = set()
    for event in sorted(events, key=lambda e: e.time):
        if event.id in seen:
            continue
        seen.add(event.id)
        data, case = event.data, event.case_id
        if isinstance(data, ApplicationReceived) and start <= data.received_on < end:
            received.add(case)
        elif isinstance(data, ThresholdDecided) and start <= data.decided_on < end:
            decided[case] = data.met  # the latest decision stands
        elif isinstance(data, ReviewHeld) and start <= data.held_on < end:
            reviews[case] = reviews.get(case, False) or data.recommendation_count > 0
    return YearlyFigures(
        start=start,
        end=end,
        applications_received=len(received),
        threshold_not_met=sum(1 for met in decided.values() if not met),
        reviews_carried_out=len(reviews),
        reviews_with_recommendations=sum(reviews.values()),
    )
