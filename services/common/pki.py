"""A controller's own certificate authority, and the certificates it gives its parts.

Each controller has a CA of its own, made once when its stores are first set up. The gateway and
each service get a certificate signed by it that names their **role** (`gateway`, `placement`,
`access`, `offers`, `relations`) and the addresses they are reached at, so that a server knows
which part of which controller calls it and a client knows it reached the controller it trusts.

- Keys are ECDSA P-256 (every gRPC TLS stack speaks it), written 0600 and never overwritten; a
  key file that group or others may read is refused, with what to do about it.
- The role travels twice: as the certificate's common name, and as a URI subject alternative
  name `urn:cmr:role:<role>` that a server reads from the handshake's peer certificate.
- A CA certificate's fingerprint (SHA-256 of its DER form, colon-separated hex) is what a user
  compares when a client first meets a controller.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kernel import errors

ROLES: Final = ("gateway", "placement", "access", "offers", "relations")
"""Who may hold a certificate of a controller: its gateway and its four services."""
ROLE_URI: Final = "urn:cmr:role:"
"""Prefix of the URI subject alternative name that names a certificate's role."""
CA_CERT: Final = "ca.crt"
CA_KEY: Final = "ca.key"
CA_DAYS: Final = 10 * 365
"""How long a controller's CA is valid."""
LEAF_DAYS: Final = 825
"""How long a part's certificate is valid; re-issue it to rotate."""


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its private key, both PEM."""

    cert: bytes
    key: bytes


def fingerprint(cert_pem: bytes) -> str:
    """The SHA-256 fingerprint of a certificate, as `AB:CD:...` (what a user compares)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def role_of(cert_pem: bytes) -> str:
    """The role a certificate names (its `urn:cmr:role:` SAN), or "" when it names none."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ""
    for uri in sans.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(ROLE_URI):
            return uri.removeprefix(ROLE_URI)
    return ""


def check_key_file(path: Path) -> None:
    """Refuse a private key file that group or others may read or write.

    Raises:
        Refused: naming the file's mode and the `chmod` that fixes it.
    """
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise errors.Refused(
            f"private key {path.name} is readable by group or others (mode {mode:04o}); "
            f"run: chmod 600 {path}"
        )


def write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only; an existing file is never replaced.

    Raises:
        AlreadyExists: the file exists.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise errors.AlreadyExists(
            f"{path.name} exists already; remove it to make a new one"
        ) from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _san(address: str) -> x509.GeneralName:
    """An address as a subject alternative name: an IP address, else a DNS name."""
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
    host = host.strip("[]")
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


class ControllerCA:
    """A controller's CA: its certificate and key under one directory."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.cert = cert
        self._key = key

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate, PEM: what clients and peers trust."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        """The CA certificate's SHA-256 fingerprint."""
        return fingerprint(self.cert_pem)

    @classmethod
    def ensure(cls, directory: Path, controller: str) -> ControllerCA:
        """The CA kept in `directory`, made there first if there is none.

        Raises:
            Refused: its key file is readable by group or others.
        """
        cert_path, key_path = directory / CA_CERT, directory / CA_KEY
        if cert_path.exists() and key_path.exists():
            return cls.load(directory)
        directory.mkdir(parents=True, exist_ok=True)
        made = cls.new(controller)
        write_private(key_path, _key_pem(made._key))
        cert_path.write_bytes(made.cert_pem)
        return made

    @classmethod
    def load(cls, directory: Path) -> ControllerCA:
        """The CA kept in `directory`.

        Raises:
            Refused: its key file is readable by group or others.
        """
        key_path = directory / CA_KEY
        check_key_file(key_path)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise errors.Refused(f"{key_path.name} is not an ECDSA key")
        cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
        return cls(cert, key)

    @classmethod
    def new(cls, controller: str) -> ControllerCA:
        """A new CA for controller `controller` (its name goes into the CA's subject)."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cmr"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"cmr controller {controller} CA"),
            ]
        )
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
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
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    def issue(self, role: str, addresses: Sequence[str]) -> Issued:
        """A certificate for one part of the controller, valid as server and as client.

        Args:
            role: one of `ROLES`.
            addresses: `host[:port]`s it is reached at; each host goes in as an IP address or a
                DNS name. `localhost` and 127.0.0.1 are always in.

        Raises:
            Invalid: an unknown role.
        """
        if role not in ROLES:
            raise errors.Invalid(f'role "{role}" not valid: expected one of {", ".join(ROLES)}')
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(ROLE_URI + role)]
        for one in (*addresses, "localhost", "127.0.0.1"):
            san = _san(one)
            if san not in names:
                names.append(san)
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cmr"),
                        x509.NameAttribute(NameOID.COMMON_NAME, role),
                    ]
                )
            )
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return Issued(cert=cert.public_bytes(serialization.Encoding.PEM), key=_key_pem(key))

    def issue_to(self, directory: Path, role: str, addresses: Sequence[str]) -> Issued:
        """Issue a part's certificate and keep it in `directory` (`<role>.crt`, `<role>.key`).

        An existing pair is kept: re-issue by removing it first.

        Raises:
            Invalid: an unknown role.
            Refused: an existing key file is readable by group or others.
        """
        cert_path, key_path = directory / f"{role}.crt", directory / f"{role}.key"
        if cert_path.exists() and key_path.exists():
            check_key_file(key_path)
            return Issued(cert=cert_path.read_bytes(), key=key_path.read_bytes())
        issued = self.issue(role, addresses)
        directory.mkdir(parents=True, exist_ok=True)
        key_path.unlink(missing_ok=True)
        write_private(key_path, issued.key)
        cert_path.write_bytes(issued.cert)
        return issued
