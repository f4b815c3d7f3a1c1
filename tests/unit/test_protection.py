"""Tokens and sealed fields: joins work, and only the named audiences can read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contracts.vocab import Audience, Partner, TokenKind
from services.protection.keys import LocalKeyStore
from services.protection.sealing import FieldSealer, NotPermittedError, Opener, UnreadableError
from services.protection.tokens import Tokeniser


@pytest.fixture
def keys(tmp_path: Path) -> LocalKeyStore:
    return LocalKeyStore(tmp_path / "keys")


def test_same_identifier_same_token_across_key_store_instances(keys: LocalKeyStore) -> None:
    """Two services sharing a key directory produce the same token for one identifier."""
    other = LocalKeyStore(keys.directory)
    assert Tokeniser(keys).token(TokenKind.NHS_NUMBER, "9434765919") == Tokeniser(other).token(
        TokenKind.NHS_NUMBER, "9434765919"
    )


def test_identifier_types_never_share_tokens(keys: LocalKeyStore) -> None:
    """The same digits under two identifier types give unrelated tokens (separate keys)."""
    tokens = Tokeniser(keys)
    a = tokens.token(TokenKind.NHS_NUMBER, "100023456789").split(":")[1]
    b = tokens.token(TokenKind.UPRN, "100023456789").split(":")[1]
    assert a != b


def test_token_reveals_nothing_of_the_value(keys: LocalKeyStore) -> None:
    """A token contains neither the identifier nor a plain hash of it."""
    token = Tokeniser(keys).token(TokenKind.NHS_NUMBER, "9434765919")
    assert "9434765919" not in token
    assert token.startswith("nhs_number:")


def test_key_files_are_owner_only(keys: LocalKeyStore) -> None:
    """Generated keys are readable by their owner alone."""
    Tokeniser(keys).token(TokenKind.NAME, "MARSH")
    for path in keys.directory.iterdir():
        assert path.stat().st_mode & 0o077 == 0


def test_sealed_field_opens_for_named_audience_only(keys: LocalKeyStore) -> None:
    """The police audience reads the field; housing, not named, is refused."""
    field = FieldSealer(keys, "event-1").seal(
        "narrative", "narrative", "shouting", [Audience.POLICE]
    )
    assert Opener(keys, Audience.POLICE).open(field, "event-1") == "shouting"
    with pytest.raises(NotPermittedError):
        Opener(keys, Audience.HOUSING).open(field, "event-1")
    assert "shouting" not in field.model_dump_json()


def test_sealed_field_bound_to_its_event(keys: LocalKeyStore) -> None:
    """A ciphertext copied into another event fails to open (associated data)."""
    field = FieldSealer(keys, "event-1").seal("narrative", "narrative", "x", [Audience.POLICE])
    with pytest.raises(UnreadableError):
        Opener(keys, Audience.POLICE).open(field, "event-2")


def test_sealed_field_bound_to_its_path(keys: LocalKeyStore) -> None:
    """A ciphertext moved to another field path fails to open."""
    field = FieldSealer(keys, "e").seal("people[0].contact", "contact", "x", [Audience.POLICE])
    moved = field.model_copy(update={"path": "people[1].contact"})
    with pytest.raises(UnreadableError):
        Opener(keys, Audience.POLICE).open(moved, "e")


def test_rotation_keeps_old_fields_readable(keys: LocalKeyStore) -> None:
    """After rotating an audience key, fields sealed before and after both open."""
    before = FieldSealer(keys, "e1").seal("n", "narrative", "old", [Audience.POLICE])
    new_kid = keys.rotate_audience_key(Audience.POLICE)
    after = FieldSealer(keys, "e2").seal("n", "narrative", "new", [Audience.POLICE])
    assert after.keys[0].kid == new_kid != before.keys[0].kid
    opener = Opener(keys, Audience.POLICE)
    assert (opener.open(before, "e1"), opener.open(after, "e2")) == ("old", "new")


def test_rotation_by_another_process_is_seen(keys: LocalKeyStore) -> None:
    """A key store that has cached the current key notices a rotation made elsewhere."""
    first, _ = keys.current_audience_key(Audience.POLICE)
    os.utime(keys.directory, ns=(0, 0))  # a directory quiet for long: the lookup is cached
    assert keys.current_audience_key(Audience.POLICE)[0] == first
    rotated = LocalKeyStore(keys.directory).rotate_audience_key(Audience.POLICE)
    assert keys.current_audience_key(Audience.POLICE)[0] == rotated != first


def test_fields_of_one_event_open_separately(keys: LocalKeyStore) -> None:
    """Fields sealed together for one event each open alone, and only under their own path."""
    sealer = FieldSealer(keys, "e")
    a = sealer.seal("a", "narrative", "one", [Audience.POLICE, Audience.HOUSING])
    b = sealer.seal("b", "narrative", "two", [Audience.POLICE])
    opener = Opener(keys, Audience.POLICE)
    assert (opener.open(a, "e"), opener.open(b, "e")) == ("one", "two")
    assert Opener(keys, Audience.HOUSING).open(a, "e") == "one"
    swapped = b.model_copy(update={"path": "a", "keys": a.keys[1:]})
    with pytest.raises(UnreadableError):
        opener.open(swapped, "e")


def test_sealing_for_nobody_is_refused(keys: LocalKeyStore) -> None:
    """A field no audience may read must be dropped, not sealed into a black hole."""
    with pytest.raises(ValueError, match="no audience"):
        FieldSealer(keys, "e").seal("n", "narrative", "x", [])


def test_agreement_change_applies_to_the_next_event(tmp_path: Path) -> None:
    """Editing the agreements file changes the audiences of events sealed afterwards."""
    from services.sharing.agreements import DEFAULT_AGREEMENTS, AgreementFile  # noqa: PLC0415

    path = tmp_path / "agreements.yaml"
    path.write_text(DEFAULT_AGREEMENTS.read_text())
    current = AgreementFile(path)
    assert Audience.HOUSING not in current().for_partner(Partner.POLICE).audiences("contact")
    path.write_text(
        DEFAULT_AGREEMENTS.read_text().replace(
            "      contact: [police, lead_agency]", "      contact: [police, housing, lead_agency]"
        )
    )
    assert Audience.HOUSING in current().for_partner(Partner.POLICE).audiences("contact")
