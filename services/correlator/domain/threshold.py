"""The mandatory threshold and the 2025 second-report prompt, per victim.

Both count **qualifying** complaints (made within the area's qualifying period of the
behaviour; later complaints stay in state but are not counted) about **distinct** incidents (one
incident reported to several agencies counts once, see ``incidents.py``), affecting the same
victim, within the window measured on when the behaviour occurred. Whether any agency responded
plays no part. Victims may be individuals, businesses or community groups alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts.vocab import AlertRule
from services.correlator.domain.alerts import RaisedAlert
from services.correlator.domain.episodes import Condition, find_episodes
from services.correlator.domain.incidents import Incident
from services.correlator.domain.policy import AreaPolicy

__all__ = ["second_report_conditions", "threshold_conditions"]


def _blocked(raised: Sequence[RaisedAlert], rule: AlertRule, code: str) -> list[RaisedAlert]:
    return [r for r in raised if r.rule is rule and r.reason_code == code]


def threshold_conditions(
    policy: AreaPolicy, incidents: Sequence[Incident], raised: Sequence[RaisedAlert]
) -> list[Condition]:
    """THRESHOLD_MET: ``policy.threshold`` qualifying distinct incidents within the window."""
    qualifying = [i for i in incidents if i.qualifying(policy)]
    blocked = _blocked(raised, AlertRule.THRESHOLD_MET, "threshold")
    return [
        Condition(
            rule=AlertRule.THRESHOLD_MET,
            reason_code="threshold",
            reason=(
                f"{len(e.counted)} qualifying complaints about ASB affecting the same victim "
                f"within {policy.window_months} months (area threshold {policy.threshold})"
            ),
            window_start=e.window_start,
            window_end=e.window_end,
            met_at=e.met_at,
            incidents=e.counted,
        )
        for e in find_episodes(qualifying, policy.threshold, policy, blocked)
    ]


def second_report_conditions(
    policy: AreaPolicy, incidents: Sequence[Incident], raised: Sequence[RaisedAlert]
) -> list[Condition]:
    """SECOND_REPORT_PROMPT: a victim's second qualifying distinct incident within the window.

    Skipped when the area threshold is 2 or less: the threshold alert already tells the single
    point of contact to start the case review, which the prompt only foreshadows.
    """
    if not policy.second_report_prompt or policy.threshold <= 2:
        return []
    qualifying = [i for i in incidents if i.qualifying(policy)]
    blocked = _blocked(raised, AlertRule.SECOND_REPORT_PROMPT, "second_report")
    return [
        Condition(
            rule=AlertRule.SECOND_REPORT_PROMPT,
            reason_code="second_report",
            reason=(
                f"second qualifying complaint about ASB by this victim within "
                f"{policy.window_months} months: explain the ASB case review to them"
            ),
            window_start=e.window_start,
            window_end=e.window_end,
            met_at=e.met_at,
            incidents=e.counted,
        )
        for e in find_episodes(qualifying, 2, policy, blocked)
    ]
