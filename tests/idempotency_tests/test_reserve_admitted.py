"""PostgreSQL's reservation statement: a fresh key, a completed key, a key whose slots are full.

`services.reserve_admitted` takes one of the key's slots (advisory locks),
inserts and, when it did not insert, reads the key's row, in one statement
that also carries the transaction's BEGIN when it opens the connection's
outermost transaction. The slots are filled here from another connection, as
other workers' requests would hold them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
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


def statements(queries: CaptureQueriesContext) -> list[str]:
    """The statements sent, less the driver's own BEGIN and ROLLBACK."""
    return [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "ROLLBACK")]


@contextmanager
def wire(tmp_path: Path) -> Iterator[list[str]]:
    """Collect what the client sends the server (libpq's trace): its query messages."""
    sent: list[str] = []
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    trace = tmp_path / "libpq.trace"
    with open(trace, "w") as out:
        pgconn.trace(out.fileno())
        try:
            yield sent
        finally:
            pgconn.untrace()
    for line in trace.read_text().splitlines():
        fields = line.split("\t")  # time, F (frontend) or B, length, message, content
        if fields[1] == "F" and fields[3] in ("Query", "Parse"):
            sent.append(fields[3] + fields[4])


def test_a_fresh_key_is_reserved_in_one_round_trip_with_its_begin(tmp_path):
    """BEGIN, the PREPARE on the connection's first reservation, the EXECUTE: one message."""
    connection.close()  # a connection that has prepared nothing yet
    with wire(tmp_path) as sent:
        for key in ("fresh-1", "fresh-2"):
            with transaction.atomic():
                assert reserve(key) is None
                transaction.set_rollback(True)
    assert [message.split(" ", 1)[0] for message in sent] == ["Query"] * 4
    first, rollback, second, _ = sent
    assert re.match(r'Query "BEGIN; PREPARE (idempotency_\w+) AS WITH base AS', first)
    name = re.search(r"PREPARE (\w+)", first).group(1)
    assert f"; EXECUTE {name}(" in first and "ROLLBACK" in rollback
    # Prepared once: the rollback kept it, and the next reservation only runs it.
    assert second.startswith(f'Query "BEGIN; EXECUTE {name}(') and "fresh-2" in second


def test_a_statement_dropped_behind_its_back_fails_one_request_then_is_prepared_again():
    connection.close()
    with transaction.atomic():
        assert reserve("before") is None
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # e.g. a pooler's reset, or another library's
    with pytest.raises(DatabaseError, match="does not exist"), transaction.atomic():
        reserve("lost")
    with transaction.atomic():
        assert reserve("after") is None
    assert set(services.IdempotencyRecord.objects.values_list("key", flat=True)) >= {
        "before", "after"}
    assert not services.IdempotencyRecord.objects.filter(key="lost").exists()


@pytest.mark.parametrize("setting", [{"DISABLE_SERVER_SIDE_CURSORS": True},
                                     {"OPTIONS": {"prepare_threshold": 5}}],
                         ids=["behind a transaction pooler", "psycopg prepares itself"])
def test_nothing_is_prepared_where_a_prepared_statement_would_not_last(tmp_path, setting):
    settings_dict = connection.settings_dict
    saved = {name: settings_dict.get(name) for name in setting}
    connection.close()
    settings_dict.update({name: {**(saved[name] or {}), **value} if isinstance(value, dict)
                          else value for name, value in setting.items()})
    try:
        with wire(tmp_path) as sent, transaction.atomic():
            assert reserve("plain") is None
            transaction.set_rollback(True)
    finally:
        connection.close()
        settings_dict.update(saved)
    assert sent[0].startswith('Query "BEGIN; WITH base AS') and "PREPARE" not in sent[0]


def test_the_merged_begin_opens_one_transaction_that_django_ends():
    """The row dies with a rollback, and the connection is back in autocommit afterwards."""
    with transaction.atomic():
        assert reserve("rolled-back") is None
        assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        transaction.set_rollback(True)
    assert not services.IdempotencyRecord.objects.filter(key="rolled-back").exists()
    assert connection.get_autocommit() and connection.connection.autocommit
    complete("committed")  # and the next request's transaction works as usual
    assert services.IdempotencyRecord.objects.get(key="committed").response_status == 201


def test_inside_an_outer_transaction_the_statement_goes_alone():
    with transaction.atomic():
        services.IdempotencyRecord.objects.exists()  # the outer transaction has begun
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            assert reserve("nested") is None
        transaction.set_rollback(True)
    sent = statements(queries)
    assert sent[0].startswith("SAVEPOINT") and "BEGIN" not in sent[1]
    assert "EXECUTE idempotency_" in sent[1]


def test_a_completed_key_answers_its_stored_response_from_the_same_statement():
    complete("done")
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        stored = reserve("done")
        transaction.set_rollback(True)
    assert (stored.status, stored.body, stored.headers) == (STORED.status, STORED.body,
                                                            STORED.headers)
    assert stored.expires_at > timezone.now()
    assert len(statements(queries)) == 1


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
