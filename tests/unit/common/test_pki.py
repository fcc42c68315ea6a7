"""A controller's CA and its parts' certificates: made once, private keys private, roles named."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from kernel import errors
from services.common import pki


def test_the_ca_is_made_once_and_found_again(tmp_path: Path) -> None:
    made = pki.ControllerCA.ensure(tmp_path, "ctrl")
    again = pki.ControllerCA.ensure(tmp_path, "ctrl")
    assert again.fingerprint == made.fingerprint
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", made.fingerprint)
    assert made.cert.subject.rfc4514_string() == "CN=cmr controller ctrl CA,O=cmr"
    assert oct((tmp_path / pki.CA_KEY).stat().st_mode & 0o777) == "0o600"


def test_a_part_is_certified_by_its_controllers_ca_with_its_role_and_addresses(
    tmp_path: Path,
) -> None:
    ca = pki.ControllerCA.ensure(tmp_path, "ctrl")
    issued = ca.issue("placement", ["10.0.0.7:17071", "placement.internal:17071"])
    cert = x509.load_pem_x509_certificate(issued.cert)
    cert.verify_directly_issued_by(ca.cert)
    assert pki.role_of(issued.cert) == "placement"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("10.0.0.7"),
        ipaddress.ip_address("127.0.0.1"),
    }
    assert set(sans.get_values_for_type(x509.DNSName)) == {"placement.internal", "localhost"}


def test_another_controllers_ca_did_not_certify_a_part(tmp_path: Path) -> None:
    ours = pki.ControllerCA.ensure(tmp_path / "ours", "ctrl")
    theirs = pki.ControllerCA.ensure(tmp_path / "theirs", "ctrl")
    cert = x509.load_pem_x509_certificate(theirs.issue("gateway", []).cert)
    with pytest.raises(InvalidSignature):
        cert.verify_directly_issued_by(ours.cert)


def test_an_unknown_role_is_refused(tmp_path: Path) -> None:
    ca = pki.ControllerCA.ensure(tmp_path, "ctrl")
    with pytest.raises(errors.Invalid, match='role "admin" not valid'):
        ca.issue("admin", [])


def test_a_key_others_may_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    pki.ControllerCA.ensure(tmp_path, "ctrl")
    os.chmod(tmp_path / pki.CA_KEY, 0o640)
    with pytest.raises(errors.Refused, match=r"mode 0640\); run: chmod 600 .*ca\.key"):
        pki.ControllerCA.load(tmp_path)


def test_a_parts_pair_is_kept_and_reissued_only_when_removed(tmp_path: Path) -> None:
    ca = pki.ControllerCA.ensure(tmp_path, "ctrl")
    first = ca.issue_to(tmp_path, "gateway", ["127.0.0.1:17070"])
    assert ca.issue_to(tmp_path, "gateway", ["127.0.0.1:17070"]) == first
    assert oct((tmp_path / "gateway.key").stat().st_mode & 0o777) == "0o600"
    (tmp_path / "gateway.crt").unlink()
    assert ca.issue_to(tmp_path, "gateway", ["127.0.0.1:17070"]) != first


def test_a_private_file_is_never_overwritten(tmp_path: Path) -> None:
    pki.write_private(tmp_path / "k", b"one")
    with pytest.raises(errors.AlreadyExists):
        pki.write_private(tmp_path / "k", b"two")
    assert (tmp_path / "k").read_bytes() == b"one"
