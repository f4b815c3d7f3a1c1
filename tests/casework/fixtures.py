"""The cuckooing scenario, normalised once per session with keys of its own.

Fixtures live in this plain module so that the case page tests (``tests/web``) can import them
as well as ``tests/casework/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.envelope import CanonicalEvent
from contracts.vocab import Audience
from services.casework.case import CaseFile, build_case
from services.correlator.domain.policy import AreaPolicy, load_policy
from services.protection.keys import LocalKeyStore
from tests.casework.scenario import bethany, scenario_events


@pytest.fixture(scope="session")
def case_keys(tmp_path_factory: pytest.TempPathFactory) -> LocalKeyStore:
    """Keys generated on first use, like a first run."""
    return LocalKeyStore(Path(tmp_path_factory.mktemp("casework-keys")))


@pytest.fixture(scope="session")
def cuckooing(case_keys: LocalKeyStore) -> list[CanonicalEvent]:
    """Every canonical event of the scenario."""
    return scenario_events(case_keys)


@pytest.fixture(scope="session")
def policy() -> AreaPolicy:
    """The default area policy."""
    return load_policy()


@pytest.fixture(scope="session")
def lead_case(
    cuckooing: list[CanonicalEvent], case_keys: LocalKeyStore, policy: AreaPolicy
) -> CaseFile:
    """Bethany's case as the lead agency sees it."""
    return build_case(cuckooing, bethany(case_keys), Audience.LEAD_AGENCY, case_keys, policy)
