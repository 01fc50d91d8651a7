"""TAOS_LOG_FORMAT: text (the default) or one JSON object a line, tracebacks included."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest

from harness.processes import ROOT
from request_context.ids import bound_request_id
from request_context.logs import (
    AccessLogFilter,
    JsonFormatter,
    RequestIdFilter,
    TextFormatter,
    logging_config,
)


def _logger_to(stream: io.StringIO, formatter: logging.Formatter,
               *filters: logging.Filter) -> logging.Logger:
    logger = logging.getLogger(f"test_logs.{id(stream)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    for log_filter in filters:
        handler.addFilter(log_filter)
    logger.handlers = [handler]
    return logger


def test_a_json_line_has_the_fields_and_a_traceback_stays_on_it():
    stream = io.StringIO()
    logger = _logger_to(stream, JsonFormatter(), RequestIdFilter())
    with bound_request_id("json-1"):
        try:
            raise ValueError("line one\nline two")
        except ValueError:
            logger.exception("it broke", extra={"status": 500})
    logger.info("outside")
    first, second = stream.getvalue().splitlines()  # two lines, the traceback inside the first
    record = json.loads(first)
    assert record["level"] == "ERROR" and record["message"] == "it broke"
    assert record["logger"] == logger.name and record["request_id"] == "json-1"
    assert record["status"] == 500 and record["process"] == os.getpid()
    assert record["timestamp"].endswith("+00:00")
    assert "Traceback" in record["exc_info"] and "line one\nline two" in record["exc_info"]
    assert json.loads(second)["request_id"] is None


def test_a_text_line_ends_with_the_request_id_when_there_is_one():
    stream = io.StringIO()
    logger = _logger_to(stream, TextFormatter("%(levelname)s %(message)s"), RequestIdFilter())
    with bound_request_id("text-1"):
        logger.info("inside")
    logger.info("outside")
    assert stream.getvalue().splitlines() == ["INFO inside request_id=text-1", "INFO outside"]


def test_gunicorns_access_line_gets_the_id_status_and_duration_of_its_atoms():
    stream = io.StringIO()
    logger = _logger_to(stream, JsonFormatter(), AccessLogFilter())
    atoms = {"h": "127.0.0.1", "r": "GET / HTTP/1.1", "s": "404", "m": "GET", "D": 1500,
             "{x-request-id}o": 'has\\"quote'}  # gunicorn escapes the quote of a header

    class Atoms(dict):
        def __getitem__(self, key):
            return super().get(key.lower() if key.startswith("{") else key, "-")

    logger.info('%(h)s "%(r)s" %(s)s', Atoms(atoms))
    record = json.loads(stream.getvalue())
    assert record["request_id"] == 'has"quote'
    assert record["status"] == 404 and record["method"] == "GET"
    assert record["duration"] == 0.0015
    assert record["message"] == '127.0.0.1 "GET / HTTP/1.1" 404'


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="TAOS_LOG_FORMAT"):
        logging_config(log_format="xml")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
        env={**os.environ, "TAOS_LOG_FORMAT": "xml",
             "DJANGO_SETTINGS_MODULE": "tinyagentos_site.settings"},
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "TAOS_LOG_FORMAT must be one of text, json, not 'xml'" in result.stderr


def test_the_per_request_line_is_logged_in_json_only():
    assert logging_config(log_format="json")["loggers"]["request_context.requests"] == {
        "level": "INFO"}
    assert logging_config(log_format="text")["loggers"]["request_context.requests"] == {
        "level": "WARNING"}


def test_pythons_warnings_become_json_lines():
    script = ("import django, warnings; django.setup(); "
              "warnings.warn('a deprecation', DeprecationWarning, stacklevel=1)")
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", script], cwd=ROOT,
        env={**os.environ, "TAOS_LOG_FORMAT": "json",
             "DJANGO_SETTINGS_MODULE": "tinyagentos_site.settings"},
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    [line] = result.stderr.splitlines()
    record = json.loads(line)
    assert record["logger"] == "py.warnings" and "a deprecation" in record["message"]
