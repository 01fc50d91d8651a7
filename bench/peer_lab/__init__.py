"""A small Django project for the peer column: one model, one DRF create view, three sides.

The same model, view and settings served by gunicorn (harness/, 4 sync
workers) in four ways, chosen by PEER_LAB_SIDE when the server starts:

- `control`: no idempotency at all;
- `drf`: drf-idempotency 1.0.0's middleware with its Redis backend (it
  needs Redis; on an engine without it the side does not run);
- `ours`: this repository's `@idempotent` on the view, with the Redis fast
  path when PEER_LAB_REDIS_URL is set and IDEMPOTENCY_REDIS_FAST_PATH is
  not 0, else the database path.

bench/scenarios/peer.py starts them and measures them side by side in one
run. Nothing here is imported by the site, nor by the tests.
"""
