"""Kafka ACLs derived from the topic declarations and the data-sharing agreements.

Why derived, not hand-written: the agreements say which partner shares with whom and the topic
list says where each flow lives, so the broker's permissions follow from them. A partner added to
the agreements gets its own narrow set; one removed gets none. Everything not granted here is
denied (the broker runs ``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``),
so the rules below are the whole of what each principal may do:

- a partner writes only its inbound topic, reads only its own rejected topic, and reads the
  alerts topic only if its audience is one the alerts are sealed for (police by default);
- each normaliser reads its partner's inbound topic and writes canonical, rejected, audit and its
  own seen-table; the correlator reads canonical and writes alerts and audit, and owns the
  internal topics, groups and transactional ids named after its deployment id;
- the audit archiver only reads the audit topic; the chronology tool reads canonical events and
  writes the audit record of each disclosure;
- the web process (IG review and casework pages, ``asbx web``) reads the audit, alerts,
  canonical and casework topics for its read model, and writes casework events with their audit
  records and the audit record of every disclosure, in transactions of its own; it never sees an
  inbound or rejected topic, and joins no consumer group (it reads by assignment);
- ``admin`` is the broker's super user (topic and ACL set-up, operators' tools) and needs no ACL.

Plain data, no Kafka import: the adapter that applies these is ``deploy.security.apply``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

from contracts.topics import (
    ALERTS,
    AUDIT,
    CANONICAL_EVENTS,
    CASEWORK,
    PARTNERS,
    inbound_topic,
    rejected_topic,
)
from contracts.topics import seen_topic as seen_topic_of

__all__ = [
    "ADMIN",
    "AUDIT_ARCHIVER",
    "CHRONOLOGY",
    "CORRELATOR",
    "DEFAULT_CORRELATOR_IDS",
    "WEB",
    "WEB_TRANSACTIONS",
    "Acl",
    "Operation",
    "Pattern",
    "Resource",
    "acls_from_config",
    "derive_acls",
    "managed_principals",
    "normaliser_principal",
    "partner_principal",
    "principals",
]

ADMIN = "admin"
CORRELATOR = "correlator"
AUDIT_ARCHIVER = "audit-archiver"
CHRONOLOGY = "chronology"
WEB = "web"
#: Prefix of the web process's transactional ids (one per casework or disclosure write).
WEB_TRANSACTIONS = "asbx-casework-"
#: The correlator deployment id used unless ``ASBX_CORRELATOR_ID`` names another.
DEFAULT_CORRELATOR_IDS = ("asbx-correlator",)


class Resource(IntEnum):
    """Kafka resource types (wire codes of the CreateAcls request)."""

    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5


class Pattern(IntEnum):
    """How the resource name matches: exactly, or as a prefix."""

    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """Kafka ACL operations (wire codes) that asbx grants."""

    READ = 3
    WRITE = 4
    CREATE = 5
    DESCRIBE = 8
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule: ``principal`` may do ``operation`` on a resource."""

    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    @property
    def kafka_principal(self) -> str:
        """The principal as the broker names it (SCRAM user names map to ``User:<name>``)."""
        return f"User:{self.principal}"


def partner_principal(partner: str) -> str:
    """The principal a partner's own system connects as."""
    return partner


def normaliser_principal(partner: str) -> str:
    """The principal of the service normalising ``partner``'s messages."""
    return f"normaliser-{partner}"


def _topic(principal: str, name: str, *ops: Operation, prefixed: bool = False) -> list[Acl]:
    pattern = Pattern.PREFIXED if prefixed else Pattern.LITERAL
    return [Acl(principal, Resource.TOPIC, name, pattern, op) for op in (*ops, Operation.DESCRIBE)]


def _group(principal: str, name: str, *, prefixed: bool = False) -> list[Acl]:
    pattern = Pattern.PREFIXED if prefixed else Pattern.LITERAL
    return [
        Acl(principal, Resource.GROUP, name, pattern, op)
        for op in (Operation.READ, Operation.DESCRIBE)
    ]


def _partner(partner: str, reads_alerts: bool) -> list[Acl]:
    who = partner_principal(partner)
    acls = [
        *_topic(who, inbound_topic(partner), Operation.WRITE),
        *_topic(who, rejected_topic(partner), Operation.READ),
        # A partner may follow its rejected topic (and alerts) with consumer groups of its own.
        *_group(who, f"{partner}.", prefixed=True),
    ]
    if reads_alerts:
        acls += _topic(who, ALERTS.name, Operation.READ)
    return acls


