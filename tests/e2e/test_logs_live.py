"""TAOS_LOG_FORMAT=json under real gunicorn: every line JSON, request IDs everywhere, no secret.

The master, its web workers, their access log and the deploy worker the
master forks all write to the one log file the harness collects (stdout and
stderr). docs/logging.md.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
from typing import Any

import httpx
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User

from deploys.models import DeployTask
from harness.processes import wait_until
from tests.support.deploy_command import DeployCommand
from tests.support.http_auth import basic_auth
from tokens.services import operator_token_create

pytestmark = [pytest.mark.live]

NEW_ID = re.compile(r"[0-9a-f]{32}")
AGENT = {"display_name": "Log Bot", "framework": "f", "model": "m"}
CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def recorder(tmp_path) -> DeployCommand:
    return DeployCommand(tmp_path / "deploys.jsonl")


@pytest.fixture
def json_server(gunicorn_factory, recorder, settings):
    # --print-token: the command prints its token; the job must redact it.
    command = recorder.command(print_token=True)
    settings.DEPLOY_BACKEND, settings.DEPLOY_COMMAND = "command", command
    return gunicorn_factory(workers=4, TAOS_LOG_FORMAT="json", TAOS_DEPLOY_WORKERS="1",
                            DEPLOY_BACKEND="command", DEPLOY_COMMAND=command)


def _records(server) -> tuple[str, list[dict[str, Any]]]:
    """Return the log's text and its lines, each parsed (a line that is not JSON fails)."""
    text = server.log_path.read_text()
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            record = json.loads(line)
        except ValueError:
            pytest.fail(f"log line {number} is not JSON: {line!r}")
        assert isinstance(record, dict), line
        records.append(record)
    return text, records


def _wait_deployed(name: str) -> DeployTask:
    def done():
        task = DeployTask.objects.filter(agent__name=name).order_by("-id").first()
        return task if task is not None and task.state in ("succeeded", "failed") else None
    task = wait_until(done, timeout=60, interval=0.2, what=f"the deploy of {name}")
    assert task.state == "succeeded", task.error
    return task


def test_a_full_run_logs_json_lines_with_request_ids_and_no_secret(json_server, recorder):
    server = json_server
    password = secrets.token_urlsafe(18)
    wrong_passwords = [secrets.token_urlsafe(18) for _ in range(3)]
    User.objects.create_superuser("logadmin", "", password)
    operator = operator_token_create(user=User.objects.get(username="logadmin"), name="logs")
    client = httpx.Client(base_url=server.url, timeout=60)
    seen_ids: list[str] = []

    def call(method: str, path: str, *, expect: int, **kwargs: Any) -> httpx.Response:
        response = client.request(method, path, **kwargs)
        assert response.status_code == expect, (method, path, response.text[:300])
        seen_ids.append(response.headers["X-Request-ID"])
        return response

    as_operator = {"Authorization": f"Bearer {operator.secret}"}
    # Wrong passwords: HTTP Basic, then the admin's login form; then the right ones.
    call("GET", "/api/agents/", expect=401,
         headers={"Authorization": basic_auth("logadmin", wrong_passwords[0])})
    page = call("GET", "/admin/login/", expect=200)
    form = {"csrfmiddlewaretoken": CSRF_RE.findall(page.text)[0], "username": "logadmin",
            "next": "/admin/"}
    call("POST", "/admin/login/", expect=200, data={**form, "password": wrong_passwords[1]})
    call("POST", "/admin/login/", expect=302, data={**form, "password": password})
    call("GET", "/admin/", expect=200)
    call("GET", "/api/agents/", expect=200,
         headers={"Authorization": basic_auth("logadmin", password)})
    # The operator token: agents, their tokens issued, rotated, used, revoked.
    created = call("POST", "/api/agents/", expect=201, json={"display_name": "Secret Keeper"},
                   headers={**as_operator, "Idempotency-Key": "logs-create-1"})
    call("POST", "/api/agents/", expect=201, json={"display_name": "Secret Keeper"},
         headers={**as_operator, "Idempotency-Key": "logs-create-1"})  # a replay
    slug = created.json()["name"]
    issued = call("POST", f"/api/agents/{slug}/token/", expect=201, headers=as_operator).json()
    rotated = call("POST", f"/api/agents/{slug}/token/rotate/", expect=200,
                   headers=as_operator).json()
    call("GET", "/api/agent/me/", expect=200,
         headers={"Authorization": f"Bearer {rotated['token']}"})
    call("GET", "/api/agent/me/", expect=401,
         headers={"Authorization": f"Bearer {issued['token']}"})  # rotated away
    call("DELETE", f"/api/agents/{slug}/token/", expect=204, headers=as_operator)
    call("GET", "/api/agents/", expect=401,
         headers={"Authorization": basic_auth("logadmin", wrong_passwords[2])})
    # A deploy through the master's deploy worker: the job rotates the token
    # and hands it to the command, which prints it.
    deployed = call("POST", "/api/agents/deploy/", expect=202, json=AGENT,
                    headers={**as_operator, "Idempotency-Key": "logs-deploy-1"})
    deployed_name = deployed.json()["agent"]["name"]
    _wait_deployed(deployed_name)
    [start] = [s for s in recorder.starts() if s["slug"] == deployed_name]
    assert start["token"]

    web_workers = set(server.worker_pids())
    [deploy_worker] = server.deploy_worker_pids()
    server.stop()
    text, records = _records(server)

    # Every line is JSON with the common members.
    for record in records:
        assert {"timestamp", "level", "logger", "message", "request_id"} <= record.keys()
    # Every line a web worker logged, but gunicorn's own about the worker, is a request's.
    for record in records:
        if record["process"] in web_workers and record["logger"] != "gunicorn.error":
            assert record["request_id"], record
    # Each of the test's requests has its request line and its access line, with its ID.
    request_lines = {r["request_id"]: r for r in records
                     if r["logger"] == "request_context.requests"}
    access_lines = {r["request_id"]: r for r in records if r["logger"] == "gunicorn.access"}
    assert len(set(seen_ids)) == len(seen_ids)
    for request_id in seen_ids:
        assert request_id in request_lines and request_id in access_lines, request_id
        assert request_lines[request_id]["status"] == access_lines[request_id]["status"]
    line = request_lines[seen_ids[seen_ids.index(created.headers["X-Request-ID"])]]
    assert line["route"] == "/api/agents/" and line["status"] == 201
    assert line["principal"] == f"operatortoken:{operator.token.pk}"
    assert isinstance(line["duration"], float)
    # The deploy job's lines carry the ID of the request that queued it.
    job_lines = [r for r in records
                 if r["process"] == deploy_worker and r["logger"] == "deploys.jobs"]
    assert job_lines
    assert {r["request_id"] for r in job_lines} == {deployed.headers["X-Request-ID"]}

    secrets_made = {
        "the password": password, "the operator token": operator.secret,
        "the issued token": issued["token"], "the rotated token": rotated["token"],
        "the deploy's token": start["token"], "TOKENS_PEPPER": django_settings.TOKENS_PEPPER,
        "SECRET_KEY": django_settings.SECRET_KEY,
        **{f"wrong password {n}": wrong for n, wrong in enumerate(wrong_passwords)},
    }
    for what, secret in secrets_made.items():
        assert len(secret) >= 16, what
        for form_of_it in {secret, json.dumps(secret)[1:-1]}:
            assert form_of_it not in text, f"{what} is in the log"


