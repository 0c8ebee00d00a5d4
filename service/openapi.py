"""The OpenAPI document, made to say exactly what the server does (issue #19, item 5).

FastAPI describes the routes it answers; the confirmation routes are answered by the hot
path in front of it, from rules that live in core_ext (`_request`, `_text`).  This module
takes FastAPI's document and states, per route: the request body as the validator reads
it, every status the route can answer (with the headers that come with it), the media
types, and the bearer schemes.  Each limit is taken from its home, not restated.

A request rule that JSON Schema cannot state (a check digit, NFKC normalisation, a date
range relative to today) is named by a `format` of our own, described in words; clients
and tests that generate requests register them (tests/api/schemathesis_hooks.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from core_ext import AUTH_METHODS, INFO_NOTICE, MAX_BATCH_ITEMS, MYNA_CARD, PRESENTED, SERIAL_MAX
from service.bulk import MAX_ITEMS
from service.dataset import COLUMNS
from service.db.rows import CSV_FILE, TABLES
from service.db.upserts import MAX_ROWS
from service.hotpath import BATCH_LIMIT, BATCH_PATH, SINGLE_LIMIT, SINGLE_PATH
from service.oqs.gateway import BULK_LIMIT
from service.routes.admin import ACCESS_LOG_LIMIT, PERSON_ID_MAX

# Formats of our own: what the validator accepts that a pattern cannot say.
FORMATS = {
    "insurer-number": "6 or 8 digits (full-width and spaces allowed) whose last is the check digit "
    "(weights 2, 1, 2, … from the right); `00` and a 6-digit number are the same insurer",
    "insurer-symbol": "0-20 characters after NFKC, white space removed and dashes unified; "
    "no control, format, surrogate, private-use or unassigned characters",
    "insurer-card-number": "as insurer-symbol, 1-20 characters",
    "branch": "two digits after NFKC, or empty for none",
    "confirmation-date": "YYYY-MM-DD from 2000-01-01 to 366 days after today in Asia/Tokyo",
}
ERROR = {"$ref": "#/components/schemas/ErrorAnswer"}
RETRY_AFTER = {"Retry-After": {"description": "whole seconds to wait", "schema": {"type": "integer"}}}
BEARER_CHALLENGE = {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}}
# What any route may answer before it is reached (service/slowclients.py).
TRANSPORT = {
    "408": "REQUEST_TIMEOUT: the headers or the body did not arrive in time",
    "503": "OVERLOADED: too many open connections (the route's own 503s are listed with it)",
}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _string(format_name: str) -> dict[str, Any]:
    return {"type": "string", "format": format_name, "description": FORMATS[format_name]}


def confirmation_item() -> dict[str, Any]:
    """One confirmation as core_ext._request.parse_item reads it.  Fields a kind does not
    read are not described for it: they are ignored, whatever they hold."""
    number_kinds = sorted(name for name, value in PRESENTED.items() if value not in (MYNA_CARD, INFO_NOTICE))
    number_path = {
        "insurer_number": _string("insurer-number"),
        "symbol": _nullable(_string("insurer-symbol")),
        "number": _string("insurer-card-number"),
        "branch": _nullable(_string("branch")),
        "birthdate": {"type": "string", "format": "date", "description": "YYYY-MM-DD"},
    }
    number_required = ["insurer_number", "number", "birthdate"]
    flag = _nullable({"type": "boolean"})
    return {
        "type": "object",
        "required": ["presented"],
        "properties": {
            "presented": {"type": "string", "enum": list(PRESENTED)},
            "confirmation_date": _nullable(_string("confirmation-date")),
            "proxy": flag,
            "consent": _nullable({"type": "object", "properties": {"limit_info": flag}}),
        },
        "oneOf": [
            {
                "properties": {
                    "presented": {"const": "myna_card"},
                    "certificate_serial": {"type": "string", "pattern": f"^[0-9A-Fa-f]{{1,{SERIAL_MAX}}}$"},
                    "auth_method": {"type": "string", "enum": list(AUTH_METHODS)},
                },
                "required": ["certificate_serial", "auth_method"],
            },
            {
                "properties": {"presented": {"enum": number_kinds}, **number_path},
                "required": number_required,
            },
            {
                "properties": {
                    "presented": {"const": "info_notice"},
                    "identity_verified": flag,
                    **number_path,
                },
                "required": number_required,
            },
        ],
    }


INSTITUTION_CODE = {"type": "string", "pattern": "^[0-9]{10}$", "description": "the API key's institution"}


def confirmation_request() -> dict[str, Any]:
    item = confirmation_item()
    return {
        **item,
        "required": ["institution_code", *item["required"]],
        "properties": {"institution_code": INSTITUTION_CODE, **item["properties"]},
    }


def batch_request() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["institution_code", "items"],
        "properties": {
            "institution_code": INSTITUTION_CODE,
            "confirmation_date": _nullable(_string("confirmation-date")),
            "items": {
                "type": "array",
                "maxItems": MAX_BATCH_ITEMS,
                "description": f"At most {MAX_BATCH_ITEMS:,} (413 beyond).  Each item is validated "
                "like a single confirmation (`x-item-schema`: ConfirmationItem) and one that fails "
                "is answered in its place as `{error: …}`, so any item is accepted here.",
                # Any item is accepted (a bad one is answered in place), so the schema of
                # an item is given beside it, not as a constraint schema tools would enforce.
                "items": {},
                "x-item-schema": {"$ref": "#/components/schemas/ConfirmationItem"},
            },
        },
    }


def _answer(description: str, schema: dict[str, Any] | None = ERROR, **headers: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {"application/json": {"schema": schema}}
    if headers:
        answer["headers"] = headers
    return answer


def _confirmation_answers(limit: int, batch: bool) -> dict[str, Any]:
    answer = "BatchAnswer" if batch else "ConfirmationAnswer"
    too_large = f"PAYLOAD_TOO_LARGE: body over {limit // 1024:,} KiB" + (
        f" or more than {MAX_BATCH_ITEMS:,} items" if batch else ""
    )
    return {
        "200": _answer("decided", {"$ref": f"#/components/schemas/{answer}"}),
        "400": _answer("MALFORMED_JSON: the body is not a JSON object (or not UTF-8)"),
        "401": _answer("UNAUTHENTICATED: missing or unknown key", **BEARER_CHALLENGE),
        "403": _answer("INSTITUTION_MISMATCH: institution_code is not the key's"),
        "413": _answer(too_large),
        "415": _answer("UNSUPPORTED_MEDIA_TYPE: Content-Type is not application/json"),
        "422": _answer("VALIDATION_ERROR: `fields` names each field and its code"),
        "429": _answer(
            "RATE_LIMITED: the institution's request, item or number-path miss limit", **RETRY_AFTER
        ),
        "503": _answer("NOT_READY (data still loading) or ACCESS_LOG_UNAVAILABLE (cannot be recorded)"),
    }


def _admin_answers(*statuses: tuple[int, str]) -> dict[str, Any]:
    answers = {"401": _answer("UNAUTHENTICATED: missing or wrong admin token", **BEARER_CHALLENGE)}
    for status, description in statuses:
        answers[str(status)] = _answer(description)
    return answers


def exact_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document for `app`, corrected to what the server answers."""
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    schemas = doc["components"]["schemas"]
    schemas["ConfirmationItem"] = confirmation_item()
    doc["components"]["securitySchemes"] = {
        "clinicKey": {"type": "http", "scheme": "bearer", "description": "an institution's API key"},
        "adminToken": {"type": "http", "scheme": "bearer", "description": "ONSHI_ADMIN_TOKEN"},
    }
    paths = doc["paths"]
    for path, limit, body in (
        (SINGLE_PATH, SINGLE_LIMIT, confirmation_request()),
        (BATCH_PATH, BATCH_LIMIT, batch_request()),
    ):
        operation = paths[path]["post"]
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["responses"] = _confirmation_answers(limit, path == BATCH_PATH)
        operation["security"] = [{"clinicKey": []}]
    upserts = paths["/v1/admin/upserts"]["post"]
    upserts["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Upsert"}}},
    }
    upserts["responses"] = {
        "200": _answer("applied", {"type": "object", "properties": {"change_seq": {"type": "integer"}}}),
        **_admin_answers(
            (400, "MALFORMED_JSON"),
            (409, "READ_ONLY: served from files, no database"),
            (422, "VALIDATION_ERROR: `problems` lists every one"),
            (503, "DATABASE_UNAVAILABLE"),
        ),
    }
    access = paths["/v1/admin/persons/{person_id}/access-log"]["get"]
    access["parameters"] = [
        {
            "name": "person_id",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": PERSON_ID_MAX},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": ACCESS_LOG_LIMIT, "default": 100},
        },
    ]
    access["responses"] = {
        "200": _answer(
            "newest first", {"type": "array", "items": {"$ref": "#/components/schemas/AccessRecord"}}
        ),
        **_admin_answers((422, "VALIDATION_ERROR naming person_id or limit"), (503, "DATABASE_UNAVAILABLE")),
    }
    reload = paths["/v1/admin/reload"]["post"]
    reload["responses"] = {
        "200": _answer("the new snapshot", {"type": "object"}),
        **_admin_answers(
            (409, "NOT_RELOADABLE: a database source follows its changes itself"),
            (422, "RELOAD_FAILED: the source is invalid; the previous snapshot keeps serving"),
        ),
    }
    for operation in (upserts, access, reload):
        operation["security"] = [{"adminToken": []}]
    readyz = paths["/v1/readyz"]["get"]["responses"]
    readyz["503"] = _answer("loading, or stopping", {"$ref": "#/components/schemas/Status"})
    paths["/metrics"]["get"]["responses"] = {
        "200": {
            "description": "Prometheus text exposition",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
    _gateway_routes(paths)
    for methods in paths.values():
        for operation in methods.values():
            for status, description in TRANSPORT.items():
                operation["responses"].setdefault(status, _answer(description))
    schemas.update(extra_schemas())
    return doc


def _oqs_answer(description: str) -> dict[str, Any]:
    """An OQS answer: XML in the request's encoding, or the XmlMsg JSON form (errors too)."""
    return {
        "description": description,
        "content": {
            "application/xml": {"schema": {"type": "string"}},
            "application/json": {"schema": {"$ref": "#/components/schemas/XmlMsg"}},
        },
    }


def _gateway_routes(paths: dict[str, Any]) -> None:
    """The national messages, bulk jobs and the feed (service/oqs/gateway.py, docs/oqs.md)."""
    oqs = paths["/v1/oqs/{message}"]["post"]
    oqs["requestBody"] = {
        "required": True,
        "content": {
            "application/xml": {
                "schema": {
                    "type": "string",
                    "description": "an XmlMsg document, Shift_JIS or UTF-8 as declared",
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/XmlMsg"}},
        },
    }
    oqs["responses"] = {
        "200": _oqs_answer("answered: SegmentOfResult 1 (2 while a bulk is still being decided)"),
        **{
            str(status): _oqs_answer(f"SegmentOfResult 9: {codes}")
            for status, codes in (
                (400, "MALFORMED_XML, FORBIDDEN_XML, UNSUPPORTED_ENCODING, MALFORMED_JSON"),
                (401, "UNAUTHENTICATED"),
                (403, "INSTITUTION_MISMATCH"),
                (404, "UNKNOWN_MESSAGE, BULK_NOT_FOUND"),
                (409, "READ_ONLY: 照会番号 need the database"),
                (413, "PAYLOAD_TOO_LARGE"),
                (415, "UNSUPPORTED_MEDIA_TYPE"),
                (422, "VALIDATION_ERROR"),
                (429, "RATE_LIMITED"),
                (503, "NOT_READY, ACCESS_LOG_UNAVAILABLE, DATABASE_UNAVAILABLE"),
            )
        },
    }
    oqs["responses"]["401"]["headers"] = BEARER_CHALLENGE
    oqs["responses"]["429"]["headers"] = RETRY_AFTER
    bulk = paths["/v1/bulk"]["post"]
    bulk["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BulkRequest"}}},
    }
    job = {"$ref": "#/components/schemas/BulkJob"}
    common = {
        "401": _answer("UNAUTHENTICATED: missing or unknown key", **BEARER_CHALLENGE),
        "429": _answer("RATE_LIMITED", **RETRY_AFTER),
        "503": _answer("NOT_READY"),
    }
    bulk["responses"] = {
        "202": _answer(
            "accepted", job, Location={"description": "/v1/bulk/{id}", "schema": {"type": "string"}}
        ),
        "400": _answer("MALFORMED_JSON"),
        "403": _answer("INSTITUTION_MISMATCH"),
        "413": _answer(f"PAYLOAD_TOO_LARGE: over {BULK_LIMIT // 2**20} MiB or {MAX_ITEMS:,} items"),
        "415": _answer("UNSUPPORTED_MEDIA_TYPE"),
        "422": _answer("VALIDATION_ERROR naming items or institution_code"),
        **common,
    }
    results = paths["/v1/bulk/{job_id}"]["get"]
    results["responses"] = {
        "200": {
            "description": "done: one result a line, in order, as the batch API gives each",
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        },
        "202": _answer("still being decided", job, **RETRY_AFTER),
        "404": _answer("BULK_NOT_FOUND: unknown, expired, or another institution's"),
        **common,
    }
    feed = paths["/v1/confirmations/feed"]["get"]
    feed["parameters"] = [
        {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}}
    ]
    feed["responses"] = {
        "200": {
            "description": "server-sent events `confirmation`, each a card-path answer (id: day-offset)",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        "404": _answer("FEED_NOT_ENABLED: ONSHI_FEED is off"),
        **common,
    }
    for operation in (oqs, bulk, results, feed):
        operation["security"] = [{"clinicKey": []}]


def extra_schemas() -> dict[str, Any]:
    """Answers and bodies declared here only (no pydantic model of their own)."""
    return {
        "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
        "XmlMsg": {
            "type": "object",
            "required": ["XmlMsg"],
            "properties": {
                "XmlMsg": {
                    "type": "object",
                    "description": "MessageHeader and MessageBody as the XML has them (docs/oqs.md)",
                }
            },
        },
        "BulkRequest": {
            "type": "object",
            "required": ["institution_code", "items"],
            "properties": {
                "institution_code": {"type": "string"},
                "confirmation_date": {"type": "string"},
                "items": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_ITEMS,
                    "items": {"$ref": "#/components/schemas/ConfirmationItem"},
                },
            },
        },
        "BulkJob": {
            "type": "object",
            "required": ["id", "status", "items", "processed", "accepted_at", "expires_at"],
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": ["running", "done"]},
                "items": {"type": "integer"},
                "processed": {"type": "integer"},
                "accepted_at": {"type": "number"},
                "expires_at": {"type": "number"},
            },
        },
        "AccessRecord": {
            "type": "object",
            "required": ["at", "institution_code", "presented", "code", "request_id", "birthdate_mismatch"],
            "properties": {
                "at": {"type": "string"},
                "institution_code": {"type": "string"},
                "presented": {"type": "string", "enum": list(PRESENTED)},
                "code": {"type": "string"},
                "request_id": {"type": "string"},
                "birthdate_mismatch": {
                    "type": "boolean",
                    "description": "a wrong birthdate was tried for this person's key",
                },
            },
        },
        "Upsert": {
            "type": "object",
            "description": f"rows per entity, each an object with the data set's columns (CONTRACT.md §4), "
            f"at most {MAX_ROWS:,} rows; validated like an import, all or nothing",
            "additionalProperties": False,
            "properties": {
                table: {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            column: {"type": ["string", "integer", "null"]}
                            for column in COLUMNS[CSV_FILE[table]]
                        },
                    },
                }
                for table in TABLES
            },
        },
    }


def install(app: FastAPI) -> None:
    """Serve `exact_openapi` at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = exact_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
