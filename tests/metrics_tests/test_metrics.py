"""/metrics in one process: who may scrape, what it counts, and that a scrape writes nothing.

Counters are global to the process, so each test compares a scrape before
and after what it does. The live tests (tests/e2e/test_metrics_live.py) sum
four gunicorn workers and the deploy worker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from agents.services import agent_create
from deploys.jobs import deploy_mark_stale
from deploys.models import DeployTask
from deploys.services import deploy_create
from tests.support.deploy_command import DeployCommand
from tests.support.http_auth import PASSWORD, basic_auth, operator_bearer
from tests.support.queries import writes
from tests.support.scrape import Samples, parse, value
from tests.support.task_workers import run_queued_jobs
from tokens import services as token_services
from tokens.errors import TokenAlreadyActive

VIEW_METRICS = "metrics.view_metrics"


@pytest.fixture
def scraper(make_user) -> APIClient:
    """A client with an operator token whose user may scrape."""
    user = make_user("prometheus", perms=(VIEW_METRICS,))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=operator_bearer(user))
    return client


def scrape(client: APIClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return parse(response.content.decode())


# --- who may scrape -------------------------------------------------------------

def test_anonymous_is_refused_with_401_problem(anon):
    response = anon.get("/metrics")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"
    assert b"taos_" not in response.content


def test_a_token_without_the_permission_is_refused_with_403(make_user):
    user = make_user("no-metrics", perms=("agents.view_agent",))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=operator_bearer(user))
    response = client.get("/metrics")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_superuser_session_and_a_permitted_token_may_scrape(scraper, browser):
    assert "taos_http_request_duration_seconds" in scraper.get("/metrics").content.decode()
    assert browser.get("/metrics").status_code == 200


def test_an_allowed_address_may_scrape_without_credentials(db, anon, settings):
    settings.TAOS_METRICS_ALLOW = ["10.0.0.0/8", "127.0.0.1"]
    assert anon.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    settings.TAOS_METRICS_ALLOW = ["10.0.0.0/8"]
    assert anon.get("/metrics").status_code == 401


def test_the_allow_list_sees_the_client_through_trusted_proxies_only(db, anon, settings):
    settings.TAOS_METRICS_ALLOW = ["192.0.2.10"]
    # Not a trusted proxy: its X-Forwarded-For is not believed.
    assert anon.get("/metrics", HTTP_X_FORWARDED_FOR="192.0.2.10").status_code == 401
    settings.TAOS_TRUSTED_PROXIES = ["127.0.0.1"]
    assert anon.get("/metrics", HTTP_X_FORWARDED_FOR="192.0.2.10").status_code == 200
    assert anon.get("/metrics", HTTP_X_FORWARDED_FOR="192.0.2.11").status_code == 401


def test_a_bad_allow_list_entry_fails_the_check(settings):
    from metrics.checks import check_metrics_allow

    settings.TAOS_METRICS_ALLOW = ["10.0.0.0/8", "not-an-address"]
    [error] = check_metrics_allow()
    assert error.id == "metrics.E001" and "TAOS_METRICS_ALLOW" in error.msg


def test_metrics_off_answers_404(scraper, settings):
    settings.TAOS_METRICS = False
    assert scraper.get("/metrics").status_code == 404


def test_a_scrape_writes_nothing(scraper, make_user):
    deploy_create(display_name="Queued Bot", framework="f", model="m")
    scraper.get("/metrics")  # the token's last-used stamp, at most once a minute
    with CaptureQueriesContext(connection) as queries:
        samples = scrape(scraper)
    assert writes(queries) == []
    assert value(samples, "taos_deploy_queue_depth") >= 0


# --- what it counts ---------------------------------------------------------------

def test_requests_count_by_route_template_never_by_slug(scraper, api):
    agent = agent_create(display_name="Label Bot")
    before = scrape(scraper)
    assert api.get(f"/api/agents/{agent.name}/").status_code == 200
    after = scrape(scraper)
    name = "taos_http_request_duration_seconds_count"
    route = "/api/agents/(?P<slug>[a-z0-9-]+)/"  # DRF's router writes regular expressions
    labels = {"route": route, "method": "GET", "status": "200"}
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    assert value(after, "taos_http_request_db_seconds_count", route=route) > 0
    assert agent.name not in "".join(str(key) for key in after)


def test_keyed_creates_count_first_run_stored_and_replays(scraper, api):
    before = scrape(scraper)
    headers = {"HTTP_IDEMPOTENCY_KEY": "metrics-1"}
    for _ in range(2):
        assert api.post("/api/agents/", {"display_name": "Keyed Bot"}, format="json",
                        **headers).status_code == 201
    assert api.post("/api/agents/", {"display_name": "Other Bot"}, format="json",
                    **headers).status_code == 422
    after = scrape(scraper)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, route="/api/agents/", **labels) - value(
            before, name, route="/api/agents/", **labels)

    assert delta("taos_idempotency_requests_total", outcome="first_run") == 1
    assert delta("taos_idempotency_stored_total") == 1
    replayed = sum(delta("taos_idempotency_requests_total", outcome=o)
                   for o in ("replayed_redis", "replayed_database", "replayed_after_wait"))
    assert replayed == 1
    assert delta("taos_idempotency_requests_total", outcome="refused_reused") == 1
    assert delta("taos_idempotency_requests_total") == 3
    assert delta("taos_idempotency_wait_seconds_count") >= 2  # the reservation ran twice
    assert value(after, "taos_idempotency_slots_in_use") == 0


def test_authentication_outcomes_by_method(scraper, make_user, settings, anon):
    settings.TAOS_API_BASIC_AUTH = True
    make_user("basic-user", perms=("agents.view_agent",))
    before = scrape(scraper)
    assert anon.get("/api/agents/", HTTP_AUTHORIZATION=basic_auth("basic-user", "wrong")
                    ).status_code == 401
    assert anon.get("/api/agents/", HTTP_AUTHORIZATION=basic_auth("basic-user")
                    ).status_code == 200
    assert anon.get("/api/agents/", HTTP_AUTHORIZATION="Bearer taosop_" + "x" * 40
                    ).status_code == 401
    after = scrape(scraper)

    def delta(**labels: str) -> float:
        return (value(after, "taos_auth_attempts_total", **labels)
                - value(before, "taos_auth_attempts_total", **labels))

    assert delta(method="basic", outcome="authentication_failed") == 1
    assert delta(method="basic", outcome="success") == 1
    # A password check reads the lockout counters in the cache: its time is counted.
    cache = "taos_http_request_cache_seconds_sum"
    assert value(after, cache, route="/api/agents/") > value(before, cache, route="/api/agents/")
    assert delta(method="operator_token", outcome="success") == 1  # the scrape itself
    bearer_failures = sum(delta(method=m) for m in ("bearer", "operator_token")) - 1
    assert bearer_failures == 1
    assert "basic-user" not in "".join(str(key) for key in after)


def test_token_events_are_counted(scraper):
    agent = agent_create(display_name="Token Bot")
    before = scrape(scraper)
    token_services.token_issue(agent=agent)
    with pytest.raises(TokenAlreadyActive):
        token_services.token_issue(agent=agent)
    token_services.token_rotate(agent=agent)
    token_services.token_revoke(agent=agent)
    token_services.token_revoke(agent=agent)  # none active: nothing revoked, nothing counted
    after = scrape(scraper)

    def delta(event: str) -> float:
        return (value(after, "taos_agent_token_events_total", event=event)
                - value(before, "taos_agent_token_events_total", event=event))

    assert [delta(e) for e in ("issued", "issue_conflict", "rotated", "revoked")] == [1, 1, 1, 1]


def test_deploys_by_state_job_duration_and_stale_sweeps(scraper, settings, tmp_path,
                                                         django_capture_on_commit_callbacks):
    recorder = DeployCommand(tmp_path / "deploys.jsonl")
    settings.DEPLOY_BACKEND, settings.DEPLOY_COMMAND = "command", recorder.command()
    with django_capture_on_commit_callbacks(execute=True):
        task = deploy_create(display_name="Deploy Bot", framework="f", model="m")
    before = scrape(scraper)
    assert value(before, "taos_deploys", state="queued", backend="command") == 1
    assert value(before, "taos_deploy_queue_depth") == 1
    assert run_queued_jobs() == 1
    assert DeployTask.objects.get(pk=task.pk).state == "succeeded"
    with django_capture_on_commit_callbacks(execute=True):
        stale = deploy_create(display_name="Stale Bot", framework="f", model="m")
    then = timezone.now() - timedelta(seconds=settings.DEPLOY_STALE_SECONDS + 1)
    DeployTask.objects.filter(pk=stale.pk).update(state="running", attempts=1,
                                                 started_at=then, heartbeat_at=then)
    assert deploy_mark_stale() == 1
    after = scrape(scraper)
    name = "taos_deploy_job_duration_seconds_count"
    assert (value(after, name, state="succeeded", backend="command")
            - value(before, name, state="succeeded", backend="command")) == 1
    assert (value(after, "taos_deploy_stale_marked_total", state="running")
            - value(before, "taos_deploy_stale_marked_total", state="running")) == 1
    assert value(after, "taos_deploys", state="succeeded", backend="command") == 1
    assert value(after, "taos_deploys", state="failed", backend="command") == 1  # the stale one
    assert value(after, "taos_deploy_queue_depth") == 0


def test_the_admin_login_counts_as_session(scraper, make_user, client):
    make_user("admin-user", superuser=True)
    before = scrape(scraper)
    client.post("/admin/login/", {"username": "admin-user", "password": "wrong"})
    client.post("/admin/login/", {"username": "admin-user", "password": PASSWORD})
    after = scrape(scraper)

    def delta(outcome: str) -> float:
        return (value(after, "taos_auth_attempts_total", method="session", outcome=outcome)
                - value(before, "taos_auth_attempts_total", method="session", outcome=outcome))

    assert (delta("authentication_failed"), delta("success")) == (1, 1)
