"""The environment that points a new process (gunicorn, a task worker) at the test database."""

from __future__ import annotations

import os
from urllib.parse import quote

# vendor: (DATABASE_URL scheme, default port)
URL_SCHEMES = {"postgresql": ("postgres", 5432), "mysql": ("mysql", 3306)}


def live_database_env() -> dict[str, str]:
    """Return the variables that point a new process at the test database."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor in URL_SCHEMES:
        scheme, default_port = URL_SCHEMES[connection.vendor]
        user = quote(db.get("USER") or "", safe="")
        password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
        auth = f"{user}{password}@" if user else ""
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or default_port
        return {"DATABASE_URL": f"{scheme}://{auth}{host}:{port}/{db['NAME']}"}
    if connection.vendor == "sqlite":
        return {"TAOS_SQLITE_PATH": str(db["NAME"])}
    raise RuntimeError(f"no live-server support for {connection.vendor}")


def live_env(overrides: dict[str, str]) -> dict[str, str]:
    """Return this process's environment pointed at the test database, with `overrides`.

    An inherited DATABASE_URL is dropped unless the test database or
    `overrides` set one: on SQLite the child must use the SQLite file.
    """
    database = {**live_database_env(), **overrides}
    env = {**os.environ, **database}
    if "DATABASE_URL" not in database:
        env.pop("DATABASE_URL", None)
    return env
