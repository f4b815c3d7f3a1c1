"""The broker's generated CA and server certificate (no broker needed)."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from deploy.security.compose_secrets import BROKER_HOSTS, write_compose_secrets
from deploy.security.tls import certificate_hosts, ensure_tls


def test_material_is_owner_only(tmp_path: Path) -> None:
    """The directory is 0700 and every file in it 0600: keys never readable by others."""
    files = ensure_tls(tmp_path / "tls", ["localhost", "127.0.0.1"])
    assert stat.S_IMODE(files.directory.stat().st_mode) == 0o700
    for path in (files.ca, files.ca_key, files.chain, files.key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_server_certificate_is_signed_by_the_ca_for_the_hosts(tmp_path: Path) -> None:
    """The chain's leaf names every host and verifies against the CA; the key is plain PKCS#8."""
    files = ensure_tls(tmp_path / "tls", ["localhost", "127.0.0.1"])
    leaf, ca_in_chain = x509.load_pem_x509_certificates(files.chain.read_bytes())
    ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
    assert ca_in_chain == ca
    leaf.verify_directly_issued_by(ca)
    assert certificate_hosts(files) == {"localhost", "127.0.0.1"}
    assert files.key.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.public_key() == leaf.public_key()


def test_material_is_reused_and_reissued_only_for_new_hosts(tmp_path: Path) -> None:
    """A second start keeps everything; a new host name re-issues the leaf under the same CA."""
    files = ensure_tls(tmp_path / "tls", ["localhost"])
    ca, chain = files.ca.read_bytes(), files.chain.read_bytes()
    ensure_tls(tmp_path / "tls", ["localhost"])
    assert (files.ca.read_bytes(), files.chain.read_bytes()) == (ca, chain)
    ensure_tls(tmp_path / "tls", ["localhost", "kafka"])
    assert files.ca.read_bytes() == ca
    assert certificate_hosts(files) == {"localhost", "kafka"}


def test_compose_broker_certificate_names_every_address(tmp_path: Path) -> None:
    """The compose broker is reached as kafka (services) and localhost (the host's port)."""
    write_compose_secrets(tmp_path)
    files = ensure_tls(tmp_path / "tls", BROKER_HOSTS)
    assert certificate_hosts(files) == set(BROKER_HOSTS)
    assert (tmp_path / "tls" / "server.p12").is_file()
    env = (tmp_path / "tls" / "broker-tls.env").read_text()
    assert "KAFKA_SSL_KEYSTORE_PASSWORD=" in env
    assert stat.S_IMODE((tmp_path / "tls" / "broker-tls.env").stat().st_mode) == 0o600
