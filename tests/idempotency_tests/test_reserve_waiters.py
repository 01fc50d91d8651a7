"""Several requests wait on one key whose holder rolls back: one takes over, the rest replay.

On InnoDB the waiters of a rolled-back insert each hold a shared lock on the
duplicate index record and all want the exclusive one: InnoDB breaks that
deadlock by rolling one back whole (error 1213). `services.reserve` retries
the victim, which then waits on the winner like any other waiter
(docs/idempotency.md, "MariaDB"). The rounds run on every engine; the
deadlocks are counted on MariaDB.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from idempotency import services
from idempotency.models import IdempotencyRecord
from idempotency.services import StoredResponse

pytestmark = pytest.mark.django_db(transaction=True)

WAITERS = 3
ROUNDS = 12
PRINCIPAL = "user:1"
FINGERPRINT = "f" * 64
MADE = b'{"made": true}'


def reserve(key: str) -> StoredResponse | None:
    return services.reserve(
        principal=PRINCIPAL, key=key, fingerprint=FINGERPRINT, method="POST", path="/api/x/",
        wait_seconds=20, expires_at=timezone.now() + timedelta(hours=1),
    )


def waiter(key: str, outcomes: list[str]) -> None:
    """Reserve `key` as a request would; run the "view" if it is ours, else replay."""
    try:
        with transaction.atomic():
            stored = reserve(key)
            if stored is None:
                services.complete(principal=PRINCIPAL, key=key, response=StoredResponse(
                    fingerprint=FINGERPRINT, status=201, body=MADE))
                outcomes.append("ran")
            else:
                outcomes.append("replayed" if stored.body == MADE else f"odd {stored!r}")
    except Exception as exc:  # the test reports it; a request would answer it
        outcomes.append(f"error {exc!r}")
    finally:
        connection.close()


def innodb_deadlocks() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")
        return int(cursor.fetchone()[1])


def run_round(key: str) -> list[str]:
    outcomes: list[str] = []
    threads = [threading.Thread(target=waiter, args=(key, outcomes)) for _ in range(WAITERS)]
    with transaction.atomic():
        assert reserve(key) is None  # the holder
        for thread in threads:
            thread.start()
        time.sleep(0.4)  # every waiter is now blocked on the holder's row
        transaction.set_rollback(True)  # the holder's request failed
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_waiters_of_a_rolled_back_key_run_it_once_and_replay_it():
    mariadb = connection.vendor == "mysql"
    deadlocks_before = innodb_deadlocks() if mariadb else 0
    for n in range(ROUNDS):
        key = f"rolled-back-{n}"
        outcomes = run_round(key)
        assert sorted(outcomes) == ["ran"] + ["replayed"] * (WAITERS - 1), outcomes
        record = IdempotencyRecord.objects.get(key=key, principal=PRINCIPAL)
        assert bytes(record.response_body) == MADE
    if mariadb:
        # Not asserted (InnoDB's timing decides), but shown: the retry path ran.
        print(f"InnoDB deadlocks over {ROUNDS} rounds: {innodb_deadlocks() - deadlocks_before}")
