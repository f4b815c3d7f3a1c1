"""Forming clusters (people) from records and links, and naming each with a stable person id.

Kept apart from the scoring in ``linkage.py`` because this is the part that must be
order-independent: records are visited sorted by id and scored links strongest first (ties by
record ids), so the same records always give the same clusters, whatever order they arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from services.correlator.domain.linkage import PersonRecord

__all__ = ["Cluster", "Link", "build_clusters"]


@dataclass(frozen=True)
class Link:
    """Why two records were put in one cluster, and how sure linkage is."""

    a: str
    b: str
    confidence: float
    tier: Literal["deterministic", "scored"]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Cluster:
    """One person: their records, the links between them, and the person id.

    ``person_id`` is, in order of preference: the smallest full-name + date-of-birth token in the
    cluster (unless another cluster of the index holds the same token), else the smallest
    deterministic token, else the smallest record subject. Name and date of birth come first
    because every partner sends them, so a person gets the same id whichever partner's record
    arrives first; it changes only if a differently spelt record with a smaller token joins.
    Alerts then keep the subject they were first raised under (see ``rules.py``).
    """

    person_id: str
    members: frozenset[str]
    links: tuple[Link, ...]
    identity_tokens: frozenset[str]

    @property
    def confidence(self) -> float:
        """The weakest link holding the cluster together (1.0 for one record)."""
        return min((link.confidence for link in self.links), default=1.0)


class _Sets:
    """Union-find over record ids with the deterministic tokens each set holds."""

    def __init__(self, records: Sequence[PersonRecord]) -> None:
        self.parent = {r.record_id: r.record_id for r in records}
        self.kinds = {r.record_id: set(r.deterministic) for r in records}

    def find(self, item: str) -> str:
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: str, b: str) -> None:
        ra, rb = sorted((self.find(a), self.find(b)))
        if ra != rb:
            self.parent[rb] = ra
            self.kinds[ra] |= self.kinds.pop(rb)

    def conflicts(self, a: str, b: str) -> bool:
        """Each side holds a different identifier of the same deterministic kind."""
        left = {kind for kind, _ in self.kinds[self.find(a)]}
        right = {kind for kind, _ in self.kinds[self.find(b)]}
        return bool(left & right)

    def members(self, item: str) -> set[str]:
        root = self.find(item)
        return {r for r in self.parent if self.find(r) == root}


def build_clusters(
    records: Sequence[PersonRecord],
    scored: Iterable[tuple[int, tuple[str, ...], str, str]],
    unlinked: set[frozenset[str]],
) -> tuple[Cluster, ...]:
    """Deterministic links first, then scored links strongest first unless they conflict."""
    sets = _Sets(records)
    links: list[Link] = []
    first_with: dict[tuple[object, str], str] = {}
    for record in records:
        for pair in sorted(record.deterministic):
            if pair in first_with:
                sets.union(first_with[pair], record.record_id)
                links.append(
                    Link(first_with[pair], record.record_id, 1.0, "deterministic", (pair[0].value,))
                )
            else:
                first_with[pair] = record.record_id
    for points, reasons, a, b in sorted(scored, key=lambda s: (-s[0], s[2], s[3])):
        if sets.find(a) == sets.find(b) or sets.conflicts(a, b):
            continue
        left, right = sets.members(a), sets.members(b)
        if any(frozenset((x, y)) in unlinked for x in left for y in right):
            continue
        sets.union(a, b)
        links.append(Link(a, b, points / 100, "scored", reasons))
    return _name(records, sets, links)


def _name(records: Sequence[PersonRecord], sets: _Sets, links: list[Link]) -> tuple[Cluster, ...]:
    by_id = {r.record_id: r for r in records}
    groups: dict[str, set[str]] = {}
    for record in records:
        groups.setdefault(sets.find(record.record_id), set()).add(record.record_id)
    full_names = {
        root: {t for m in members if (t := by_id[m].full_name_dob)}
        for root, members in groups.items()
    }
    seen_twice = {
        token
        for root, tokens in full_names.items()
        for token in tokens
        if any(token in other for r, other in full_names.items() if r != root)
    }
    clusters = []
    for root, members in groups.items():
        deterministic = {t for m in members for _, t in by_id[m].deterministic}
        subjects = {by_id[m].subject for m in members}
        names = full_names[root] - seen_twice
        person_id = min(names or deterministic or subjects)
        own = tuple(link for link in links if link.a in members)
        identity = frozenset(full_names[root] | deterministic | subjects | {person_id})
        clusters.append(Cluster(person_id, frozenset(members), own, identity))
    return tuple(sorted(clusters, key=lambda c: (c.person_id, min(c.members))))
