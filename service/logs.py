"""Log records as text for a terminal or as one JSON object per line for a collector.

uvicorn's loggers go through the same handler (its access lines are off: the access log
is the record of confirmations). A record carries a `request_id` where one is known
(`log.exception(..., extra={"request_id": rid})`). Nothing here ever formats a request
body: messages name ids and counts, never a symbol, number, serial, name or birthdate.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", "pid"[, "request_id"][, "exc"]}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def logging_config(log_format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for every process: the command, uvicorn and its workers."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": JsonFormatter},
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "stream": "ext://sys.stderr",
            }
        },
        # uvicorn's loggers keep no handlers of their own: they reach the root's.
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error")}
        | {"uvicorn.access": {"handlers": [], "propagate": False}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
    }
