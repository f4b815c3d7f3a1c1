"""Every Kafka topic asbx uses, declared as code.

The declarations are plain data so that the deployment tooling, the services, the AsyncAPI
document and the tests all read one list. Creating them on a cluster is an adapter's job
(`deploy.topics`).

Why these numbers:
- Inbound and rejected data is kept for the six-month correlation window plus a margin for late
  events and replays (`WINDOW_PLUS_MARGIN`).
- Canonical events and alerts outlive the window: lead officers build chronologies from them.
  Their personal fields are sealed, so retention of *content* ends by crypto-shredding keys, not
  by deleting log segments.
- Inbound and rejected topics accept records up to 16 MiB so that an oversized partner message can
  still be read, refused with a reason, and kept as evidence instead of being lost at the broker.
- Partitions are how instances of one service share the work, and nothing more: one process
  gains nothing from a second partition, and each partition's records are committed in their
  own Kafka transaction. The partner, canonical-event and alert topics (``shared_by_instances``)
  can therefore be created with as many partitions as instances will ever share them
  (`sized_for`, ``ASBX_PARTITIONS``); the declared counts (three per partner, six for
  canonical events and alerts) leave room for that many.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

__all__ = [
    "ALERTS",
    "AUDIT",
    "CANONICAL_EVENTS",
    "CASEWORK",
    "DAY_MS",
    "MAX_PARTNER_RECORD_BYTES",
    "PARTNERS",
    "SEVEN_YEARS",
    "TOPICS",
    "WINDOW_PLUS_MARGIN",
    "KeyKind",
    "TopicSpec",
    "inbound_topic",
    "rejected_topic",
    "seen_topic",
    "sized_for",
]

DAY_MS = 24 * 60 * 60 * 1000
#: Six calendar months is at most 184 days; add a month for late events and replays.
WINDOW_PLUS_MARGIN = 215 * DAY_MS
SEVEN_YEARS = 7 * 366 * DAY_MS
#: Largest record a partner-facing topic stores (oversized input is kept, then rejected).
MAX_PARTNER_RECORD_BYTES = 16 * 1024 * 1024
#: Rejected records wrap the original bytes (sealed, base64) so they need more room.
MAX_REJECTED_RECORD_BYTES = 32 * 1024 * 1024

PARTNERS = ("housing", "health", "police")


class KeyKind(StrEnum):
    """What a topic's record key is, so a reader knows how records are partitioned."""

    PARTNER_MESSAGE_ID = "partner message id (as the partner sends it)"
    SUBJECT_TOKEN = "subject token (keyed HMAC of the primary person or place)"  # noqa: S105
    MESSAGE_DIGEST = "SHA-256 of the partner message id"
    AUDIT_STREAM = "audit stream name (one ordered stream per service)"
    CASE_ID = "case id (one case review, e.g. case-<uuid>)"


@dataclass(frozen=True, kw_only=True)
class TopicSpec:
    """One topic: its name, layout and retention, and what its key means."""

    name: str
    purpose: str
    key: KeyKind
    partitions: int = 3
    replication_factor: int = 1
    retention_ms: int = WINDOW_PLUS_MARGIN
    cleanup_policy: str = "delete"
    max_message_bytes: int = 1024 * 1024
    plaintext_personal_data: bool = False
    #: Keyed records that instances of one service share out by partition, so the partition
    #: count is a deployment's choice (``sized_for``) rather than fixed here.
    shared_by_instances: bool = False
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        """Topic-level configuration as Kafka expects it."""
        cfg = {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            "max.message.bytes": str(self.max_message_bytes),
            "min.insync.replicas": str(min(2, self.replication_factor)),
        }
        cfg.update(self.extra_config)
        return cfg


def inbound_topic(partner: str) -> str:
    """The topic a partner publishes its own messages to."""
    return f"asbx.inbound.{partner}.v1"


def rejected_topic(partner: str) -> str:
    """Where a partner's refused messages go, sealed, with a machine-readable reason."""
    return f"asbx.rejected.{partner}.v1"


def seen_topic(partner: str) -> str:
    """Compacted record of partner message ids already normalised (redelivery detection)."""
    return f"asbx.state.{partner}-normaliser.seen.v1"


CANONICAL_EVENTS = TopicSpec(
    name="asbx.canonical.events.v1",
    purpose="Normalised events under the shared contracts; personal fields sealed, ids tokenised.",
    key=KeyKind.SUBJECT_TOKEN,
    partitions=6,
    retention_ms=SEVEN_YEARS,
    shared_by_instances=True,
)
ALERTS = TopicSpec(
    name="asbx.alerts.v1",
    purpose="Case-review alerts for police and the lead agency.",
    key=KeyKind.SUBJECT_TOKEN,
    partitions=6,
    retention_ms=SEVEN_YEARS,
    shared_by_instances=True,
)
AUDIT = TopicSpec(
    name="asbx.audit.v1",
    purpose="Append-only audit records of every exchange, for information governance.",
    key=KeyKind.AUDIT_STREAM,
    partitions=1,
    retention_ms=-1,
)
CASEWORK = TopicSpec(
    name="asbx.casework.v1",
    purpose="Case-review lifecycle and OSARA records (objective, responses, assessment); "
    "free text sealed for the case's audiences.",
    key=KeyKind.CASE_ID,
    partitions=3,
    retention_ms=SEVEN_YEARS,
)


def _partner_topics(partner: str) -> list[TopicSpec]:
    return [
        TopicSpec(
            name=inbound_topic(partner),
            purpose=f"Messages exactly as the {partner} partner sends them.",
            key=KeyKind.PARTNER_MESSAGE_ID,
            max_message_bytes=MAX_PARTNER_RECORD_BYTES,
            plaintext_personal_data=True,
            shared_by_instances=True,
        ),
        TopicSpec(
            name=rejected_topic(partner),
            purpose=f"Refused {partner} messages, with reason and sealed original.",
            key=KeyKind.MESSAGE_DIGEST,
            max_message_bytes=MAX_REJECTED_RECORD_BYTES,
        ),
        TopicSpec(
            name=seen_topic(partner),
            purpose=f"Which {partner} message ids were normalised, and their content digest.",
            key=KeyKind.MESSAGE_DIGEST,
            cleanup_policy="compact",
            retention_ms=-1,
        ),
    ]


TOPICS: tuple[TopicSpec, ...] = (
    *(spec for partner in PARTNERS for spec in _partner_topics(partner)),
    CANONICAL_EVENTS,
    ALERTS,
    CASEWORK,
    AUDIT,
)


def sized_for(
    partitions: int | None, specs: tuple[TopicSpec, ...] = TOPICS
) -> tuple[TopicSpec, ...]:
    """``specs`` with the topics instances share out given ``partitions`` (``None``: as declared).

    Only topics not yet created take the count: Kafka cannot take partitions away, and adding
    some would move keys (and with them the correlator's state) to other partitions.
    """
    if partitions is None:
        return specs
    if partitions < 1:
        raise ValueError(f"a topic needs at least one partition, not {partitions}")
    return tuple(
        replace(spec, partitions=partitions) if spec.shared_by_instances else spec for spec in specs
    )
