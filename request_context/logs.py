"""Log lines as text (the default) or one JSON object per line (TAOS_LOG_FORMAT=json).

`logging_config()` is the one logging configuration of the site's settings,
of gunicorn's master, workers and access log (gunicorn.conf.py) and so of
the deploy worker the master forks. Every line logged while a request or a
deploy job runs carries its ID (`RequestIdFilter`); gunicorn's access line
carries the ID of the response's X-Request-ID header (`AccessLogFilter`).
JSON lines are python-json-logger's: a traceback is the `exc_info` member,
one line like the rest. No Django here: gunicorn's configuration imports it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from request_context.ids import current_request_id, valid_request_id

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
# gunicorn's access line: the request, its status, size, milliseconds and ID.
ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms pid=%(p)s request_id=%({x-request-id}o)s'


class RequestIdFilter(logging.Filter):
    """Give every record `request_id`: the current request's or deploy job's ID, else None."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            # Django logs a 4xx/5xx answer ("django.request") once the
            # middleware has returned, with the request as `extra`.
            record.request_id = (current_request_id()
                                 or getattr(getattr(record, "request", None), "request_id", None))
        return True


class AccessLogFilter(logging.Filter):
    """Give gunicorn's access records the fields of a request line: ID, status, duration.

    gunicorn logs them after the response, outside the request; the ID is the
    response's X-Request-ID (gunicorn escapes its quotes: undone here).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, Mapping) and "s" in atoms:
            request_id = str(atoms["{x-request-id}o"]).replace('\\"', '"')
            record.request_id = valid_request_id(request_id)
            record.method = atoms["m"]
            record.status = _int_or_none(atoms["s"])
            record.duration = atoms["D"] / 1e6 if isinstance(atoms["D"], int) else None
        return True


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class TextFormatter(logging.Formatter):
    """The plain line, with ` request_id=...` at its end when it has one."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id and record.name != "gunicorn.access":
            line = f"{line} request_id={request_id}"
        return line


class JsonFormatter(_JsonFormatter):
    """One JSON object a line: timestamp, level, logger, process, message, request_id, extras."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(process)d %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("defaults", {"request_id": None})
        super().__init__(*args, **kwargs)


def logging_config(*, log_format: str = "text", level: str = "INFO",
                   gunicorn_level: str | None = None) -> dict[str, Any]:
    """Return the dictConfig of the site (and, with `gunicorn_level`, of gunicorn's loggers).

    Every line goes to stderr, except gunicorn's access lines (stdout, as
    gunicorn has them). The per-request line (`request_context.requests`) is
    logged in JSON only: in text gunicorn's access line says the same.
    """
    if log_format not in FORMATS:
        raise ValueError(f"TAOS_LOG_FORMAT must be one of {', '.join(FORMATS)}, "
                         f"not {log_format!r}")
    formatter = ({"()": "request_context.logs.JsonFormatter"} if log_format == "json"
                 else {"()": "request_context.logs.TextFormatter", "format": TEXT_FORMAT})
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "request_context.logs.RequestIdFilter"},
            "access": {"()": "request_context.logs.AccessLogFilter"},
        },
        "formatters": {"site": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "site",
                        "filters": ["request_id"], "stream": "ext://sys.stderr"},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            "request_context.requests": {
                "level": "INFO" if log_format == "json" else "WARNING"},
        },
    }
    if gunicorn_level is not None:
        config["handlers"]["access_console"] = {
            "class": "logging.StreamHandler", "formatter": "site",
            "filters": ["access"], "stream": "ext://sys.stdout"}
        config["loggers"]["gunicorn.error"] = {
            "level": gunicorn_level.upper(), "handlers": ["console"], "propagate": False}
        config["loggers"]["gunicorn.access"] = {
            "level": "INFO", "handlers": ["access_console"], "propagate": False}
    return config
