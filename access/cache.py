"""The embedded default's shared cache: Django's database cache, minus early eviction.

Django's `DatabaseCache` culls when the table passes `MAX_ENTRIES`: it
deletes the expired rows, and then, if still too many are left, a third of
the live ones in key order. The lockout counters (`access.lockout`)
live in this cache, so that second step would let anyone who fails to log in
from enough addresses push a counter out before its window ends (the
`authfail:addr:` keys sort first) and guess again. Here a cull deletes the
expired rows only; a live entry stays until it expires, so the table holds at
most what the window's failures wrote. `MAX_ENTRIES` is when expired rows
are swept, and a table still above it after the sweep is logged (at most
once a minute per process).

Redis needs the same property from its configuration: `maxmemory-policy
noeviction`, Redis's default (docs/production.md, "Redis").
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections

logger = logging.getLogger(__name__)

_WARN_EVERY_SECONDS = 60.0


class DatabaseCache(DjangoDatabaseCache):
    """A database cache whose culling deletes expired entries only."""

    _last_warning = 0.0

    def _cull(self, db, cursor, now, num):
        connection = connections[db]
        cursor.execute(
            "DELETE FROM %s WHERE %s < %%s" % (
                connection.ops.quote_name(self._table),
                connection.ops.quote_name("expires"),
            ),
            [connection.ops.adapt_datetimefield_value(now)],
        )
        remaining = num - cursor.rowcount
        if remaining > self._max_entries:
            self._warn_full(remaining)

    def _warn_full(self, remaining: int) -> None:
        now = time.monotonic()
        if now - DatabaseCache._last_warning < _WARN_EVERY_SECONDS:
            return
        DatabaseCache._last_warning = now
        logger.warning(
            "cache: table %s holds %d live entries, above MAX_ENTRIES=%d; none are "
            "evicted before they expire (many failed logins, or raise the limit)",
            self._table, remaining, self._max_entries,
        )
