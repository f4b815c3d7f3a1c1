"""Every denial the broker's ACLs promise, proved against the real (local, authenticated) node.

Each case connects as the principal in question with its generated SCRAM credentials and tries
the operation for real: a produce, a fetch, a topic creation, a group join, a transactional
producer. The allowed paths are checked too, so a denial cannot pass just because nothing works.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailed,
)
from aiokafka.helpers import create_ssl_context

from contracts.topics import ALERTS, AUDIT, CANONICAL_EVENTS, CASEWORK, PARTNERS, inbound_topic
from contracts.topics import rejected_topic as rejected
from deploy.kafka_client import client_config_from_env
from deploy.security.acls import (
    AUDIT_ARCHIVER,
    CHRONOLOGY,
    CORRELATOR,
    DEFAULT_CORRELATOR_IDS,
    WEB,
    Acl,
    Operation,
    Pattern,
    Resource,
    acls_from_config,
    managed_principals,
    normaliser_principal,
)
from deploy.security.apply import acls_in_force, ensure_acls, ensure_local_acls, local_node_in_use
from deploy.security.tls import ensure_tls
from deploy.topics import ensure_topics
from services.sharing.agreements import DEFAULT_AGREEMENTS
from tests.integration.acl_checks import can_read_with
from tests.integration.faults import ThrowawayBroker
from tests.kafka_fixture import (
    TEST_CORRELATOR_PREFIX,
    TEST_GRANTS,
    Broker,
    broker_client_config,
    client_config_as,
)

pytestmark = pytest.mark.kafka

_AUTHORIZATION_FAILED = 29
OTHERS = [(p, o) for p in PARTNERS for o in PARTNERS if o != p]


@pytest.fixture
def bootstrap(kafka_broker: Broker) -> str:
    """The session broker, if it is the local node whose credentials and ACLs asbx manages."""
    if not local_node_in_use():
        pytest.skip("broker security is asserted on the local authenticated node only")
    return kafka_broker.bootstrap


async def can_write(bootstrap: str, principal: str, topic: str) -> bool:
    """Produce one record as ``principal``; False if the broker refuses the topic."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", **client_config_as(principal)
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"broker-security-probe", key=b"security-probe")
    except TopicAuthorizationFailedError:
        return False
    finally:
        await producer.stop()
    return True


async def can_read(bootstrap: str, principal: str, topic: str) -> bool:
    """Fetch from partition 0 as ``principal``; False if the broker refuses the topic."""
    return await can_read_with(bootstrap, client_config_as(principal), topic)


async def create_topic(bootstrap: str, principal: str, name: str) -> int:
    """Ask to create ``name`` as ``principal``; the broker's error code (0 = created)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config_as(principal))
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(name, 1, 1)])
    finally:
        await admin.close()
    code = int(response.topic_errors[0][1])
    if code == 0:  # tidy up as admin: no service may delete topics
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **broker_client_config())
        await admin.start()
        try:
            await admin.delete_topics([name])
        finally:
            await admin.close()
    return code


@pytest.mark.parametrize("partner", PARTNERS)
async def test_partner_writes_its_own_inbound_topic(bootstrap: str, partner: str) -> None:
    """A partner may publish to its own inbound topic."""
    assert await can_write(bootstrap, partner, inbound_topic(partner))


@pytest.mark.parametrize(("partner", "other"), OTHERS)
async def test_partner_cannot_write_another_partners_inbound_topic(
    bootstrap: str, partner: str, other: str
) -> None:
    """A partner cannot publish into another partner's inbound topic."""
    assert not await can_write(bootstrap, partner, inbound_topic(other))


@pytest.mark.parametrize("partner", PARTNERS)
@pytest.mark.parametrize("topic", [CANONICAL_EVENTS.name, ALERTS.name, AUDIT.name, "rejected"])
async def test_partner_cannot_forge_shared_records(
    bootstrap: str, partner: str, topic: str
) -> None:
    """A partner cannot write canonical events, alerts, audit records or its own rejections."""
    topic = rejected(partner) if topic == "rejected" else topic
    assert not await can_write(bootstrap, partner, topic)


