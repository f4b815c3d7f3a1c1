"""The sample cuckooing case, end to end: partner messages in, case-review alerts out."""

from __future__ import annotations

import uuid
from collections import Counter

import pytest

from contracts.vocab import AlertRule, Audience, TokenKind
from services.correlator.app import CorrelatorService
from services.demo.scenario import scenario
from services.protection.keys import LocalKeyStore
from services.protection.sealing import NotPermittedError, Opener
from services.protection.tokens import Tokeniser
from tests.integration.correlation import alerts, wait_caught_up
from tests.integration.exchange import Exchange, with_message_id

pytestmark = pytest.mark.kafka


async def test_scenario_raises_the_expected_alerts_once(
    exchange: Exchange, correlator: CorrelatorService, keys: LocalKeyStore
) -> None:
    """One THRESHOLD_MET and one vulnerability review for Bethany; escalations for the visitors."""
    run = uuid.uuid4().hex[:8]
    messages = [with_message_id(m, f"C-{run}-{i}") for i, m in enumerate(scenario())]
    await exchange.send(*messages)
    await exchange.send(*messages)  # redelivered whole: must change nothing
    await wait_caught_up(correlator)
    found = await alerts(correlator.bootstrap, correlator.alerts_topic)

    tokens = Tokeniser(keys)
    bethany = tokens.token(TokenKind.NAME_DOB, "BETHANY MARSH|1989-04-17")
    jordan = tokens.token(TokenKind.NAME_DOB, "JORDAN PIKE|1998-02-03")
    tyler = tokens.token(TokenKind.NAME_DOB, "TYLER VOSS|2000-09-12")
    assert len({a.id for a in found}) == len(found), "an alert was published twice"

    hers = [a for a in found if a.subject == bethany]
    rules = Counter(a.data.rule for a in hers)
    assert rules[AlertRule.THRESHOLD_MET] == 1
    (threshold,) = [a for a in hers if a.data.rule is AlertRule.THRESHOLD_MET]
    occurred = [i.occurred_at for i in threshold.data.incidents]
    assert len(occurred) == len(set(occurred)) == 3, "the 1 April incident counts once"
    # Which agencies are listed depends on whether housing's report of 1 April had arrived when
    # the threshold was met (partners' streams interleave); it is never a second incident.
    assert threshold.data.response_due_on is not None
    assert threshold.data.details is not None
    details = Opener(keys, Audience.POLICE).open(threshold.data.details, threshold.id)
    assert len(details["contributing_event_ids"]) >= 3
    with pytest.raises(NotPermittedError):  # sealed for police and the lead agency only
        Opener(keys, Audience.HOUSING).open(threshold.data.details, threshold.id)
    reviews = [a for a in hers if a.data.rule is AlertRule.REVIEW_SUGGESTED]
    assert sum("vulnerab" in a.data.reason.lower() for a in reviews) == 1
    assert rules[AlertRule.SECOND_REPORT_PROMPT] == 1

    escalations = {
        AlertRule.PERPETRATOR_UNDER_CPW_REOFFENDS,
        AlertRule.PERPETRATOR_UNDER_CPW_NEW_ADDRESS,
    }
    assert any(a.subject == jordan and a.data.rule in escalations for a in found)
    assert any(
        a.subject == tyler and a.data.rule is AlertRule.PERPETRATOR_UNDER_CPW_NEW_ADDRESS
        for a in found
    )
    assert not any(
        a.data.rule is AlertRule.CPN_WITHOUT_PRIOR_CPW for a in found if a.subject == jordan
    )
