"""Apply derived ACLs to a cluster (CreateAcls through aiokafka's admin connection).

Why a raw request: aiokafka's admin client has no ACL methods, but it speaks the protocol and
ships the CreateAcls request structures. Creating an ACL that already exists is a no-op on the
broker, so applying the full set on every set-up is idempotent. Run as a principal allowed to
alter ACLs (the local node's ``admin`` super user).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest_v1, DescribeAclsRequest
from aiokafka.protocol.api import Request

from deploy.kafka_client import client_config_from_env, local_credentials_file
from deploy.security.acls import DEFAULT_CORRELATOR_IDS, Acl, acls_from_config

__all__ = ["AclError", "ensure_acls", "ensure_local_acls", "local_node_in_use"]

_ANY_HOST = "*"
_ANY = 1
_ALLOW = 3
#: How long to wait for the broker to enforce what the controller has committed.
SETTLE_SECONDS = 30.0

log = structlog.get_logger(__name__)


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


async def ensure_acls(
    bootstrap: str, acls: Sequence[Acl], client_config: dict[str, Any] | None = None
) -> int:
    """Create every ACL in ``acls`` (existing ones are left as they are); return the count."""
    if not acls:
        return 0
    if client_config is None:
        client_config = client_config_from_env()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_config)
    await admin.start()
    try:
        response = await admin._send_request(_CreateAcls(acls))  # no public ACL API
        for acl, (code, message) in zip(acls, response.creation_responses, strict=True):
            if code:
                name = for_code(code).__name__
                raise AclError(f"creating {acl} failed: {name} ({code}) {message or ''}".strip())
        await _settle(admin, acls)
    finally:
        await admin.close()
    log.info("acls.applied", count=len(acls))
    return len(acls)


async def _in_force(admin: AIOKafkaAdminClient) -> set[tuple[int, str, int, str, int]]:
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


async def _settle(admin: AIOKafkaAdminClient, acls: Sequence[Acl]) -> None:
    """Wait until the broker enforces every ACL in ``acls``.

    In KRaft the controller acknowledges CreateAcls before the broker's authorizer has applied
    the change, so a client starting right after could still be refused.
    """
    wanted = {
        (int(a.resource), a.name, int(a.pattern), a.kafka_principal, int(a.operation)) for a in acls
    }
    deadline = asyncio.get_running_loop().time() + SETTLE_SECONDS
    while missing := wanted - await _in_force(admin):
        if asyncio.get_running_loop().time() > deadline:
            raise AclError(f"{len(missing)} ACL(s) not in force after {SETTLE_SECONDS}s")
        await asyncio.sleep(0.2)


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
    """On the local node, apply the ACLs derived from the agreements (as ``admin``).

    A no-op for an external cluster: its operators apply ACLs with ``asbx acls``, as a principal
    that may alter them. ``extra`` adds grants beyond the derived set (tests' own topics).
    """
    if not local_node_in_use():
        return 0
    acls = [*acls_from_config(correlator_ids=correlator_ids), *extra]
    return await ensure_acls(bootstrap, acls, client_config_from_env())
