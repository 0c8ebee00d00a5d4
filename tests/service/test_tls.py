"""HTTPS served directly, with client certificates bound to institutions (service/tls.py).

The test makes its own CA, a server certificate for 127.0.0.1 and a client certificate
per institution (the code in the subject's serialNumber) with `cryptography`."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import EXAMPLES
from tests.processes import CARD_1, CLINIC_CODE, CLINIC_KEY, serve

PHARMACY_CODE = "2740000029"


class Authority:
    """A CA that signs a server certificate and clients' certificates into `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Onshi test CA")])
        self.cert = (
            self._builder(name, self.key.public_key(), name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = self._write("ca.pem", self.cert)

    def _builder(self, subject: x509.Name, public_key: Any, issuer: x509.Name) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def _write(self, name: str, cert: x509.Certificate, key: Any = None) -> Path:
        path = self.folder / name
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        if key is not None:
            path.with_suffix(".key").write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        return path

    def issue(self, name: str, *attributes: x509.NameAttribute, server: bool = False) -> tuple[Path, Path]:
        """(certificate file, key file) for a subject of `attributes`."""
        key = ec.generate_private_key(ec.SECP256R1())
        builder = self._builder(x509.Name(list(attributes)), key.public_key(), self.cert.subject)
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        path = self._write(f"{name}.pem", builder.sign(self.key, hashes.SHA256()), key)
        return path, path.with_suffix(".key")


def clinic_subject(code: str) -> list[x509.NameAttribute]:
    return [
        x509.NameAttribute(NameOID.SERIAL_NUMBER, code),
        x509.NameAttribute(NameOID.COMMON_NAME, "受付端末"),
    ]


def ask(
    port: int, authority: Authority, client: tuple[Path, Path] | None, key: str = CLINIC_KEY, path: str = ""
) -> tuple[int, Any]:
    """A confirmation over HTTPS (or a GET of `path`), with `client`'s certificate if any."""
    context = ssl.create_default_context(cafile=str(authority.ca_file))
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        if path:
            connection.request("GET", path)
        else:
            body = json.dumps({"institution_code": CLINIC_CODE, **CARD_1})
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            connection.request("POST", "/v1/confirmations", body, headers)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    return Authority(tmp_path)


def _serve_https(tmp_path: Path, authority: Authority, mode: str, workers: int = 1) -> Any:
    cert, key = authority.issue("server", x509.NameAttribute(NameOID.COMMON_NAME, "onshi"), server=True)
    probe = authority.issue("probe", *clinic_subject(CLINIC_CODE))

    def is_ready(url: str) -> bool:
        try:
            return ask(int(url.rsplit(":", 1)[1]), authority, probe, path="/v1/readyz")[0] == 200
        except OSError:
            return False

    return serve(
        tmp_path,
        ["--data", str(EXAMPLES / "data"), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
        + ["--ssl-ca-certs", str(authority.ca_file)],
        workers,
        is_ready,
        "https",
        ONSHI_CLIENT_CERT=mode,
    )


@pytest.mark.slow
def test_required_client_certificates_bind_keys_to_institutions(tmp_path: Path, authority: Authority) -> None:
    served = _serve_https(tmp_path, authority, "required", workers=2)
    try:
        clinic = authority.issue("clinic", *clinic_subject(CLINIC_CODE))
        pharmacy = authority.issue("pharmacy", *clinic_subject(PHARMACY_CODE))
        nameless = authority.issue("nameless", x509.NameAttribute(NameOID.COMMON_NAME, "no code"))
        status, answer = ask(served.port, authority, clinic)
        assert (status, answer["code"]) == (200, "VALID")
        for other in (pharmacy, nameless):
            status, answer = ask(served.port, authority, other)
            assert (status, answer["error"]["code"]) == (403, "INSTITUTION_MISMATCH")
        # The pharmacy's own key with its own certificate is its own business (403 for the
        # clinic's institution_code in the body, as without certificates).
        assert ask(served.port, authority, pharmacy, "demo-key-pharmacy")[0] == 403
        assert ask(served.port, authority, clinic, "not-a-key")[0] == 401
        with pytest.raises((ssl.SSLError, ConnectionError)):
            ask(served.port, authority, None)  # no certificate: no handshake
        (tmp_path / "elsewhere").mkdir()
        stranger = Authority(tmp_path / "elsewhere")  # a certificate from another CA
        with pytest.raises((ssl.SSLError, ConnectionError)):
            ask(served.port, authority, stranger.issue("clinic", *clinic_subject(CLINIC_CODE)))
    finally:
        served.kill_if_running()


@pytest.mark.slow
def test_optional_client_certificates_let_keys_alone_in(tmp_path: Path, authority: Authority) -> None:
    served = _serve_https(tmp_path, authority, "optional")
    try:
        assert ask(served.port, authority, None)[0] == 200
        assert ask(served.port, authority, authority.issue("clinic", *clinic_subject(CLINIC_CODE)))[0] == 200
        assert (
            ask(served.port, authority, authority.issue("pharmacy", *clinic_subject(PHARMACY_CODE)))[0] == 403
        )
    finally:
        served.kill_if_running()


def test_client_certificates_need_https() -> None:
    from pydantic import ValidationError

    from service.settings import Settings

    with pytest.raises(ValidationError, match="ONSHI_CLIENT_CERT needs HTTPS"):
        Settings(client_cert="required")
