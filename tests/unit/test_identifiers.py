"""Identifier normalisation: one person, one token, whatever the spelling."""

from __future__ import annotations

import nhs_number
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.vocab import RejectReason
from services.identifiers import (
    InvalidIdentifierError,
    name_variants,
    normalise_address,
    normalise_name,
    normalise_nhs_number,
    normalise_postcode,
    normalise_uprn,
)


@given(st.integers(min_value=400_000_000, max_value=999_999_999))
def test_nhs_numbers_with_right_check_digit_accepted_wrong_refused(body: int) -> None:
    """Exactly the modulus-11 check digit is accepted; every other final digit is refused."""
    nine = str(body)
    check = nhs_number.calculate_checksum(nine)
    for digit in range(10):
        candidate = f"{nine}{digit}"
        if str(digit) == str(check):
            assert normalise_nhs_number(candidate) == candidate
        else:
            with pytest.raises(InvalidIdentifierError) as err:
                normalise_nhs_number(candidate)
            assert err.value.reason is RejectReason.INVALID_NHS_NUMBER
            assert candidate not in str(err.value)


def test_nhs_number_spacing_normalised() -> None:
    """Spaces and hyphens as people write them do not change the number."""
    assert normalise_nhs_number("943 476 5919") == normalise_nhs_number("943-476-5919")


@pytest.mark.parametrize("text", ["", "0", "1234567890123", "12a4", "-5"])
def test_bad_uprns_refused(text: str) -> None:
    """UPRNs are 1 to 12 digits and not zero."""
    with pytest.raises(InvalidIdentifierError) as err:
        normalise_uprn(text)
    assert err.value.reason is RejectReason.INVALID_UPRN


def test_uprn_leading_zeros_ignored() -> None:
    """Leading zeros do not make a different property."""
    assert normalise_uprn("000023456789") == "23456789"
    assert normalise_uprn(100023456789) == "100023456789"


@pytest.mark.parametrize(("raw", "expected"), [("mb47qt", "MB4 7QT"), (" sw1a 1aa ", "SW1A 1AA")])
def test_postcodes_normalised(raw: str, expected: str) -> None:
    """Postcodes are upper case with one space before the inward code."""
    assert normalise_postcode(raw) == expected


@pytest.mark.parametrize("raw", ["NOT A CODE", "12345", "Q1 1AA"])
def test_bad_postcodes_refused(raw: str) -> None:
    """Shapes no Royal Mail postcode has are refused."""
    with pytest.raises(InvalidIdentifierError):
        normalise_postcode(raw)


def test_names_with_accents_and_apostrophes_match() -> None:
    """Zoë O'Neill and ZOE ONEILL are one name."""
    assert normalise_name("Zoë O'Neill") == normalise_name("ZOE  ONEILL")


def test_name_variants_include_initial_form() -> None:
    """Scored linkage can match 'B Marsh' to 'Bethany Marsh' born the same day."""
    from datetime import date  # noqa: PLC0415

    full = name_variants("Bethany", "Marsh", date(1989, 4, 17))
    short = name_variants("B.", "Marsh", date(1989, 4, 17))
    assert set(full) & set(short) == {"B MARSH|1989-04-17"}


def test_address_abbreviations_expanded() -> None:
    """'Tannery Ln' and 'Tannery Lane' give one address form."""
    assert normalise_address(["18 Tannery Ln"], "MB4 7QT") == normalise_address(
        ["18, Tannery Lane"], "mb47qt"
    )
