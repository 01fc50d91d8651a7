"""Capture the log lines of this process as the site formats them with TAOS_LOG_FORMAT=json."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from request_context.logs import JsonFormatter, RequestIdFilter


class JsonLines:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]


@contextmanager
def json_log_lines(*, loggers: tuple[str, ...] = ()) -> Iterator[JsonLines]:
    """Add a JSON handler (the site's formatter and filter) to the root logger in the block.

    `loggers` are set to INFO inside the block (e.g. the per-request line,
    quiet in the text format the tests run with).
    """
    captured = JsonLines()
    handler = logging.StreamHandler(captured.stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in loggers}
    root.addHandler(handler)
    for name in loggers:
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