@pytest.mark.parametrize("partner", PARTNERS)
async def test_partner_reads_its_own_rejected_topic(bootstrap: str, partner: str) -> None:
    """A partner may read why its own messages were refused."""
    assert await can_read(bootstrap, partner, rejected(partner))


@pytest.mark.parametrize(("partner", "other"), OTHERS)
async def test_partner_cannot_read_another_partners_topics(
    bootstrap: str, partner: str, other: str
) -> None:
    """Another partner's inbound (plaintext) and rejected topics are closed to a partner."""
    assert not await can_read(bootstrap, partner, inbound_topic(other))
    assert not await can_read(bootstrap, partner, rejected(other))


@pytest.mark.parametrize("partner", PARTNERS)
async def test_partner_cannot_read_canonical_or_audit(bootstrap: str, partner: str) -> None:
    """Canonical events and the audit trail are for services and IG, not partners."""
    assert not await can_read(bootstrap, partner, CANONICAL_EVENTS.name)
    assert not await can_read(bootstrap, partner, AUDIT.name)


@pytest.mark.parametrize(("partner", "allowed"), [("police", True), ("housing", False)])
async def test_alerts_are_read_only_where_the_agreement_allows(
    bootstrap: str, partner: str, allowed: bool
) -> None:
    """Police read trigger alerts; housing (not an alert audience) cannot."""
    assert await can_read(bootstrap, partner, ALERTS.name) is allowed
    if partner == "housing":
        assert not await can_read(bootstrap, "health", ALERTS.name)


@pytest.mark.parametrize("partner", PARTNERS)
async def test_partner_cannot_create_topics(bootstrap: str, partner: str) -> None:
    """Topic creation is refused to partners (auto-creation is off, and no ACL grants it)."""
    name = f"asbx.inbound.{partner}.v2-{uuid.uuid4().hex[:6]}"
    assert await create_topic(bootstrap, partner, name) == _AUTHORIZATION_FAILED


async def test_partner_follows_its_rejected_topic_in_its_own_group(bootstrap: str) -> None:
    """A partner may use consumer groups named after itself (``housing.*``)."""
    consumer = AIOKafkaConsumer(
        rejected("housing"),
        bootstrap_servers=bootstrap,
        group_id=f"housing.rejections-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        **client_config_as("housing"),
    )
    try:
        await asyncio.wait_for(consumer.start(), timeout=30)
        await consumer.getmany(timeout_ms=500)
    finally:
        await consumer.stop()


async def test_partner_cannot_join_a_service_consumer_group(bootstrap: str) -> None:
    """A partner cannot join (and so disturb) a normaliser's consumer group."""
    consumer = AIOKafkaConsumer(
        rejected("housing"),
        bootstrap_servers=bootstrap,
        group_id="asbx-housing-normaliser",
        **client_config_as("housing"),
    )
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await asyncio.wait_for(consumer.start(), timeout=30)
    finally:
        await consumer.stop()


async def test_partner_cannot_use_the_correlators_transactional_ids(bootstrap: str) -> None:
    """Fencing the correlator's transactions with its transactional id is refused."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id="asbx-correlator.routes.asbx.canonical.events.v1.0",
        **client_config_as("police"),
    )
    with pytest.raises(TransactionalIdAuthorizationFailed):
        await producer.start()
    await producer.stop()


@pytest.mark.parametrize(
    ("principal", "topic"),
    [
        (normaliser_principal("housing"), inbound_topic("housing")),
        (CORRELATOR, CANONICAL_EVENTS.name),
        (AUDIT_ARCHIVER, AUDIT.name),
        (CHRONOLOGY, CANONICAL_EVENTS.name),
        (WEB, AUDIT.name),
        (WEB, ALERTS.name),
        (WEB, CANONICAL_EVENTS.name),
        (WEB, CASEWORK.name),
    ],
)
async def test_service_reads_its_own_inputs(bootstrap: str, principal: str, topic: str) -> None:
    """Each service may read what it consumes (the allowed side of the denials below)."""
    assert await can_read(bootstrap, principal, topic)


@pytest.mark.parametrize(
    ("principal", "topic"),
    [
        (normaliser_principal("housing"), inbound_topic("police")),
        (normaliser_principal("housing"), CANONICAL_EVENTS.name),
        (CORRELATOR, inbound_topic("health")),
        (CORRELATOR, AUDIT.name),
        (AUDIT_ARCHIVER, CANONICAL_EVENTS.name),
        (CHRONOLOGY, inbound_topic("housing")),
        (WEB, inbound_topic("health")),
        (WEB, rejected("police")),
    ],
)
async def test_service_cannot_read_what_it_does_not_use(
    bootstrap: str, principal: str, topic: str
) -> None:
    """Each service reads only its own inputs: no plaintext inbound, no others' outputs."""
    assert not await can_read(bootstrap, principal, topic)


