"""A small stateful stream-processing engine on aiokafka: state stores, changelogs, transactions.

One concept per module, after Kafka Streams and Quix Streams: ``store`` (keyed state of one
partition, in memory), ``local_store`` (the same on disk, checkpointed against the changelog),
``changelog`` (its durable, compacted copy and recovery), ``engine`` (the
consume-process-produce loop committing output, state and input offsets in one transaction).
"""
