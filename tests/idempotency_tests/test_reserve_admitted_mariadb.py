"""MariaDB's reservation: a fresh key never waits; only a request that finds its key held takes a slot.

`services.reserve_admitted` tries the insert with a lock wait of 0. A key held
by another transaction then waits only with one of its waiter slots, named
locks of the server (`GET_LOCK`), so every host counts the same slots. The
holder and the slots are held here from another connection, as other
workers' (or hosts') requests would hold them.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from idempotency import engines, services
from idempotency.engines.mysql import named_slot_names
from idempotency.errors import IdempotencyKeyInUse
from idempotency.services import StoredResponse

pytestmark = pytest.mark.django_db(transaction=True)

PRINCIPAL = "user:1"
FINGERPRINT = "f" * 64
STORED = StoredResponse(fingerprint=FINGERPRINT, status=201, body=b'{"made": true}',
                        headers={"Content-Type": "application/json"})
WAIT_SECONDS = 5


@pytest.fixture(autouse=True)
def _mariadb_only(settings) -> None:
    if connection.vendor != "mysql":
        pytest.skip("named-lock slots are MariaDB's")
    settings.IDEMPOTENCY_WAITERS_PER_KEY = 2


def reserve(key: str) -> StoredResponse | None:
    return services.reserve_admitted(
        principal=PRINCIPAL, key=key, fingerprint=FINGERPRINT, method="POST", path="/api/x/",
        wait_seconds=WAIT_SECONDS, expires_at=timezone.now() + timedelta(hours=1),
    )


def complete(key: str) -> None:
    with transaction.atomic():
        assert reserve(key) is None
        services.complete(principal=PRINCIPAL, key=key, response=STORED)


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries]


@pytest.fixture
def other():
    """Another connection to the test database, in autocommit mode: another worker or host."""
    import MySQLdb

    conn = MySQLdb.connect(**connection.get_connection_params())
    conn.autocommit(True)
    yield conn
    conn.close()


def hold_key(conn, key: str) -> None:
    """Insert `key`'s reservation row in an open transaction of `conn`: a running holder."""
    conn.autocommit(False)
    now, expires = timezone.now(), timezone.now() + timedelta(hours=1)
    adapt = connection.ops.adapt_datetimefield_value
    conn.cursor().execute(engines.current().insert_sql, [1, PRINCIPAL, key, "POST", "/api/x/",
                                                FINGERPRINT, adapt(now), adapt(expires)])


def slot_holders(conn, key: str) -> list[int | None]:
    """Return the connection id holding each waiter slot of `key` (None: free)."""
    cursor = conn.cursor()
    holders = []
    for name in named_slot_names(PRINCIPAL, key):
        cursor.execute("SELECT IS_USED_LOCK(%s)", [name])
        holders.append(cursor.fetchone()[0])
    return holders


def connection_id() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        return cursor.fetchone()[0]


def test_a_fresh_key_is_one_insert_and_takes_no_slot():
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert reserve("fresh") is None
        transaction.set_rollback(True)
    [insert] = statements(queries)
    assert insert.startswith("SET STATEMENT innodb_lock_wait_timeout = 0 FOR INSERT")


def test_a_completed_key_is_replayed_with_one_more_statement_and_no_slot():
    complete("done")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        stored = reserve("done")
        transaction.set_rollback(True)
    assert (stored.status, stored.body) == (STORED.status, STORED.body)
    assert len(statements(queries)) == 2
    assert not any("GET_LOCK" in q for q in statements(queries))


def test_a_held_key_with_every_slot_taken_is_refused_at_once(other):
    hold_key(other, "busy")
    taker = other.cursor()
    for name in named_slot_names(PRINCIPAL, "busy"):
        taker.execute("SELECT GET_LOCK(%s, 0)", [name])
        assert taker.fetchone()[0] == 1
    started = time.monotonic()
    with transaction.atomic():
        with pytest.raises(IdempotencyKeyInUse):
            reserve("busy")
        transaction.set_rollback(True)
    assert time.monotonic() - started < WAIT_SECONDS / 2  # refused, not waited out
    other.rollback()
    assert not services.IdempotencyRecord.objects.filter(key="busy").exists()


@pytest.mark.parametrize("holder_commits", [False, True], ids=["rolls-back", "commits"])
def test_a_held_key_waits_with_one_slot_then_runs_or_replays(other, holder_commits):
    hold_key(other, "held")
    seen_during_wait: list[list[int | None]] = []

    def end_the_holder() -> None:
        time.sleep(0.7)
        seen_during_wait.append(slot_holders(observer, "held"))
        if holder_commits:
            other.cursor().execute(
                f"UPDATE {services.IdempotencyRecord._meta.db_table} SET response_status = 201,"
                " response_body = %s, response_headers = %s WHERE `key` = %s",
                [STORED.body, '{"Content-Type": "application/json"}', "held"])
            other.commit()
        else:
            other.rollback()

    import MySQLdb

    observer = MySQLdb.connect(**connection.get_connection_params())
    try:
        ender = threading.Thread(target=end_the_holder)
        ender.start()
        with transaction.atomic():
            me = connection_id()
            stored = reserve("held")
            after = slot_holders(observer, "held")
            transaction.set_rollback(True)
        ender.join(10)
    finally:
        observer.close()
    assert seen_during_wait == [[me, None]]  # the first free slot, while waiting
    assert after == [None, None]  # given back once the wait ended
    if holder_commits:
        assert stored is not None and stored.body == STORED.body
    else:
        assert stored is None  # the holder rolled back: this request holds the key


def test_slot_names_are_per_database(settings):
    names = named_slot_names(PRINCIPAL, "k")
    assert len(names) == 2 and all(len(name) <= 64 for name in names)
    original = connection.settings_dict["NAME"]
    try:
        connection.settings_dict["NAME"] = original + "_other"
        assert set(named_slot_names(PRINCIPAL, "k")).isdisjoint(names)
    finally:
        connection.settings_dict["NAME"] = original
