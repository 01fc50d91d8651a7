"""Retention: expired keys are purged in batches; live keys stay."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from idempotency import services
from idempotency.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def make_records(count: int, *, expired: bool, prefix: str) -> None:
    now = timezone.now()
    expires_at = now - timedelta(seconds=1) if expired else now + timedelta(hours=1)
    IdempotencyRecord.objects.bulk_create([
        IdempotencyRecord(principal="user:1", key=f"{prefix}-{n}", method="POST",
                          path="/api/agents/", fingerprint="0" * 64, response_status=201,
                          response_body=b"{}", response_headers={}, expires_at=expires_at)
        for n in range(count)
    ])


def remaining_keys() -> set[str]:
    return set(IdempotencyRecord.objects.values_list("key", flat=True))


def test_command_deletes_expired_rows_and_keeps_live_ones():
    make_records(3, expired=True, prefix="old")
    make_records(2, expired=False, prefix="live")
    out = StringIO()
    call_command("purge_idempotency_keys", stdout=out)
    assert remaining_keys() == {"live-0", "live-1"}
    assert "Deleted 3 expired" in out.getvalue()


def test_command_dry_run_changes_nothing():
    make_records(3, expired=True, prefix="old")
    make_records(1, expired=False, prefix="live")
    out = StringIO()
    call_command("purge_idempotency_keys", "--dry-run", stdout=out)
    assert IdempotencyRecord.objects.count() == 4
    assert "Would delete 3 expired" in out.getvalue()


def test_command_deletes_in_batches_of_the_given_size(django_assert_num_queries):
    make_records(5, expired=True, prefix="old")
    # 3 batches (2 + 2 + 1) of select-ids + delete; the short last batch ends
    # it without a final empty select.
    with django_assert_num_queries(6):
        call_command("purge_idempotency_keys", "--batch-size", "2", stdout=StringIO())
    assert IdempotencyRecord.objects.count() == 0


def test_full_last_batch_ends_with_one_empty_select(django_assert_num_queries):
    make_records(4, expired=True, prefix="old")
    with django_assert_num_queries(5):  # 2 x (select + delete), then an empty select
        call_command("purge_idempotency_keys", "--batch-size", "2", stdout=StringIO())
    assert IdempotencyRecord.objects.count() == 0


def test_command_refuses_batch_size_below_one():
    with pytest.raises(CommandError):
        call_command("purge_idempotency_keys", "--batch-size", "0", stdout=StringIO())


def test_purge_of_a_queryset_touches_only_its_expired_rows():
    make_records(2, expired=True, prefix="old")
    make_records(1, expired=False, prefix="live")
    selected = IdempotencyRecord.objects.filter(key__in=["old-0", "live-0"])
    assert services.purge_expired(queryset=selected) == 1
    assert remaining_keys() == {"old-1", "live-0"}
