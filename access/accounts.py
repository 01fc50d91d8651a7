"""Which account a login name names, and the key its failed logins count under.

A login name matches an account only when it is the account's name, exactly,
on every engine: MariaDB's collations fold case, accents and trailing spaces
(`Admin`, `admin ` and `ädmin` are `admin` to them), so the lookup's rows are
compared again in Python.

Failures count per account, not per spelling: under the account's primary key
when the engine's lookup finds one (on MariaDB also for `Admin`), else under
the name folded as such collations fold it (case, compatibility forms, accents,
trailing spaces), so that no spelling gets a count of its own.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model


@dataclass(frozen=True)
class Account:
    """What a login name resolves to: the user it names exactly (or None), and its count key."""

    user: Any
    key: str


def fold(name: str) -> str:
    """Return `name` without case, compatibility forms, accents and trailing spaces."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", bare).casefold().rstrip(" ")


def resolve(name: str) -> Account:
    """Return the account `name` logs in as (exact match only) and the key its failures count under."""
    if "\x00" in name:
        # No user has one (forms refuse NUL), and PostgreSQL cannot compare it.
        return Account(None, f"name:{fold(name)}")
    model = get_user_model()
    field = model.USERNAME_FIELD
    # Two at most: a unique name has one row, even under a folding collation.
    found = list(model._default_manager.filter(**{field: name})[:2])
    exact = next((user for user in found if getattr(user, field) == name), None)
    counted = exact or (found[0] if len(found) == 1 else None)
    key = f"pk:{counted.pk}" if counted is not None else f"name:{fold(name)}"
    return Account(exact, key)


def keys_for(name: str) -> list[str]:
    """Return every count key failures for `name` can have been counted under."""
    keys = [resolve(name).key, f"name:{fold(name)}"]
    return list(dict.fromkeys(keys))
