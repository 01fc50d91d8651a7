"""The site's metrics (docs/operations.md, "Metrics", says what each means).

prometheus_client picks its value class when it is first imported: under
gunicorn, `gunicorn.conf.py` has set PROMETHEUS_MULTIPROC_DIR by then, so each
process writes its own files and a scrape adds them up; without it (runserver,
tests in one process) the values live in this process.

Labels are bounded: a route template, a method, a status, an outcome or
state from a fixed list, a backend name from the settings. Never a slug, a
key, a user name or an address.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No `_created` series: the multiprocess mode has none, so one process shows
# the same metrics as a gunicorn master.
disable_created_metrics()

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SHARE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.1, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

http_request_duration = Histogram(
    "taos_http_request_duration_seconds",
    "Requests by route template, method and status: how long each took (its _count counts them)",
    ["route", "method", "status"], buckets=LATENCY_BUCKETS)
http_request_db = Histogram(
    "taos_http_request_db_seconds",
    "Time a request spent in database statements, by route template",
    ["route"], buckets=SHARE_BUCKETS)
http_request_cache = Histogram(
    "taos_http_request_cache_seconds",
    "Time a request spent in cache calls, by route template",
    ["route"], buckets=SHARE_BUCKETS)

idempotency_requests = Counter(
    "taos_idempotency_requests",
    "Requests with an Idempotency-Key, by route template and outcome (one each)",
    ["route", "outcome"])
idempotency_stored = Counter(
    "taos_idempotency_stored",
    "First runs whose success was stored for replays, by route template", ["route"])
idempotency_wait = Histogram(
    "taos_idempotency_wait_seconds",
    "How long the reservation statement took, i.e. waited for the key's holder, by route",
    ["route"], buckets=WAIT_BUCKETS)
idempotency_slots = Gauge(
    "taos_idempotency_slots_in_use",
    "Keyed requests holding one of their key's slots: running as the key's holder or "
    "waiting for it", multiprocess_mode="livesum")

auth_attempts = Counter(
    "taos_auth_attempts",
    "Credentials checked, by method and outcome (success or the error code answered)",
    ["method", "outcome"])

agent_token_events = Counter(
    "taos_agent_token_events",
    "Agent tokens issued, rotated and revoked (counted when the service does it, so a "
    "transaction rolled back later still counts), and issues lost to an active token (409)",
    ["event"])

deploy_job_duration = Histogram(
    "taos_deploy_job_duration_seconds",
    "Deploy job attempts by the state they ended in and backend: how long each ran",
    ["state", "backend"], buckets=JOB_BUCKETS)
deploy_stale = Counter(
    "taos_deploy_stale_marked",
    "Deploys the stale sweep marked failed, by the state their job died in", ["state"])
