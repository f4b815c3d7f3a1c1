"""Opening every sealed field of a record for one audience, and saying what was not opened.

A partner sees three kinds of field it cannot read, and is told which: *withheld* (the sharing
agreement does not give its audience that data class), *shredded* (retention ended or the
subject was erased) and *unreadable* (altered, or a key is missing). Nothing else is hidden:
unsealed fields are metadata and tokens, readable by anyone allowed the topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from contracts.protected import SealedField
from contracts.vocab import Audience
from services.audit.records import sealed_fields
from services.protection.keys import KeyStore
from services.protection.sealing import Opener, ShreddedError, UnreadableError

__all__ = ["SHREDDED", "UNREADABLE", "WITHHELD", "OpenedFields", "open_fields"]

WITHHELD = "(withheld: not shared with this audience)"
SHREDDED = "(shredded: retention ended or the subject was erased)"
UNREADABLE = "(unreadable: data altered or key missing)"


@dataclass(frozen=True)
class OpenedFields:
    """The sealed fields of one record, as one audience sees them."""

    values: dict[str, Any] = field(default_factory=dict)
    withheld: tuple[str, ...] = ()
    shredded: tuple[str, ...] = ()
    unreadable: tuple[str, ...] = ()
    data_classes: tuple[str, ...] = ()
    key_ids: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    @property
    def disclosed(self) -> bool:
        """Whether anything at all was opened (only then is it a disclosure to audit)."""
        return bool(self.values)

    def shown(self) -> dict[str, Any]:
        """Every sealed path, in record order, with its value or the reason it is not shown."""
        reasons = {
            **dict.fromkeys(self.withheld, WITHHELD),
            **dict.fromkeys(self.shredded, SHREDDED),
            **dict.fromkeys(self.unreadable, UNREADABLE),
        }
        return {p: self.values[p] if p in self.values else reasons[p] for p in self.paths}


def _key_ids(sealed: SealedField, audience: Audience) -> set[str]:
    used = {k.kid for k in sealed.keys if k.audience == audience}
    return used | set(sealed.retention_kids)


def open_fields(
    model: BaseModel, event_id: str, audience: Audience, keys: KeyStore
) -> OpenedFields:
    """Open what ``audience`` may read in ``model`` (sealed under ``event_id``)."""
    opener = Opener(keys, audience)
    values: dict[str, Any] = {}
    withheld: list[str] = []
    shredded: list[str] = []
    unreadable: list[str] = []
    classes: set[str] = set()
    key_ids: set[str] = set()
    paths: list[str] = []
    for sealed in sealed_fields(model):
        paths.append(sealed.path)
        if not opener.can_open(sealed):
            withheld.append(sealed.path)
            continue
        try:
            values[sealed.path] = opener.open(sealed, event_id)
        except ShreddedError:
            shredded.append(sealed.path)
        except UnreadableError:
            unreadable.append(sealed.path)
        else:
            classes.add(sealed.data_class)
            key_ids |= _key_ids(sealed, audience)
    return OpenedFields(
        values=values,
        withheld=tuple(withheld),
        shredded=tuple(shredded),
        unreadable=tuple(unreadable),
        data_classes=tuple(sorted(classes)),
        key_ids=tuple(sorted(key_ids)),
        paths=tuple(paths),
    )