@pytest.mark.parametrize(
    ("principal", "topic"),
    [
        (normaliser_principal("health"), ALERTS.name),
        (normaliser_principal("health"), rejected("police")),
        (CORRELATOR, CANONICAL_EVENTS.name),
        (AUDIT_ARCHIVER, AUDIT.name),
        (CHRONOLOGY, ALERTS.name),
        (WEB, inbound_topic("housing")),
        (WEB, ALERTS.name),
        (WEB, CANONICAL_EVENTS.name),
    ],
)
async def test_service_cannot_write_what_it_does_not_produce(
    bootstrap: str, principal: str, topic: str
) -> None:
    """A service writes only its own outputs: the archiver cannot even append to the audit."""
    assert not await can_write(bootstrap, principal, topic)


async def test_correlator_creates_only_its_internal_topics(bootstrap: str) -> None:
    """The correlator may create topics under its deployment prefix and nowhere else."""
    own = f"asbx.internal.asbx-correlator.probe-{uuid.uuid4().hex[:6]}.v1"
    assert await create_topic(bootstrap, CORRELATOR, own) == 0
    shared = f"asbx.canonical.probe-{uuid.uuid4().hex[:6]}.v1"
    assert await create_topic(bootstrap, CORRELATOR, shared) == _AUTHORIZATION_FAILED


async def _connect(bootstrap: str, config: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000, **config)
    try:
        await producer.start()
    finally:
        await producer.stop()


async def test_wrong_password_is_refused(bootstrap: str) -> None:
    """A partner principal with a wrong password cannot connect at all."""
    config = client_config_as("housing") | {"sasl_plain_password": "not-the-password"}
    with pytest.raises(KafkaConnectionError):
        await _connect(bootstrap, config)


async def test_unknown_principal_is_refused(bootstrap: str) -> None:
    """A user name with no SCRAM credentials on the broker cannot connect."""
    config = client_config_as("housing") | {"sasl_plain_username": "mallory"}
    with pytest.raises(KafkaConnectionError):
        await _connect(bootstrap, config)


async def test_unauthenticated_client_is_refused(bootstrap: str) -> None:
    """A PLAINTEXT client (no TLS, no SASL) gets no metadata, let alone data."""
    with pytest.raises(KafkaConnectionError):
        await _connect(bootstrap, {})


async def test_right_password_over_tls_connects(bootstrap: str) -> None:
    """The generated password over TLS trusting the node's CA is let in (the control case)."""
    config = client_config_as("housing")
    assert config["security_protocol"] == "SASL_SSL"
    await _connect(bootstrap, config)


async def test_sasl_without_tls_is_refused(bootstrap: str) -> None:
    """The right SCRAM password without TLS is refused: the listener speaks TLS only."""
    config = client_config_as("housing")
    del config["ssl_context"]
    with pytest.raises(KafkaConnectionError):
        await _connect(bootstrap, config | {"security_protocol": "SASL_PLAINTEXT"})


async def test_client_not_trusting_the_node_ca_is_refused(bootstrap: str, tmp_path: Path) -> None:
    """A client trusting another CA rejects the broker's certificate before sending a password."""
    stranger = ensure_tls(tmp_path / "other-ca", ["localhost", "127.0.0.1"])
    config = client_config_as("housing") | {"ssl_context": create_ssl_context(cafile=stranger.ca)}
    with pytest.raises(KafkaConnectionError):
        await _connect(bootstrap, config)


