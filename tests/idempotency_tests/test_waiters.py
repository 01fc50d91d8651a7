"""A key's slots: the holder and IDEMPOTENCY_WAITERS_PER_KEY waiters, no more."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from idempotency.engines import slots
from idempotency.engines.postgresql import slot_lock_base
from idempotency.engines.sqlite import file_slot, slot_dir


def test_slot_count_is_the_holder_and_its_waiters(settings):
    settings.IDEMPOTENCY_WAITERS_PER_KEY = 2
    assert slots.slot_count() == 3


def test_lock_ids_of_a_key_differ_in_the_slot_bits_only():
    base = slot_lock_base("user:1", "key")
    assert base % slots.MAX_SLOTS == 0
    assert -(2 ** 63) <= base < 2 ** 63 - slots.MAX_SLOTS
    assert base != slot_lock_base("user:2", "key")


def test_file_slots_admit_the_holder_and_its_waiters_then_refuse(settings, tmp_path):
    settings.IDEMPOTENCY_SLOT_DIR = str(tmp_path / "slots")
    settings.IDEMPOTENCY_WAITERS_PER_KEY = 2
    with contextlib.ExitStack() as held:
        taken = [held.enter_context(file_slot(principal="user:1", key="k"))
                 for _ in range(3)]
        assert taken == [True, True, True]
        with file_slot(principal="user:1", key="k") as fourth:
            assert fourth is False
        with file_slot(principal="user:1", key="other-key") as other:
            assert other is True
    with file_slot(principal="user:1", key="k") as again:
        assert again is True  # closing the files gave the slots back


@pytest.mark.django_db
def test_sqlite_slot_files_live_beside_the_database(settings):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    settings.IDEMPOTENCY_SLOT_DIR = ""
    assert slot_dir().name.endswith("-idempotency-slots")


def test_slot_files_of_a_database_in_memory_live_under_the_temporary_directory(settings,
                                                                                monkeypatch):
    import tempfile

    from django.db import connection

    settings.IDEMPOTENCY_SLOT_DIR = ""
    monkeypatch.setitem(connection.settings_dict, "NAME", ":memory:")
    assert slot_dir().parent == Path(tempfile.gettempdir())
    assert slot_dir().name.startswith("idempotency-slots-")
