"""The broker permissions derived from topics and agreements (pure, no broker)."""

from __future__ import annotations

from contracts.topics import ALERTS, AUDIT, CANONICAL_EVENTS, inbound_topic, rejected_topic
from deploy.security.acls import (
    ADMIN,
    AUDIT_ARCHIVER,
    CORRELATOR,
    WEB,
    Acl,
    Operation,
    Pattern,
    Resource,
    acls_from_config,
    derive_acls,
    managed_principals,
    principals,
)

PARTNERS = ("housing", "health", "police")
ACLS = derive_acls(PARTNERS, ["police", "lead_agency"])


def allowed(principal: str, resource: Resource, name: str, op: Operation) -> bool:
    """Whether any rule lets ``principal`` do ``op`` on ``name`` (literal or prefix match)."""
    return any(
        acl.principal == principal
        and acl.resource == resource
        and acl.operation == op
        and (name == acl.name if acl.pattern == Pattern.LITERAL else name.startswith(acl.name))
        for acl in ACLS
    )


def test_partner_writes_only_its_own_inbound_topic() -> None:
    """Each partner may write its inbound topic and no other topic at all."""
    for partner in PARTNERS:
        written = {
            a.name for a in ACLS if a.principal == partner and a.operation == Operation.WRITE
        }
        assert written == {inbound_topic(partner)}


def test_partner_reads_only_its_rejected_topic_and_permitted_alerts() -> None:
    """Housing and health read only their rejected topic; police also reads the alerts."""
    for partner in PARTNERS:
        read = {
            a.name
            for a in ACLS
            if a.principal == partner
            and a.resource == Resource.TOPIC
            and a.operation == Operation.READ
        }
        expected = {rejected_topic(partner)} | ({ALERTS.name} if partner == "police" else set())
        assert read == expected


def test_no_partner_reads_inbound_canonical_or_audit_topics() -> None:
    """Plaintext inbound data and canonical/audit topics are closed to every partner."""
    for partner in PARTNERS:
        for topic in [*map(inbound_topic, PARTNERS), CANONICAL_EVENTS.name, AUDIT.name]:
            assert not allowed(partner, Resource.TOPIC, topic, Operation.READ)


def test_alert_readers_follow_the_alert_audiences() -> None:
    """A partner reads alerts exactly when its audience is one the alerts are sealed for.

    Besides partners, only asbx's own consumers read alerts: the audited disclosure identity
    (which runs the subscriber client) and the web process (IG review, case pages).
    """
    acls = derive_acls(PARTNERS, ["housing", "lead_agency"])
    readers = {a.principal for a in acls if a.name == ALERTS.name and a.operation == Operation.READ}
    assert readers == {"housing", "chronology", WEB}


def test_normaliser_reads_only_its_partners_inbound_topic() -> None:
    """The housing normaliser reads housing inbound, never another partner's."""
    assert allowed("normaliser-housing", Resource.TOPIC, inbound_topic("housing"), Operation.READ)
    assert not allowed(
        "normaliser-housing", Resource.TOPIC, inbound_topic("police"), Operation.READ
    )
    assert allowed("normaliser-housing", Resource.GROUP, "asbx-housing-normaliser", Operation.READ)
    assert allowed("normaliser-housing", Resource.TOPIC, CANONICAL_EVENTS.name, Operation.WRITE)
    assert not allowed("normaliser-housing", Resource.TOPIC, CANONICAL_EVENTS.name, Operation.READ)
    assert allowed(
        "normaliser-housing",
        Resource.TRANSACTIONAL_ID,
        "asbx-housing-normaliser.asbx.inbound.housing.v1.0",
        Operation.WRITE,
    )
    assert not allowed(
        "normaliser-housing",
        Resource.TRANSACTIONAL_ID,
        "asbx-police-normaliser.asbx.inbound.police.v1.0",
        Operation.WRITE,
    )


def test_correlator_owns_its_deployment_prefix_only() -> None:
    """Groups, transactional ids and internal topics are granted under the deployment id."""
    acls = derive_acls(PARTNERS, ["police"], correlator_ids=["area-a"])
    assert (
        Acl(CORRELATOR, Resource.TRANSACTIONAL_ID, "area-a", Pattern.PREFIXED, Operation.WRITE)
        in acls
    )
    assert (
        Acl(CORRELATOR, Resource.TOPIC, "asbx.internal.area-a", Pattern.PREFIXED, Operation.CREATE)
        in acls
    )
    assert not any(a.principal == CORRELATOR and "inbound" in a.name for a in acls)


def test_audit_archiver_only_reads_audit() -> None:
    """The archiver's whole grant is reading (and describing) the audit topic."""
    grants = {(a.name, a.operation) for a in ACLS if a.principal == AUDIT_ARCHIVER}
    assert grants == {(AUDIT.name, Operation.READ), (AUDIT.name, Operation.DESCRIBE)}


def test_partner_without_agreement_gets_nothing() -> None:
    """Dropping a partner's agreement drops every permission of it and its normaliser."""
    acls = derive_acls(["housing"], ["police"])
    assert not any(a.principal in {"police", "normaliser-police"} for a in acls)


def test_nobody_but_admin_may_create_shared_topics() -> None:
    """No ACL lets any principal create a topic outside the correlator's own prefix."""
    creates = [a for a in ACLS if a.operation == Operation.CREATE]
    assert creates
    assert all(a.principal == CORRELATOR and a.name.startswith("asbx.internal.") for a in creates)
    assert ADMIN not in {a.principal for a in ACLS}


def test_principals_cover_partners_services_and_admin() -> None:
    """Credentials are made for admin, every partner and every service."""
    names = principals(PARTNERS)
    assert names[0] == ADMIN
    assert {"housing", "normaliser-health", CORRELATOR, AUDIT_ARCHIVER} <= set(names)
    assert len(names) == len(set(names))


def test_web_reads_its_read_model_and_writes_only_casework_and_audit() -> None:
    """The web process never touches inbound or rejected topics and writes no alerts or events."""
    writes = {a.name for a in ACLS if a.principal == WEB and a.operation == Operation.WRITE}
    reads = {a.name for a in ACLS if a.principal == WEB and a.operation == Operation.READ}
    assert writes == {"asbx.casework.v1", AUDIT.name, "asbx-casework-"}
    assert reads == {"asbx.casework.v1", AUDIT.name, ALERTS.name, CANONICAL_EVENTS.name}
    assert not any(a.principal == WEB and a.resource == Resource.GROUP for a in ACLS)


def test_managed_principals_include_partners_without_an_agreement() -> None:
    """Convergence owns every declared partner's grants, even one whose agreement is withdrawn."""
    managed = set(managed_principals())
    assert {"housing", "health", "police", "normaliser-police", CORRELATOR} <= managed
    assert managed >= {a.principal for a in ACLS}
    assert "ops-observer" not in managed


def test_repository_agreements_derive_the_default_acls() -> None:
    """The checked-in agreements give the three partners, police reading alerts."""
    assert acls_from_config() == ACLS
