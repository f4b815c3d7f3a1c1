"""Forming clusters (people) from records and links, and naming each with a stable person id.

Kept apart from the scoring in ``linkage.py`` because this is the part that must be
order-independent: records are visited sorted by id and scored links strongest first (ties by
record ids), so the same records always give the same clusters, whatever order they arrived in.

**Namesakes.** Two people with one name and date of birth but different identifiers of one
deterministic kind (police person ids P1 and P2) are two clusters. Three things keep them apart:

* a scored link is refused when each side holds a different token of the same deterministic kind;
* a *weak* record (no deterministic id, e.g. a housing complaint giving only name and date of
  birth) that scores with both of them is **ambiguous**: it joins neither, rather than whichever
  sorts first, so it can never count towards the wrong person's threshold. Precisely, a scored
  link is refused when one side also scores with a record it could join instead that conflicts
  with the other side (whatever the scores: a wrong merge costs a victim more than a missed
  one, and the alert says so). The clusters concerned list the record in ``Cluster.possible``,
  so alerts can say a complaint may be missing from their count and a human can resolve it (a
  partner adding an id, or an unlink, which the check honours); the weak record's own cluster
  is marked ``ambiguous`` (it is one of the people it could join, not a further person);
* a token more than one cluster claims (the shared full-name + dob token, or the subject of a
  weak record) is **shared**: it names no one, so it is never a person id nor an identity token
  (``Cluster.shared_tokens`` lists them). Before this rule, namesake B inherited the alerts
  raised under namesake A's name token, so B's own threshold was blocked by A's episode.

A business victim's premises (UPRN tokens) are *exclusive* like a deterministic id (they never
link on their own, but two different ones keep records apart), so the same rules keep two
branches of one chain apart.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from contracts.vocab import TokenKind

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
    deterministic token, else the smallest record subject no other cluster holds, else a token
    derived from the smallest member record id. Name and date of birth come first because every
    partner sends them, so a person gets the same id whichever partner's record arrives first; it
    changes only if a differently spelt record with a smaller token joins, or a namesake appears.
    Alerts then keep the subject they were first raised under (see ``rules.py``).
    """

    person_id: str
    members: frozenset[str]
    links: tuple[Link, ...]
    identity_tokens: frozenset[str]
    shared_tokens: frozenset[str] = frozenset()
    possible: frozenset[str] = frozenset()
    ambiguous: bool = False

    @property
    def confidence(self) -> float:
        """The weakest link holding the cluster together (1.0 for one record)."""
        return min((link.confidence for link in self.links), default=1.0)

    def confidence_between(self, records: Iterable[str]) -> float:
        """The weakest link needed to connect ``records`` (1.0 for one record or none).

        Links form a tree over the members, so this is the weakest link of the smallest subtree
        spanning ``records``: found by pruning leaves that are not among them.
        """
        wanted = set(records) & self.members
        edges = list(self.links)
        while True:
            degree: dict[str, int] = {}
            for link in edges:
                degree[link.a] = degree.get(link.a, 0) + 1
                degree[link.b] = degree.get(link.b, 0) + 1
            leaves = {r for r, d in degree.items() if d == 1 and r not in wanted}
            if not leaves:
                break
            edges = [link for link in edges if link.a not in leaves and link.b not in leaves]
        if len(wanted) < 2:
            return 1.0
        return min((link.confidence for link in edges), default=1.0)


class _Sets:
    """Union-find over record ids with the exclusive tokens (deterministic ids, a business's
    premises) each set holds."""

    def __init__(self, records: Sequence[PersonRecord]) -> None:
        self.parent = {r.record_id: r.record_id for r in records}
        self.kinds = {r.record_id: set(r.exclusive) for r in records}

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
        """Each side holds a different identifier of the same exclusive kind."""
        return _clash(self.kinds[self.find(a)], self.kinds[self.find(b)])

    def members(self, item: str) -> set[str]:
        root = self.find(item)
        return {r for r in self.parent if self.find(r) == root}


def _clash(left: set[tuple[TokenKind, str]], right: set[tuple[TokenKind, str]]) -> bool:
    """Both sides hold an identifier of one kind, and not the same one."""
    return bool({k for k, _ in left} & {k for k, _ in right}) and not left & right


