"""The transactional producer of one input partition, as every stage and normaliser makes it.

Its ``transactional.id`` is derived from the consumer group and the input partition, so the
next owner of the partition (after a rebalance or a crash) fences this one and aborts its open
transaction. Settings beyond Kafka's defaults, measured with ``tests.benchmarks.pipeline`` and a
transaction round-trip probe against the local Kafka 4.3 node; each removes a wait that is not
work:

* ``retry_backoff_ms``: Kafka 4 checks, before appending a transactional record, that its
  partition is in the producer's transaction (KIP-890). Right after a commit the previous
  transaction's markers may still be being written, and a client of aiokafka's produce request
  version is told ``NOT_ENOUGH_REPLICAS``, a retriable error: aiokafka then sleeps its retry
  backoff, 100 ms by default, before sending again. This happens on most transactions of a busy
  partition, so it set the tail of every stage's commit time. 20 ms retries as soon as the
  markers are likely written; the check itself stays on (it is what prevents a late retry from
  joining a later transaction). aiokafka logs each such retry as a warning ("Got error produce
  response ... NotEnoughReplicasError, retrying"); on a single node it can only be this check.
* ``max_batch_size``: aiokafka keeps one open batch per partition and makes ``send`` wait
  until a full batch has been taken by the sender, a round trip per 16 KiB (the default) of a
  transaction's records to one partition. 512 KiB holds a stage's batch for a partition in one
  produce request and stays under the topics' 1 MiB ``max.message.bytes``; a record larger than
  that still goes alone in its own batch.
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

__all__ = ["partition_producer"]


def partition_producer(
    bootstrap: str,
    group_id: str,
    tp: TopicPartition,
    client_config: dict[str, Any],
    max_request_size: int = 32 * 1024 * 1024,
) -> AIOKafkaProducer:
    """An unstarted producer for the transactions of ``tp`` read by ``group_id``."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=f"{group_id}.{tp.topic}.{tp.partition}",
        enable_idempotence=True,
        acks="all",
        max_request_size=max_request_size,
        retry_backoff_ms=20,
        max_batch_size=512 * 1024,
        **client_config,
    )