async def test_client_checks_the_broker_host_name(bootstrap: str) -> None:
    """The broker's certificate names only the node's addresses: another name fails the check."""
    context = client_config_as("housing")["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    host, _, port = bootstrap.rpartition(":")
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection(host, int(port), ssl=context, server_hostname="kafka.example")


@pytest_asyncio.fixture
async def own_broker(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ThrowawayBroker]:
    """A broker for one test alone: its ACL changes and probe records reach no other test."""
    broker = ThrowawayBroker(tmp_path_factory.mktemp("acl-kafka"))
    await asyncio.to_thread(broker.start)
    try:
        with broker.credentials_in_env():
            await ensure_topics(broker.bootstrap)
            ids = [*DEFAULT_CORRELATOR_IDS, TEST_CORRELATOR_PREFIX]
            await ensure_local_acls(broker.bootstrap, ids, TEST_GRANTS)
            yield broker
    finally:
        await asyncio.to_thread(broker.stop)


async def test_withdrawn_agreement_loses_its_grants_on_the_next_apply(
    own_broker: ThrowawayBroker, tmp_path: Path
) -> None:
    """Re-applying after a partner's agreement is withdrawn denies what it could do before.

    An operator's own grant (a principal asbx does not manage) survives the convergence.

    On a broker of its own. Withdrawing the health grants on the session broker pulled them
    from under the session's running health normaliser, whose consumer does not survive a
    GroupAuthorizationFailedError (aiokafka's coordinator task ends): every later test that
    sent a health message timed out (the `test_canary` failures of earlier runs). On the
    fault tests' broker, its probe records became input to their normalisers.
    """
    bootstrap = own_broker.bootstrap
    ids = [*DEFAULT_CORRELATOR_IDS, TEST_CORRELATOR_PREFIX]
    admin = client_config_from_env()
    outsider = Acl("ops-observer", Resource.TOPIC, AUDIT.name, Pattern.LITERAL, Operation.DESCRIBE)
    await ensure_acls(bootstrap, [outsider], admin)
    assert await can_write(bootstrap, "health", inbound_topic("health"))
    config = yaml.safe_load(DEFAULT_AGREEMENTS.read_text())
    del config["agreements"]["health"]
    narrowed = tmp_path / "agreements.yaml"
    narrowed.write_text(yaml.safe_dump(config))
    try:
        wanted = [*acls_from_config(narrowed, correlator_ids=ids), *TEST_GRANTS]
        await ensure_acls(bootstrap, wanted, admin, managed_principals())
        assert not await can_write(bootstrap, "health", inbound_topic("health"))
        assert not await can_read(
            bootstrap, normaliser_principal("health"), inbound_topic("health")
        )
        assert await can_write(bootstrap, "housing", inbound_topic("housing"))
        in_force = await acls_in_force(bootstrap, admin)
        assert not any(b[3] in {"User:health", "User:normaliser-health"} for b in in_force)
        assert (2, AUDIT.name, 3, "User:ops-observer", 8) in in_force
    finally:
        await ensure_local_acls(bootstrap, ids, TEST_GRANTS)
        await ensure_acls(bootstrap, [], admin, managed=["ops-observer"])
    assert await can_write(bootstrap, "health", inbound_topic("health"))


async def test_web_records_casework_and_disclosures_in_its_own_transactions(
    bootstrap: str,
) -> None:
    """The web process may write casework and audit in transactions under its own ids.

    The probe transaction is aborted, so no reader of the shared topics ever sees it.
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id=f"asbx-casework-probe-{uuid.uuid4().hex[:6]}",
        **client_config_as(WEB),
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        await producer.send_and_wait(CASEWORK.name, b"{}", key=b"security-probe")
        await producer.send_and_wait(AUDIT.name, b"{}", key=b"security-probe")
        await producer.abort_transaction()
    finally:
        await producer.stop()


async def test_web_cannot_use_anothers_transactional_ids(bootstrap: str) -> None:
    """The web principal cannot fence a normaliser's transactions."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        transactional_id="asbx-housing-normaliser-0",
        **client_config_as(WEB),
    )
    with pytest.raises(TransactionalIdAuthorizationFailed):
        await producer.start()
    await producer.stop()
