"""Apply derived ACLs to a cluster so that it converges on them (CreateAcls and DeleteAcls).

Why converge and not only add: permissions follow the data-sharing agreements, so an agreement
withdrawn must take its grants with it on the next apply. For the principals asbx manages (its
partners' and services' own, ``deploy.security.acls.managed_principals``), every ALLOW binding
the current configuration no longer derives is deleted; bindings of any other principal (an
operator's, another system's) are never touched. Creating an ACL that already exists is a
no-op on the broker, so applying on every set-up is idempotent.

Why a raw request: aiokafka's admin client has no ACL methods, but it speaks the protocol and
ships the request structures. Run as a principal allowed to alter ACLs (the local node's
``admin`` super user).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    DeleteAclsRequest_v1,
    DescribeAclsRequest,
)
from aiokafka.protocol.api import Request

from deploy.kafka_client import client_config_from_env, local_credentials_file
from deploy.security.acls import (
    DEFAULT_CORRELATOR_IDS,
    Acl,
    acls_from_config,
    managed_principals,
)

__all__ = [
    "AclError",
    "Binding",
    "acls_in_force",
    "ensure_acls",
    "ensure_local_acls",
    "local_node_in_use",
]

_ANY_HOST = "*"
_ANY = 1
_ALLOW = 3
#: How long to wait for the broker to enforce what the controller has committed.
SETTLE_SECONDS = 30.0

log = structlog.get_logger(__name__)

#: One ALLOW binding as the broker reports it: (type, name, pattern, principal, operation).
Binding = tuple[int, str, int, str, int]


class AclError(RuntimeError):
    """The cluster refused to create an ACL."""


class _CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]  # untyped base
    """Many ACL creations in one request (aiokafka's own request carries just one)."""

    API_KEY = 30

    def __init__(self, acls: Sequence[Acl]) -> None:
        self._acls = acls

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class(
            [
                (
                    int(acl.resource),
                    acl.name,
                    int(acl.pattern),
                    acl.kafka_principal,
                    _ANY_HOST,
                    int(acl.operation),
                    _ALLOW,
                )
                for acl in self._acls
            ]
        )


class _DeleteAcls(Request[DeleteAclsRequest_v1]):  # type: ignore[misc]  # untyped base
    """Delete exactly the given ALLOW bindings (any host), in one request."""

    API_KEY = 31

    def __init__(self, bindings: Sequence[Binding]) -> None:
        self._bindings = bindings

    def build(self, request_struct_class: type[DeleteAclsRequest_v1]) -> DeleteAclsRequest_v1:
        return request_struct_class(
            [
                (rtype, name, pattern, principal, None, operation, _ALLOW)
                for rtype, name, pattern, principal, operation in self._bindings
            ]
        )


def _binding(acl: Acl) -> Binding:
    return (int(acl.resource), acl.name, int(acl.pattern), acl.kafka_principal, int(acl.operation))


async def ensure_acls(
    bootstrap: str,
    acls: Sequence[Acl],
    client_config: dict[str, Any] | None = None,
    managed: Collection[str] = (),
) -> int:
    """Create every ACL in ``acls`` and delete stale ones of ``managed``; return the count.

    ``managed`` names the principals (``housing``, not ``User:housing``) whose ALLOW bindings
    must be exactly those in ``acls``: any other binding of theirs is deleted. Principals not
    named keep whatever they have.
    """
    if not acls and not managed:
        return 0
    if client_config is None:
        client_config = client_config_from_env()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config)
    await admin.start()
    try:
        if acls:
            response = await admin._send_request(_CreateAcls(acls))  # no public ACL API
            for acl, (code, message) in zip(acls, response.creation_responses, strict=True):
                if code:
                    name = for_code(code).__name__
                    raise AclError(
                        f"creating {acl} failed: {name} ({code}) {message or ''}".strip()
                    )
        stale = await _remove_stale(admin, acls, managed)
        await _settle(admin, acls, stale)
    finally:
        await admin.close()
    log.info("acls.applied", count=len(acls), removed=len(stale))
    return len(acls)


