"""HTTPS served directly, and client certificates bound to institutions.

The national system authenticates clinic terminals by certificate; Onshi can do the same
on top of API keys.  With `ONSHI_CLIENT_CERT=optional` or `required` and a CA
(`--ssl-ca-certs`), a client certificate verified against that CA names its institution
in the subject's `serialNumber` attribute (OID 2.5.4.5, ten digits); a confirmation whose
API key belongs to another institution (or whose certificate names none) is answered 403
`INSTITUTION_MISMATCH` before its body is read.  `required` refuses a TLS handshake
without a certificate; `optional` lets such a client in on its key alone.  The admin
routes use the admin token only.

The protocol (service/slowclients.py) reads the certificate once per connection, after
the handshake, and hands its institution to each request in the ASGI scope's
`extensions` under `CLIENT_CERTIFICATE`; service/hotpath.py compares.
"""

from __future__ import annotations

import ssl
from typing import Any

from service.settings import Settings

INSTITUTION_FIELD = "serialNumber"  # how Python's ssl names the subject attribute 2.5.4.5
CLIENT_CERTIFICATE = "onshi.client_certificate"  # the scope extension: {"institution": code}
CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config's TLS arguments for these settings (none without a certificate)."""
    if not settings.ssl_certfile:
        return {}
    return {
        "ssl_certfile": settings.ssl_certfile,
        "ssl_keyfile": settings.ssl_keyfile,
        "ssl_ca_certs": settings.ssl_ca_certs,
        "ssl_cert_reqs": CERT_REQS[settings.client_cert],
    }


def certificate_institution(transport: Any) -> str | None:
    """The institution code of the connection's verified client certificate: None without
    one, "" for one whose subject names no institution."""
    peer = transport.get_extra_info("peercert")
    if not peer:  # plain HTTP, no certificate, or one not verified (ONSHI_CLIENT_CERT=none)
        return None
    for attributes in peer.get("subject", ()):
        for name, value in attributes:
            if name == INSTITUTION_FIELD:
                return str(value)
    return ""
