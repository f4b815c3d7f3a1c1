"""Which retention subjects an erasure must shred, found from any one token of the person.

A person's details are sealed under their *own* subject token, and each partner names people by
its strongest identifier (NHS number, police or housing person id), so one person has a
different subject token in each partner's records. An erasure request arrives with one token
(an alert's subject, say). Every record that carries that token among a person's keys tells us
that person's subject token in that partner's data; shredding all of them erases the person
everywhere without anyone decrypting anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from contracts.envelope import CanonicalEvent
from contracts.parts import PersonRef

__all__ = ["people_in", "subjects_to_erase"]


def people_in(model: BaseModel) -> Iterable[PersonRef]:
    """Every person described anywhere inside a contract model."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, PersonRef):
                yield item
            elif isinstance(item, BaseModel):
                yield from people_in(item)


def subjects_to_erase(events: Iterable[CanonicalEvent], token: str) -> set[str]:
    """The given token plus every subject token of a person who carries it."""
    found = {token}
    for event in events:
        for person in people_in(event.data):
            if person.subject == token or any(k.token == token for k in person.keys):
                found.add(person.subject)
    return found
