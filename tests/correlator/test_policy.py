"""Area policies: loaded from YAML, refused early with the offending field named."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.correlator.domain.policy import (
    DEFAULT_POLICY_FILE,
    AreaPolicy,
    LinkedLocation,
    PolicyError,
    load_policy,
    parse_policy,
)

POLICIES = DEFAULT_POLICY_FILE.parent


def test_default_policy_file_has_guidance_defaults() -> None:
    """The shipped default is three qualifying complaints, calendar month, six months."""
    policy = load_policy()
    assert policy == AreaPolicy(area_id="default", area_name=policy.area_name)
    assert (policy.threshold, policy.qualifying_period, policy.window_months) == (
        3,
        "calendar_month",
        6,
    )
    assert policy.locality_threshold == 5
    assert policy.response_deadline_working_days == 10


@pytest.mark.parametrize(
    ("file", "period", "linked"),
    [
        ("lincolnshire.yaml", 30, LinkedLocation.SAME_ADDRESS_OR_UPRN),
        ("wales.yaml", "calendar_month", LinkedLocation.SAME_UPRN),
    ],
)
def test_example_area_policies_load(file: str, period: object, linked: LinkedLocation) -> None:
    """Every example area file in the repository is valid."""
    policy = load_policy(POLICIES / file)
    assert policy.qualifying_period == period
    assert policy.linked_location is linked


BASE = {"area_id": "x", "area_name": "X"}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"threshold": 4}, "threshold", "guidance says no higher than 3"),
        ({"threshold": 0}, "threshold", "at least one"),
        ({"window_months": 5}, "window_months", "six months"),
        ({"qualifying_period": 0}, "qualifying_period", "1 to 366"),
        ({"qualifying_period": "fortnight"}, "qualifying_period", "calendar_month"),
        ({"linked_location": "same_street"}, "linked_location", "same_uprn"),
        (
            {"same_incident": {"tolerance_hours": -1}},
            "same_incident.tolerance_hours",
            "greater than 0",
        ),
        ({"discretionary": {"hate": "perhaps"}}, "discretionary.hate", "bool"),
        ({"treshold": 3}, "treshold", "Extra inputs"),
        ({"area_id": "Has Spaces"}, "area_id", "pattern"),
    ],
)
def test_invalid_policy_refused_naming_the_field(
    change: dict[str, object], field: str, words: str
) -> None:
    """Each refusal starts with the dotted path of the bad field."""
    with pytest.raises(PolicyError) as err:
        parse_policy(BASE | change)
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ")
    assert words in str(err.value)


def test_threshold_four_refused_from_a_file(tmp_path: Path) -> None:
    """An area file asking for N = 4 is refused with a message naming ``threshold``."""
    path = tmp_path / "area.yaml"
    path.write_text("area_id: strict\narea_name: Strict\nthreshold: 4\n")
    with pytest.raises(PolicyError, match=r"^threshold: guidance says no higher than 3"):
        load_policy(path)


@pytest.mark.parametrize("text", ["- a list\n", "threshold: [unclosed\n"])
def test_unusable_file_refused(tmp_path: Path, text: str) -> None:
    """A file that is not a mapping, or not YAML, is a policy error too."""
    path = tmp_path / "area.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert err.value.field == "policy"


def test_missing_file_refused(tmp_path: Path) -> None:
    """A path that does not exist names the file."""
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")


def test_policy_is_frozen() -> None:
    """Nobody changes a policy in flight."""
    policy = AreaPolicy(area_id="x", area_name="X")
    with pytest.raises(ValueError, match="frozen"):
        policy.threshold = 2
