"""Count the SQL statements of one request, and those of its authentication.

`python -m bench.queries --out FILE` runs in the site's environment (its
settings, its database) and reads what to request from the environment
variable BENCH_QUERY_PLAN (credentials travel by environment, never argv):
a JSON list of `{"name", "path", "headers", "cookies"}`. For each it sends
the GET twice through Django's test client (`HTTP_HOST=127.0.0.1`, the full
middleware stack and DRF, as gunicorn would run it) and records every
statement of the second, warm request (the first may write `last_used_at`,
at most once a minute) with Django's `connection.execute_wrapper()`.

A statement counts as authentication when it runs inside DRF's
`Request._authenticate()`, the one place that tries the authentication
classes (this process wraps it to mark the phase; nothing else changes).
For a session that is the session and user reads; for a token, its lookup.
The permission check (the user's permissions) and the view come after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

SQL_SHOWN_CHARS = 140
PLAN_VARIABLE = "BENCH_QUERY_PLAN"


class PhaseRecorder:
    """An `execute_wrapper` that keeps each statement with the phase it ran in."""

    def __init__(self) -> None:
        self.phase = "request"
        self.statements: list[tuple[str, str]] = []

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements.append((self.phase, " ".join(sql.split())[:SQL_SHOWN_CHARS]))
        return execute(sql, params, many, context)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    plan = json.loads(os.environ.pop(PLAN_VARIABLE))

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinyagentos_site.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from rest_framework.request import Request

    recorder = PhaseRecorder()
    authenticate = Request._authenticate

    def timed_authenticate(self: Request) -> None:
        recorder.phase = "authentication"
        try:
            authenticate(self)
        finally:
            recorder.phase = "request"

    Request._authenticate = timed_authenticate  # type: ignore[method-assign]

    results = {}
    for item in plan:
        client = Client(HTTP_HOST="127.0.0.1")
        for name, value in item.get("cookies", {}).items():
            client.cookies[name] = value
        headers = item.get("headers", {})
        first = client.get(item["path"], headers=headers)
        recorder.statements = []
        with connection.execute_wrapper(recorder):
            second = client.get(item["path"], headers=headers)
        results[item["name"]] = {
            "path": item["path"],
            "statuses": [first.status_code, second.status_code],
            "statements": len(recorder.statements),
            "authentication_statements": sum(
                1 for phase, _ in recorder.statements if phase == "authentication"),
            "sql": [{"phase": phase, "sql": sql} for phase, sql in recorder.statements],
        }
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
