"""PostgreSQL's reservation statement: a fresh key, a completed key, a key whose slots are full.

`services.reserve_admitted` takes one of the key's slots (advisory locks) and
inserts in one statement, which does not read the row it did not insert: a
replay reads it with one more statement. The slots are filled here from
another connection, as other workers' requests would hold them.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from idempotency import services
from idempotency.engines import slots
from idempotency.engines.postgresql import slot_lock_base
from idempotency.errors import IdempotencyKeyInUse
from idempotency.services import StoredResponse

pytestmark = pytest.mark.django_db(transaction=True)

PRINCIPAL = "user:1"
FINGERPRINT = "f" * 64
STORED = StoredResponse(fingerprint=FINGERPRINT, status=201, body=b'{"made": true}',
                        headers={"Content-Type": "application/json"})


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("advisory-lock slots are PostgreSQL's")


def reserve(key: str) -> StoredResponse | None:
    return services.reserve_admitted(
        principal=PRINCIPAL, key=key, fingerprint=FINGERPRINT, method="POST", path="/api/x/",
        wait_seconds=2, expires_at=timezone.now() + timedelta(hours=1),
    )


def complete(key: str) -> None:
    with transaction.atomic():
        assert reserve(key) is None
        services.complete(principal=PRINCIPAL, key=key, response=STORED)


@pytest.fixture
def other_connection():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as conn:
        yield conn


def fill_slots(conn: psycopg.Connection, key: str) -> None:
    base = slot_lock_base(PRINCIPAL, key)
    for n in range(slots.slot_count()):
        conn.execute("SELECT pg_advisory_lock(%s)", [base + n])


def test_a_fresh_key_is_reserved_in_one_statement():
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert reserve("fresh") is None
        transaction.set_rollback(True)
    assert [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "ROLLBACK")
            ][0].startswith("WITH base AS")
    assert len([q for q in queries.captured_queries if q["sql"] not in ("BEGIN", "ROLLBACK")]) == 1


def test_a_completed_key_answers_its_stored_response_with_one_more_statement():
    complete("done")
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        stored = reserve("done")
        transaction.set_rollback(True)
    assert (stored.status, stored.body, stored.headers) == (STORED.status, STORED.body,
                                                            STORED.headers)
    assert stored.expires_at > timezone.now()
    assert len([q for q in queries.captured_queries if q["sql"] not in ("BEGIN", "ROLLBACK")]) == 2


def test_full_slots_still_replay_a_completed_key_at_once(other_connection):
    complete("done-full")
    fill_slots(other_connection, "done-full")
    with transaction.atomic():
        stored = reserve("done-full")
        transaction.set_rollback(True)
    assert stored.body == STORED.body


def test_full_slots_refuse_a_key_not_completed_without_inserting(other_connection):
    fill_slots(other_connection, "busy")
    with transaction.atomic():
        with pytest.raises(IdempotencyKeyInUse):
            reserve("busy")
        # Refused in Python after the statement: the transaction goes on, and holds no row.
        assert not services.IdempotencyRecord.objects.filter(key="busy").exists()
        assert held_slots("busy") == []
        transaction.set_rollback(True)


def held_slots(key: str) -> list[int]:
    """Return the slots of `key` this connection's transaction holds (advisory locks)."""
    base = slot_lock_base(PRINCIPAL, key)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
            "WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted")
        return sorted(lock_id - base for (lock_id,) in cursor.fetchall())


@pytest.mark.parametrize("held", [(), (0,), (0, 2), (1,), (0, 1)])
def test_a_reservation_takes_exactly_one_slot_the_first_free_one(other_connection, held):
    base = slot_lock_base(PRINCIPAL, "slots")
    for n in held:
        other_connection.execute("SELECT pg_advisory_lock(%s)", [base + n])
    with transaction.atomic():
        assert reserve("slots") is None
        first_free = min(set(range(slots.slot_count())) - set(held))
        assert held_slots("slots") == [first_free]
        transaction.set_rollback(True)


def test_an_expired_completed_key_is_reserved_anew():
    complete("old")
    services.IdempotencyRecord.objects.filter(key="old").update(
        expires_at=timezone.now() - timedelta(seconds=1))
    with transaction.atomic():
        assert reserve("old") is None
        transaction.set_rollback(True)
