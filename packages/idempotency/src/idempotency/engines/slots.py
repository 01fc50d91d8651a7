"""A key's slots, as every engine counts them: how many, and the digest of (principal, key).

At most the holder and `IDEMPOTENCY_WAITERS_PER_KEY` waiters of a key go past
admission at once (the package README, "Fair waiting"); each engine
keeps the slots where every worker sees them (postgresql.py: advisory
locks; mysql.py: named locks; sqlite.py: lock files).
"""

from __future__ import annotations

import hashlib

from idempotency import conf

# PostgreSQL's advisory lock ids keep the slot number in their low bits.
SLOT_BITS = 4
MAX_SLOTS = 1 << SLOT_BITS


def slot_count() -> int:
    """Return how many requests of one key may be admitted at once: the holder and its waiters."""
    return min(MAX_SLOTS, 1 + max(0, int(conf.get("WAITERS_PER_KEY"))))


def digest(principal: str, key: str) -> bytes:
    """Return the SHA-256 of (principal, key) that the slots of the key are named after."""
    return hashlib.sha256(f"{principal}\n{key}".encode()).digest()
