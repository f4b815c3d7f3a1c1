"""Casework on Kafka: recording events with their audit records, and reading a case back.

A casework event and its audit record go out in one Kafka transaction (acks from all in-sync
replicas, idempotent producer), so there is never recorded work without its audit record, or an
audit record of work that was not recorded. Disclosures are audited the same way before the
page or the bundle is handed over. Readers use ``read_committed``, so an aborted transaction is
never seen.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from contracts.audit import AuditRecord
from contracts.casework import CaseworkEvent
from contracts.topics import AUDIT, CASEWORK
from deploy.kafka_client import client_config_from_env
from deploy.security.acls import WEB, WEB_TRANSACTIONS
from services.casework.records import casework_audit_record
from services.kafka.reader import read_all

__all__ = ["AUDIT_STREAM", "CaseworkStore", "casework_headers"]

AUDIT_STREAM = b"casework"
_log = structlog.get_logger(__name__)


def casework_headers(event: CaseworkEvent) -> list[tuple[str, bytes]]:
    """CloudEvents binary-mode headers, as canonical events carry them."""
    return [
        ("ce_specversion", event.specversion.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", event.time.isoformat().encode()),
        ("ce_subject", event.subject.encode()),
        ("content-type", event.datacontenttype.encode()),
    ]


class CaseworkStore:
    """Publishes casework and disclosures (each in its own transaction); reads casework back."""

    def __init__(
        self,
        bootstrap: str,
        client_config: dict[str, Any] | None = None,
        topic: str = CASEWORK.name,
        audit_topic: str = AUDIT.name,
    ) -> None:
        self._bootstrap = bootstrap
        self._config = (
            client_config if client_config is not None else client_config_from_env(principal=WEB)
        )
        self.topic = topic
        self.audit_topic = audit_topic

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AIOKafkaProducer]:
        """A producer for one transaction: casework is recorded a few times a day, so a
        connection per write keeps no client open in the web process between requests."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=True,
            transactional_id=f"{WEB_TRANSACTIONS}{uuid.uuid4()}",
            **self._config,
        )
        await producer.start()
        try:
            async with producer.transaction():
                yield producer
        finally:
            await producer.stop()

    async def record(self, event: CaseworkEvent) -> AuditRecord:
        """Publish ``event`` and its audit record atomically; returns the audit record."""
        audit = casework_audit_record(event)
        async with self._transaction() as producer:
            await producer.send(
                self.topic,
                event.model_dump_json().encode(),
                key=event.case_id.encode(),
                headers=casework_headers(event),
            )
            await producer.send(
                self.audit_topic, audit.model_dump_json().encode(), key=AUDIT_STREAM
            )
        _log.info("casework_recorded", kind=event.data.kind, case_id=event.case_id)
        return audit

    async def audit(self, record: AuditRecord) -> None:
        """Publish one audit record (a disclosure) and wait until it is committed."""
        async with self._transaction() as producer:
            await producer.send(
                self.audit_topic, record.model_dump_json().encode(), key=AUDIT_STREAM
            )

    async def read(self, case_id: str | None = None) -> list[CaseworkEvent]:
        """Every committed casework event (of one case, if given); malformed records are logged
        with their offset and skipped, never taken as casework."""
        found = []
        for raw in await read_all(self._bootstrap, self.topic, self._config):
            try:
                event = CaseworkEvent.model_validate_json(raw.value or b"")
            except ValidationError:
                _log.warning("casework_malformed", partition=raw.partition, offset=raw.offset)
                continue
            if case_id is None or event.case_id == case_id:
                found.append(event)
        return found