async def _remove_stale(
    admin: AIOKafkaAdminClient, acls: Sequence[Acl], managed: Collection[str]
) -> set[Binding]:
    """Delete the ALLOW bindings of ``managed`` principals that ``acls`` does not hold."""
    if not managed:
        return set()
    names = {f"User:{name}" for name in managed}
    wanted = {_binding(acl) for acl in acls}
    stale = {b for b in await _in_force(admin) if b[3] in names and b not in wanted}
    if not stale:
        return stale
    ordered = sorted(stale)
    response = await admin._send_request(_DeleteAcls(ordered))  # no public ACL API
    for binding, (code, message, _matches) in zip(ordered, response.filter_responses, strict=True):
        if code:
            name = for_code(code).__name__
            raise AclError(f"deleting {binding} failed: {name} ({code}) {message or ''}".strip())
    for binding in ordered:
        log.info("acls.removed", binding=binding)
    return stale


async def _in_force(admin: AIOKafkaAdminClient) -> set[Binding]:
    """Every ALLOW rule the broker serves now, as (type, name, pattern, principal, operation)."""
    request = DescribeAclsRequest(_ANY, None, _ANY, None, None, _ANY, _ANY)
    response = await admin._send_request(request)  # no public ACL API
    if response.error_code:
        name = for_code(response.error_code).__name__
        raise AclError(f"describing ACLs failed: {name} {response.error_message or ''}".strip())
    return {
        (rtype, rname, pattern, principal, operation)
        for rtype, rname, pattern, rules in response.resources
        for principal, _host, operation, permission in rules
        if permission == _ALLOW
    }


async def _settle(
    admin: AIOKafkaAdminClient, acls: Sequence[Acl], removed: Collection[Binding] = ()
) -> None:
    """Wait until the broker enforces every ACL in ``acls`` and none of ``removed``.

    In KRaft the controller acknowledges CreateAcls/DeleteAcls before the broker's authorizer
    has applied the change, so a client starting right after could still see the old rules.
    """
    wanted = {_binding(a) for a in acls}
    deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
    while True:
        current = await _in_force(admin)
        missing, lingering = wanted - current, current & set(removed)
        if not missing and not lingering:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AclError(
                f"{len(missing)} ACL(s) not in force and {len(lingering)} not yet removed "
                f"after {SETTLE_SECONDS}s"
            )
        await asyncio.sleep(0.2)


async def acls_in_force(bootstrap: str, client_config: dict[str, Any]) -> set[Binding]:
    """Every ALLOW binding the cluster enforces now (for operators' checks and tests)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config)
    await admin.start()
    try:
        return await _in_force(admin)
    finally:
        await admin.close()


def local_node_in_use(env: Mapping[str, str] | None = None) -> bool:
    """Whether clients connect to the local node with its generated credentials."""
    env = os.environ if env is None else env
    external = env.get("KAFKA_SECURITY_PROTOCOL") or "KAFKA_SASL_USERNAME" in env
    return not external and local_credentials_file(env).exists()


async def ensure_local_acls(
    bootstrap: str,
    correlator_ids: Iterable[str] = DEFAULT_CORRELATOR_IDS,
    extra: Sequence[Acl] = (),
) -> int:
    """On the local node, converge on the ACLs derived from the agreements (as ``admin``).

    A no-op for an external cluster: its operators apply ACLs with ``asbx acls``, as a principal
    that may alter them. ``extra`` adds grants beyond the derived set (tests' own topics);
    ``correlator_ids`` must name every correlator deployment on the node, as grants for others
    are removed.
    """
    if not local_node_in_use():
        return 0
    acls = [*acls_from_config(correlator_ids=correlator_ids), *extra]
    return await ensure_acls(bootstrap, acls, client_config_from_env(), managed_principals())