def build_clusters(
    records: Sequence[PersonRecord],
    scored: Iterable[tuple[int, tuple[str, ...], str, str]],
    unlinked: set[frozenset[str]],
) -> tuple[Cluster, ...]:
    """Deterministic links first, then scored links strongest first unless they conflict or
    are ambiguous (the joined set would also match a cluster it conflicts with)."""
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
    candidates = sorted(scored, key=lambda s: (-s[0], s[2], s[3]))
    # Ambiguity needs two different tokens of one exclusive kind; most indexes have none.
    held = [kind for kind, _ in {pair for r in records for pair in r.exclusive}]
    contested = len(held) > len(set(held))
    neighbours: dict[str, set[str]] = {}
    for _, _, a, b in candidates:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    ambiguous: set[frozenset[str]] = set()
    unsure: set[str] = set()
    for points, reasons, a, b in candidates:
        if sets.find(a) == sets.find(b) or sets.conflicts(a, b):
            continue
        left, right = sets.members(a), sets.members(b)
        if any(frozenset((x, y)) in unlinked for x in left for y in right):
            continue
        torn = _rivals(sets, neighbours, left, right, unlinked) if contested else set()
        if torn:
            ambiguous.add(frozenset((a, b)))
            unsure |= torn
            continue
        sets.union(a, b)
        links.append(Link(a, b, points / 100, "scored", reasons))
    return _name(records, sets, links, ambiguous, unsure)


def _rivals(
    sets: _Sets,
    neighbours: dict[str, set[str]],
    left: set[str],
    right: set[str],
    unlinked: set[frozenset[str]],
) -> set[str]:
    """The side that also scores with a record it could join instead, which conflicts with the
    other side (the link is then a guess between two people); empty when there is none."""
    for side, opposite in ((left, right), (right, left)):
        own = sets.kinds[sets.find(next(iter(side)))]
        against = sets.kinds[sets.find(next(iter(opposite)))]
        if not against or against <= own:
            continue  # nothing can clash with the other side yet not with this one
        for inside in side:
            for other in neighbours.get(inside, ()):
                if other in left or other in right:
                    continue
                held = sets.kinds[sets.find(other)]
                if _clash(own, held) or not _clash(against, held):
                    continue
                # A human who unlinked the rival from this side has resolved the ambiguity.
                if not unlinked or not any(
                    frozenset((x, y)) in unlinked for x in side for y in sets.members(other)
                ):
                    return side
    return set()


def _name(
    records: Sequence[PersonRecord],
    sets: _Sets,
    links: list[Link],
    ambiguous: set[frozenset[str]],
    unsure: set[str],
) -> tuple[Cluster, ...]:
    by_id = {r.record_id: r for r in records}
    groups: dict[str, set[str]] = {}
    for record in records:
        groups.setdefault(sets.find(record.record_id), set()).add(record.record_id)
    full_names = {
        root: {t for m in members if (t := by_id[m].full_name_dob)}
        for root, members in groups.items()
    }
    claims = {
        root: full_names[root]
        | {t for m in members for _, t in by_id[m].deterministic}
        | {by_id[m].subject for m in members}
        for root, members in groups.items()
    }
    claimed: dict[str, int] = {}
    for tokens in claims.values():
        for token in tokens:
            claimed[token] = claimed.get(token, 0) + 1
    shared = {token for token, count in claimed.items() if count > 1}
    clusters = []
    for root, members in groups.items():
        deterministic = {t for m in members for _, t in by_id[m].deterministic}
        subjects = {by_id[m].subject for m in members} - shared
        names = full_names[root] - shared
        person_id = min(names or deterministic or subjects or {_derived(min(members))})
        own = tuple(link for link in links if link.a in members)
        possible = {x for pair in ambiguous if pair & members for x in pair} - members
        clusters.append(
            Cluster(
                person_id,
                frozenset(members),
                own,
                frozenset(claims[root] - shared) | {person_id},
                frozenset(claims[root] & shared),
                frozenset(possible),
                bool(members & unsure),
            )
        )
    return tuple(sorted(clusters, key=lambda c: (c.person_id, min(c.members))))


def _derived(record_id: str) -> str:
    """A person id for a cluster whose every token is shared with another cluster."""
    digest = hashlib.sha256(record_id.encode()).digest()
    return f"person:{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"
