"""Hypothesis profiles for the property tests, and one set of keys and normalisers per session.

``ci`` (the default, used by ``make test``) keeps the suite to a few seconds; ``thorough`` is for
a longer local hunt: ``HYPOTHESIS_PROFILE=thorough pytest tests/property``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

from contracts.vocab import Partner
from services.normalise.pipeline import Normaliser
from services.protection.keys import LocalKeyStore
from tests.property.harness import make_normaliser

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> LocalKeyStore:
    """Keys generated once for the property session."""
    return LocalKeyStore(tmp_path_factory.mktemp("property-keys"))


@pytest.fixture(scope="session")
def normaliser_for(keys: LocalKeyStore) -> Callable[[Partner], Normaliser]:
    """A fresh normaliser (empty seen store) for a partner."""
    return lambda partner: make_normaliser(partner, keys)