def _raw_get(url: str, request_id: bytes) -> tuple[int, dict[str, str], bytes]:
    """GET /api/agents/ with a raw X-Request-ID (no client library checks it)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"GET /api/agents/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     b"X-Request-ID: " + request_id + b"\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for header in header_lines:
        name, _, value = header.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def test_the_request_id_is_the_same_in_header_error_body_and_deploy_job(json_server):
    server = json_server
    User.objects.create_superuser("traceadmin", "", "trace-password-1")
    operator = operator_token_create(user=User.objects.get(username="traceadmin"), name="t")
    as_operator = {"Authorization": f"Bearer {operator.secret}"}
    client = httpx.Client(base_url=server.url, timeout=60)

    # A 4xx: the ID the client sent, then one it did not send.
    sent = 'client/trace-1:"quoted"~'
    refused = client.post("/api/agents/", json={"display_name": "!!!"},
                          headers={**as_operator, "X-Request-ID": sent})
    assert refused.status_code == 400
    assert refused.headers["X-Request-ID"] == sent == refused.json()["request_id"]
    unnamed = client.get("/api/agents/nobody/", headers=as_operator)
    assert unnamed.status_code == 404
    assert NEW_ID.fullmatch(unnamed.headers["X-Request-ID"])
    assert unnamed.json()["request_id"] == unnamed.headers["X-Request-ID"]

    # Deploys: one with the client's ID, one without.
    with_id = client.post("/api/agents/deploy/", json={**AGENT, "display_name": "Traced"},
                          headers={**as_operator, "X-Request-ID": "deploy-trace-2"})
    without_id = client.post("/api/agents/deploy/", json={**AGENT, "display_name": "Untraced"},
                             headers=as_operator)
    assert with_id.status_code == without_id.status_code == 202
    assert with_id.headers["X-Request-ID"] == "deploy-trace-2"
    generated = without_id.headers["X-Request-ID"]
    assert NEW_ID.fullmatch(generated)
    tasks = {name: _wait_deployed(name) for name in (with_id.json()["agent"]["name"],
                                                      without_id.json()["agent"]["name"])}

    # Invalid IDs are replaced (gunicorn itself refuses a control character).
    for invalid in [b"x" * 129, "caf\u00e9".encode(), b"two words", b"tab\there"]:
        status, headers, _ = _raw_get(server.url, invalid)
        assert status == 401
        assert NEW_ID.fullmatch(headers["x-request-id"]), invalid
    status, headers, _ = _raw_get(server.url, b"bell\x07")
    assert status == 400 and "x-request-id" not in headers  # never reached the site

    [deploy_worker] = server.deploy_worker_pids()
    server.stop()
    _, records = _records(server)
    for request_id, task in zip(["deploy-trace-2", generated], tasks.values(), strict=True):
        job_lines = [r for r in records if r["process"] == deploy_worker
                     and r["logger"] == "deploys.jobs" and f"task {task.pk} " in r["message"]]
        assert any("claimed" in r["message"] for r in job_lines)
        assert any("succeeded" in r["message"] for r in job_lines)
        assert {r["request_id"] for r in job_lines} == {request_id}
    # The 4xx's lines in the worker that served it: its request line and Django's.
    lines_of_refused = {r["logger"] for r in records if r["request_id"] == sent}
    assert {"request_context.requests", "django.request", "gunicorn.access"} <= lines_of_refused
