"""Admitting a request to the routes beside the hot path (OQS messages, bulk jobs).

The same checks, in the same order, as `service.hotpath.HotPath._confirm`, which keeps
them inline for speed: 503 (nothing loaded), 401, 403 (client certificate), 429 (rate,
before the body), 413, then the body is read whole (joined once).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import Receive, Scope

from service.hotpath import (
    CERTIFICATE_MISMATCH,
    NOT_READY,
    RATE_LIMITED,
    REQUEST_ID,
    TOO_LARGE,
    UNAUTHENTICATED,
    HotPath,
)
from service.state import Generation
from service.tls import CLIENT_CERTIFICATE


@dataclass
class Admitted:
    gen: Generation
    institution: str
    request_id: str
    body: bytes
    content_type: bytes


@dataclass
class Refused:
    status: int
    payload: bytes  # a JSON error answer, `{"error": {"code", "message"}}`
    request_id: str
    retry_after: int = 0


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value  # type: ignore[no-any-return]
    return None


def request_id(hot: HotPath, scope: Scope) -> str:
    given = header(scope, b"x-request-id")
    if given is not None and REQUEST_ID.fullmatch(given):
        return given.decode()
    return hot.fresh_request_id()


async def admit(
    hot: HotPath, scope: Scope, receive: Receive, limit: int, read_body: bool = True
) -> Admitted | Refused:
    """Check a request as the hot path does and read its body (up to `limit` bytes)."""
    rid = request_id(hot, scope)
    gen = hot.state.current
    auth = header(scope, b"authorization")
    if gen is None:
        return Refused(503, NOT_READY, rid)
    institution = None if auth is None else gen.authorized(auth)
    if institution is None:
        return Refused(401, UNAUTHENTICATED, rid)
    certified = scope.get("extensions", {}).get(CLIENT_CERTIFICATE)
    if certified and certified["institution"] != institution:
        return Refused(403, CERTIFICATE_MISMATCH, rid)
    limiter = hot.limiter
    if limiter is not None and (limiter.engaged or institution in gen.rate_limits):
        retry_after = limiter.admit(institution, None, gen.rate_limits.get(institution))
        if retry_after:
            return Refused(429, RATE_LIMITED, rid, retry_after)
    content_type = header(scope, b"content-type") or b""
    if not read_body:
        return Admitted(gen, institution, rid, b"", content_type)
    length = header(scope, b"content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        return Refused(413, TOO_LARGE, rid)
    pieces: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return Refused(499, b"", rid)  # the client went away: nobody to answer
        piece = message.get("body", b"")
        size += len(piece)
        if size > limit:
            return Refused(413, TOO_LARGE, rid)
        pieces.append(piece)
        if not message.get("more_body", False):
            break
    return Admitted(gen, institution, rid, b"".join(pieces), content_type)


def media_type(content_type: bytes) -> bytes:
    return content_type.split(b";", 1)[0].strip().lower()