def _normaliser(partner: str) -> list[Acl]:
    who = normaliser_principal(partner)
    return [
        *_topic(who, inbound_topic(partner), Operation.READ),
        *_group(who, f"asbx-{partner}-normaliser"),
        *_topic(who, seen_topic_of(partner), Operation.READ, Operation.WRITE),
        *_topic(who, CANONICAL_EVENTS.name, Operation.WRITE),
        *_topic(who, rejected_topic(partner), Operation.WRITE),
        *_topic(who, AUDIT.name, Operation.WRITE),
        # Outputs and the input offset commit in one transaction per input partition.
        *(
            Acl(who, Resource.TRANSACTIONAL_ID, f"asbx-{partner}-normaliser", Pattern.PREFIXED, op)
            for op in (Operation.WRITE, Operation.DESCRIBE)
        ),
    ]


def _correlator(correlator_ids: Iterable[str]) -> list[Acl]:
    acls = [
        *_topic(CORRELATOR, CANONICAL_EVENTS.name, Operation.READ),
        *_topic(CORRELATOR, ALERTS.name, Operation.WRITE),
        *_topic(CORRELATOR, AUDIT.name, Operation.WRITE),
    ]
    for cid in correlator_ids:
        # Internal topics are created and configured by the correlator itself (like Streams).
        acls += _topic(
            CORRELATOR,
            f"asbx.internal.{cid}",
            Operation.CREATE,
            Operation.READ,
            Operation.WRITE,
            Operation.DESCRIBE_CONFIGS,
            Operation.ALTER_CONFIGS,
            prefixed=True,
        )
        acls += _group(CORRELATOR, cid, prefixed=True)
        acls += [
            Acl(CORRELATOR, Resource.TRANSACTIONAL_ID, cid, Pattern.PREFIXED, op)
            for op in (Operation.WRITE, Operation.DESCRIBE)
        ]
    return acls


def derive_acls(
    partners: Iterable[str],
    alert_audiences: Iterable[str],
    correlator_ids: Iterable[str] = DEFAULT_CORRELATOR_IDS,
) -> list[Acl]:
    """Every ALLOW rule for ``partners`` (those with an agreement), sorted and unique.

    ``alert_audiences`` are the audiences alerts are sealed for: a partner reads the alerts topic
    only if its own audience is among them. ``correlator_ids`` are the deployment ids (used as
    prefixes) whose internal topics, groups and transactional ids the correlator owns.
    """
    partners = sorted(set(partners))
    audiences = set(alert_audiences)
    acls: list[Acl] = []
    for partner in partners:
        acls += _partner(partner, reads_alerts=partner in audiences)
        acls += _normaliser(partner)
    acls += _correlator(correlator_ids)
    acls += _topic(AUDIT_ARCHIVER, AUDIT.name, Operation.READ)
    acls += _topic(CHRONOLOGY, CANONICAL_EVENTS.name, Operation.READ)
    acls += _topic(CHRONOLOGY, AUDIT.name, Operation.WRITE)
    # The audited disclosure identity also runs the subscriber client: it takes alerts in
    # consumer groups of its own and opens the events they name.
    acls += _topic(CHRONOLOGY, ALERTS.name, Operation.READ)
    acls += _group(CHRONOLOGY, "asbx-subscriber-", prefixed=True)
    acls += _web()
    return sorted(set(acls))


def _web() -> list[Acl]:
    return [
        *_topic(WEB, AUDIT.name, Operation.READ, Operation.WRITE),
        *_topic(WEB, CASEWORK.name, Operation.READ, Operation.WRITE),
        *_topic(WEB, ALERTS.name, Operation.READ),
        *_topic(WEB, CANONICAL_EVENTS.name, Operation.READ),
        *(
            Acl(WEB, Resource.TRANSACTIONAL_ID, WEB_TRANSACTIONS, Pattern.PREFIXED, op)
            for op in (Operation.WRITE, Operation.DESCRIBE)
        ),
    ]


def principals(partners: Iterable[str]) -> list[str]:
    """Every principal that needs credentials: admin, each partner and service."""
    partners = sorted(set(partners))
    return [
        ADMIN,
        *(partner_principal(p) for p in partners),
        *(normaliser_principal(p) for p in partners),
        CORRELATOR,
        AUDIT_ARCHIVER,
        CHRONOLOGY,
        WEB,
    ]


def managed_principals() -> list[str]:
    """The principals whose grants asbx owns: every declared partner's and service's.

    A partner dropped from the agreements is still managed (its grants are removed); a principal
    asbx never names (an operator's, another system's) is not, and its ACLs are left alone.
    """
    return principals(PARTNERS)


def acls_from_config(
    agreements_file: Path | None = None, correlator_ids: Iterable[str] = DEFAULT_CORRELATOR_IDS
) -> list[Acl]:
    """The ACLs for the agreements in force (``ASBX_AGREEMENTS_FILE`` or the default file)."""
    from services.correlator.domain.alerts import ALERT_AUDIENCES  # noqa: PLC0415 - heavy
    from services.sharing.agreements import load  # noqa: PLC0415 - yaml and pydantic

    partners = [partner.value for partner in load(agreements_file).agreements]
    return derive_acls(partners, [a.value for a in ALERT_AUDIENCES], correlator_ids)
