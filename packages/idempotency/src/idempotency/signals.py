"""Signals sent along a keyed request's way, for whoever counts them (metrics).

The package counts nothing itself and imports no metrics library: a project
connects receivers (the package README, "Signals"). Each is sent with
`sender=None` and the request (DRF's `Request`); nothing is sent for a
request that does not take part (a safe method, no key, no principal).

- `outcome`: once per keyed request, `outcome=` one of `OUTCOMES`.
- `stored`: a first run's success was stored with its effects.
- `slot_taken` / `slot_released`: the request took one of its key's slots
  (it holds the key, or waits for its holder) / gave it back.
- `reserved`: the reservation statement returned (or refused), `seconds=`
  how long it took, which is how long the request waited for the key's holder.

Receivers run in the request's path: keep them cheap, and never raise.
"""

from __future__ import annotations

from django.dispatch import Signal

FIRST_RUN = "first_run"
REPLAYED_REDIS = "replayed_redis"
REPLAYED_DATABASE = "replayed_database"
# Replayed from the reservation statement after it waited for the key's
# holder to finish (it blocked for at least WAITED_SECONDS).
REPLAYED_AFTER_WAIT = "replayed_after_wait"
REFUSED_IN_USE = "refused_in_use"  # 409: the holder outlasted IDEMPOTENCY_WAIT_SECONDS
REFUSED_NO_SLOT = "refused_no_slot"  # 409 at once: the key's slots were all taken
REFUSED_REUSED = "refused_reused"  # 422: the key was used with another request
REFUSED_INVALID = "refused_invalid"  # 400/413/428: a bad or missing key, a body too large
ERROR = "error"  # any other error of the package
OUTCOMES = (FIRST_RUN, REPLAYED_REDIS, REPLAYED_DATABASE, REPLAYED_AFTER_WAIT,
            REFUSED_IN_USE, REFUSED_NO_SLOT, REFUSED_REUSED, REFUSED_INVALID, ERROR)

# An uncontended reservation statement takes about a millisecond; one that
# took this long waited for the key's holder.
WAITED_SECONDS = 0.01

outcome = Signal()
stored = Signal()
slot_taken = Signal()
slot_released = Signal()
reserved = Signal()
