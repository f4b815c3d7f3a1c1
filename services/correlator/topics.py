"""The correlator's internal topics, created by the correlator itself (like Kafka Streams).

Repartition topics re-key canonical events: by person blocking key (so every mention of a
person, whichever partner sent it, lands on one partition) and by linked location. Changelog
topics are compacted copies of each stage's state, partition for partition. Internal topics are
an implementation detail of one correlator deployment, so their names carry its id.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.topics import SEVEN_YEARS, KeyKind, TopicSpec

__all__ = ["CorrelatorTopics"]


@dataclass(frozen=True)
class CorrelatorTopics:
    """Names and specs of one deployment's internal topics."""

    correlator_id: str
    partitions: int

    def _name(self, what: str) -> str:
        return f"asbx.internal.{self.correlator_id}.{what}.v1"

    @property
    def person_mentions(self) -> str:
        """Canonical events re-keyed by person blocking key."""
        return self._name("person-mentions")

    @property
    def place_mentions(self) -> str:
        """Canonical events re-keyed by linked location."""
        return self._name("place-mentions")

    def changelog(self, stage: str) -> str:
        """Compacted state of one stage."""
        return self._name(f"{stage}-changelog")

    @property
    def dead_letter(self) -> str:
        """Records a stage could not process, kept with the error for operators."""
        return self._name("dead-letter")

    def specs(self) -> list[TopicSpec]:
        """Every internal topic, ready for ``deploy.topics.ensure_topics``."""
        mentions = [
            TopicSpec(
                name=n,
                purpose="Correlator repartition.",
                key=KeyKind.SUBJECT_TOKEN,
                partitions=self.partitions,
                retention_ms=SEVEN_YEARS,
            )
            for n in (self.person_mentions, self.place_mentions)
        ]
        changelogs = [
            TopicSpec(
                name=self.changelog(stage),
                purpose=f"Correlator {stage} state.",
                key=KeyKind.SUBJECT_TOKEN,
                partitions=self.partitions,
                cleanup_policy="compact",
                retention_ms=-1,
                max_message_bytes=16 * 1024 * 1024,
            )
            for stage in ("routes", "person", "place")
        ]
        dead = TopicSpec(
            name=self.dead_letter,
            purpose="Correlator dead letters.",
            key=KeyKind.SUBJECT_TOKEN,
            partitions=1,
            retention_ms=SEVEN_YEARS,
            max_message_bytes=16 * 1024 * 1024,
        )
        return [*mentions, *changelogs, dead]
