"""Generated broker credentials and the client settings made from them (no broker needed)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from deploy.kafka_client import client_config_from_env
from deploy.security.compose_secrets import write_compose_secrets
from deploy.security.credentials import CredentialsError, ensure_credentials, read_credentials
from deploy.security.tls import ensure_tls


def test_credentials_are_owner_only_and_stable(tmp_path: Path) -> None:
    """The file is created 0600, and a second call returns the same passwords."""
    path = tmp_path / "credentials.json"
    first = ensure_credentials(path, ["admin", "housing"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_credentials(path, ["admin", "housing"]) == first
    assert len(set(first.values())) == 2
    assert all(len(password) >= 32 for password in first.values())


def test_new_principal_is_added_without_changing_others(tmp_path: Path) -> None:
    """A principal added later gets a password; existing ones keep theirs."""
    path = tmp_path / "credentials.json"
    first = ensure_credentials(path, ["admin"])
    both = ensure_credentials(path, ["admin", "police"])
    assert both["admin"] == first["admin"]
    assert read_credentials(path) == both


def test_local_client_logs_in_as_the_principal_it_names(tmp_path: Path) -> None:
    """With the local file, a client gets SCRAM-SHA-512 over TLS for its own principal."""
    path = tmp_path / "credentials.json"
    users = ensure_credentials(path, ["admin", "normaliser-housing"])
    ensure_tls(tmp_path / "tls", ["localhost"])
    env = {"ASBX_KAFKA_CREDENTIALS": str(path)}
    config = client_config_from_env(env, principal="normaliser-housing")
    context = config.pop("ssl_context")
    assert config == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "normaliser-housing",
        "sasl_plain_password": users["normaliser-housing"],
    }
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "asbx local broker CA"),),)
    ]
    assert client_config_from_env(env)["sasl_plain_username"] == "admin"


def test_local_client_needs_the_node_ca(tmp_path: Path) -> None:
    """Without the node's CA certificate the client refuses to start rather than skip TLS."""
    path = tmp_path / "credentials.json"
    ensure_credentials(path, ["admin"])
    with pytest.raises(CredentialsError, match="CA certificate"):
        client_config_from_env({"ASBX_KAFKA_CREDENTIALS": str(path)})


def test_local_ca_can_live_elsewhere(tmp_path: Path) -> None:
    """ASBX_KAFKA_CAFILE points clients at a CA kept apart from the credentials (compose)."""
    path = tmp_path / "users" / "correlator.json"
    ensure_credentials(path, ["correlator"])
    files = ensure_tls(tmp_path / "shared-tls", ["kafka"])
    env = {"ASBX_KAFKA_CREDENTIALS": str(path), "ASBX_KAFKA_CAFILE": str(files.ca)}
    config = client_config_from_env(env, principal="correlator")
    assert config["security_protocol"] == "SASL_SSL"


def test_unknown_local_principal_is_a_clear_error(tmp_path: Path) -> None:
    """Asking for a principal the file does not hold names it, instead of connecting as admin."""
    path = tmp_path / "credentials.json"
    ensure_credentials(path, ["admin"])
    with pytest.raises(CredentialsError, match="'correlator'"):
        client_config_from_env({"ASBX_KAFKA_CREDENTIALS": str(path)}, principal="correlator")


def test_external_cluster_settings_win_over_local_credentials(tmp_path: Path) -> None:
    """KAFKA_SECURITY_PROTOCOL means an external cluster: its variables, not the local file."""
    path = tmp_path / "credentials.json"
    ensure_credentials(path, ["admin"])
    env = {
        "ASBX_KAFKA_CREDENTIALS": str(path),
        "KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
        "KAFKA_SASL_MECHANISM": "scram-sha-512",
        "KAFKA_SASL_USERNAME": "svc-housing",
        "KAFKA_SASL_PASSWORD": "from-the-vault",
    }
    config = client_config_from_env(env, principal="normaliser-housing")
    assert config["sasl_plain_username"] == "svc-housing"
    assert config["security_protocol"] == "SASL_PLAINTEXT"


def test_no_credentials_file_means_plaintext(tmp_path: Path) -> None:
    """Without a local credentials file or KAFKA_* settings the client uses PLAINTEXT."""
    assert client_config_from_env({"ASBX_KAFKA_HOME": str(tmp_path)}) == {}


def test_compose_secrets_give_each_service_only_its_own_password(tmp_path: Path) -> None:
    """Per-principal files hold one password each; the broker files hold admin logins only."""
    users = write_compose_secrets(tmp_path)
    for name, password in users.items():
        data = json.loads((tmp_path / "users" / f"{name}.json").read_text())
        assert data["users"] == {name: password}
    jaas = (tmp_path / "kafka_server_jaas.conf").read_text()
    assert jaas.count("KafkaServer {") == 3
    assert users["housing"] not in jaas
    assert (tmp_path / "scram-args").read_text().count("--add-scram") == len(users)
    assert "security.protocol=SASL_SSL" in (tmp_path / "admin.properties").read_text()
    ca = (tmp_path / "tls" / "ca.pem").read_bytes()
    assert write_compose_secrets(tmp_path) == users
    assert (tmp_path / "tls" / "ca.pem").read_bytes() == ca  # kept across restarts
