"""The TLS material of a self-hosted broker: a private CA and a server certificate, made once.

Why generated, not committed: a key in the repository would be a key everyone has. At first start
the local node (and the compose ``credentials`` job) makes a CA of its own and a server
certificate for the names clients use to reach the broker; clients then trust *only* that CA and
check the host name, so SCRAM passwords and partner records never cross the wire in clear and a
listener impersonating the broker is refused. Files (directory ``0700``, keys ``0600``)::

    ca.pem           the CA certificate: what clients trust (``ssl_context`` / truststore)
    ca-key.pem       the CA's private key, kept to re-issue the server certificate
    server.pem       the server certificate followed by the CA certificate (the chain)
    server-key.pem   the server's private key, PKCS#8, unencrypted (Kafka reads it as PEM)

An existing CA is reused; the server certificate is re-issued when it does not name every host
asked for or is within 30 days of expiry.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["TlsFiles", "certificate_hosts", "ensure_tls"]

_CA_DAYS = 3650
_SERVER_DAYS = 825
_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """Where one broker's TLS material lives."""

    directory: Path

    @property
    def ca(self) -> Path:
        """The CA certificate clients trust."""
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        """The CA's private key."""
        return self.directory / "ca-key.pem"

    @property
    def chain(self) -> Path:
        """Server certificate then CA certificate (PEM)."""
        return self.directory / "server.pem"

    @property
    def key(self) -> Path:
        """The server's PKCS#8 private key (PEM, unencrypted)."""
        return self.directory / "server-key.pem"


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _make_ca(files: TlsFiles, now: dt.datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "asbx local broker CA")])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(files.ca_key, _key_pem(key))
    _write(files.ca, cert.public_bytes(serialization.Encoding.PEM))


def _make_server(files: TlsFiles, hosts: Sequence[str], now: dt.datetime) -> None:
    ca_cert = x509.load_pem_x509_certificate(files.ca.read_bytes())
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{files.ca_key} is not the EC key this module writes")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(files.key, _key_pem(key))
    pem = serialization.Encoding.PEM
    _write(files.chain, cert.public_bytes(pem) + ca_cert.public_bytes(pem))


def certificate_hosts(files: TlsFiles) -> set[str]:
    """The host names and addresses the current server certificate is valid for."""
    cert = x509.load_pem_x509_certificate(files.chain.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n.value) for n in names if isinstance(n, x509.DNSName | x509.IPAddress)}


def _server_current(files: TlsFiles, hosts: Sequence[str], now: dt.datetime) -> bool:
    if not (files.chain.is_file() and files.key.is_file()):
        return False
    cert = x509.load_pem_x509_certificate(files.chain.read_bytes())
    ca_cert = x509.load_pem_x509_certificate(files.ca.read_bytes())
    return (
        cert.issuer == ca_cert.subject
        and cert.not_valid_after_utc - now > _RENEW_BEFORE
        and set(hosts) <= certificate_hosts(files)
    )


def ensure_tls(directory: Path, hosts: Sequence[str]) -> TlsFiles:
    """Create (or keep) the CA and a server certificate valid for every name in ``hosts``."""
    if not hosts:
        raise ValueError("a server certificate needs at least one host name")
    files = TlsFiles(directory)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    now = dt.datetime.now(dt.UTC)
    if not (files.ca.is_file() and files.ca_key.is_file()):
        _make_ca(files, now)
        files.chain.unlink(missing_ok=True)
    if not _server_current(files, hosts, now):
        _make_server(files, hosts, now)
    return files
