"""The compose file wires every service to one Apache Kafka 4.x KRaft broker.

Checked statically (no Docker engine on the machines that run these tests, so the stack itself
cannot be started here) because a wrong bootstrap address or a missing health
dependency only shows up as services crash-looping at start-up.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = {
    "housing-normaliser": "housing",
    "health-normaliser": "health",
    "police-normaliser": "police",
    "correlator": "correlator",
}
PRINCIPALS = {
    "housing-normaliser": "normaliser-housing",
    "health-normaliser": "normaliser-health",
    "police-normaliser": "normaliser-police",
    "correlator": "correlator",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _command(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else str(command)


def test_kafka_is_apache_kafka_4_in_kraft_mode(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    image, _, tag = kafka["image"].partition(":")
    assert image == "apache/kafka"
    assert tag.split(".")[0] == "4"
    env = _env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert "INTERNAL://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert int(env["KAFKA_MESSAGE_MAX_BYTES"]) >= 32 * 1024 * 1024
    assert "test" in kafka["healthcheck"]


@pytest.mark.parametrize(("name", "target"), APP_SERVICES.items())
def test_service_uses_kafka_once_healthy(compose: dict[str, Any], name: str, target: str) -> None:
    service = compose["services"][name]
    assert _command(service) == f"asbx serve {target}"
    assert _env(service)["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert "asbx-keys:/app/var/keys" in service["volumes"]
    assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_every_listener_requires_sasl_and_acls_are_enforced(compose: dict[str, Any]) -> None:
    """Clients use SASL_SSL, only the controller is SASL_PLAINTEXT; ACLs deny by default."""
    env = _env(compose["services"]["kafka"])
    protocols = dict(
        item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    names = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    assert names == set(protocols)
    assert protocols.pop(env["KAFKA_CONTROLLER_LISTENER_NAMES"]) == "SASL_PLAINTEXT"
    assert set(protocols.values()) == {"SASL_SSL"}
    advertised = {item.split("://")[0] for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    assert advertised == set(protocols)  # the controller is never offered to clients
    assert env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("authorizer.StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_SUPER_USERS"] == "User:admin"
    assert "--command-config /secrets/admin.properties" in _command(
        {"command": compose["services"]["kafka"]["healthcheck"]["test"]}
    )


def test_credentials_are_generated_at_first_start_not_committed(compose: dict[str, Any]) -> None:
    """A one-shot job writes the secrets volume; the file itself holds no password."""
    job = compose["services"]["credentials"]
    assert "python -m deploy.security.compose_secrets /secrets" in _command(job)
    assert "asbx-secrets" in compose["volumes"]
    kafka = compose["services"]["kafka"]
    assert kafka["depends_on"]["credentials"]["condition"] == "service_completed_successfully"
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"password\s*[=:]", text, re.IGNORECASE)


def test_broker_tls_material_is_generated_and_trusted(compose: dict[str, Any]) -> None:
    """The broker's keystore and CA come from the secrets volume; its password is not inline."""
    kafka = compose["services"]["kafka"]
    env = _env(kafka)
    assert env["KAFKA_SSL_KEYSTORE_LOCATION"] == "/secrets/tls/server.p12"
    assert env["KAFKA_SSL_KEYSTORE_TYPE"] == "PKCS12"
    assert (env["KAFKA_SSL_TRUSTSTORE_TYPE"], env["KAFKA_SSL_TRUSTSTORE_LOCATION"]) == (
        "PEM",
        "/secrets/tls/ca.pem",
    )
    assert env["KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM"] == "https"
    assert ". /secrets/tls/broker-tls.env" in _command(kafka)
    assert "/secrets/tls/server.p12" in _command(compose["services"]["credentials"])


@pytest.mark.parametrize("name", [*APP_SERVICES, "topics"])
def test_clients_trust_the_stacks_own_ca(compose: dict[str, Any], name: str) -> None:
    """Every asbx container verifies the broker against the generated CA."""
    assert _env(compose["services"][name])["ASBX_KAFKA_CAFILE"] == "/secrets/tls/ca.pem"


@pytest.mark.parametrize(("name", "principal"), PRINCIPALS.items())
def test_each_service_connects_as_its_own_principal(
    compose: dict[str, Any], name: str, principal: str
) -> None:
    """A service container sees only its own principal's credentials file."""
    env = _env(compose["services"][name])
    assert env["ASBX_KAFKA_CREDENTIALS"] == f"/secrets/users/{principal}.json"
    assert "asbx-secrets:/secrets:ro" in compose["services"][name]["volumes"]


def test_topics_are_created_before_services_start(compose: dict[str, Any]) -> None:
    topics = compose["services"]["topics"]
    assert _command(topics) == "asbx topics"
    assert _env(topics)["ASBX_KAFKA_CREDENTIALS"] == "/secrets/credentials.json"
    assert _env(topics)["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert topics["restart"] == "no"
    assert {"kafka-data", "asbx-keys"} <= set(compose["volumes"])
