"""`Client`: every operation of the control plane's API, retried the way the server expects.

One logical call is one `Idempotency-Key` (made here, or given by the
caller) and one body, serialised once: every retry sends the same key and
the same bytes, so the server runs it once and replays its answer to the
others (`docs/idempotency.md`). What is retried and how long: `retry.py`.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from taos_client import __version__
from taos_client.errors import ApiError, TaosError, TokenAnswerLost, TransportError
from taos_client.models import (
    Agent,
    AgentPage,
    CallInfo,
    Deployed,
    DeployTask,
    IssuedToken,
    TokenInfo,
)
from taos_client.retry import (
    RetryPolicy,
    exception_is_retried,
    may_have_been_sent,
    parse_retry_after,
    status_is_retried,
)

log = logging.getLogger("taos_client")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_NO_BODY = object()


def new_idempotency_key() -> str:
    """Return a fresh key: a random UUID (any 1-255 visible ASCII characters would do)."""
    return str(uuid.uuid4())


def _slug(slug: str) -> str:
    return quote(slug, safe="")


class Client:
    """The control plane's API at `url`, as the operator or agent whose token is `token`.

    `url` and `token` default to the environment's `TAOS_URL` and
    `TAOS_TOKEN`. `retry` bounds the retries (`RetryPolicy()`: 8 attempts,
    60 s); `transport` is for tests (an `httpx` transport).
    """

    def __init__(self, url: str | None = None, token: str | None = None, *,
                 retry: RetryPolicy | None = None, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None):
        url = url or os.environ.get("TAOS_URL")
        token = token or os.environ.get("TAOS_TOKEN")
        if not url:
            raise TaosError("No server URL: pass url=, set TAOS_URL, or run `taos login`.")
        self.url = url.rstrip("/")
        self.retry = retry or RetryPolicy()
        headers = {"Accept": "application/json", "User-Agent": f"taos-client/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                  transport=transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- agents -------------------------------------------------------------

    def agents_list(self, *, status: str | list[str] | None = None, search: str | None = None,
                    page: int | None = None, page_size: int | None = None) -> AgentPage:
        """List agents, newest first (`GET /api/agents/`); archived ones only with status="archived"."""
        if isinstance(status, list):
            status = ",".join(status)
        params = {k: v for k, v in {"status": status, "search": search, "page": page,
                                    "page_size": page_size}.items() if v is not None}
        data, info = self.request("GET", "/api/agents/", params=params)
        return AgentPage.from_json(data, info)

    def agent_get(self, slug: str) -> Agent:
        """Return one agent by slug, archived too (`GET /api/agents/{slug}/`)."""
        data, info = self.request("GET", f"/api/agents/{_slug(slug)}/")
        return Agent.from_json(data, info)

    def agent_create(self, *, display_name: str, idempotency_key: str | None = None,
                     **fields: Any) -> Agent:
        """Create an agent (`POST /api/agents/`); retried under one key, never made twice.

        `fields`: `host`, `qmd_index`, `color`, `emoji`, `can_read_user_memory`,
        `framework`, `model`. `agent.meta.replayed` is True when an earlier
        attempt made it.
        """
        body = {"display_name": display_name, **_given(fields)}
        data, info = self.request("POST", "/api/agents/", body=body,
                                  idempotency_key=idempotency_key)
        return Agent.from_json(data, info)

    def agent_update(self, slug: str, *, idempotency_key: str | None = None,
                     **fields: Any) -> Agent:
        """Change an agent's editable fields (`PATCH /api/agents/{slug}/`); None means "keep"."""
        data, info = self.request("PATCH", f"/api/agents/{_slug(slug)}/", body=_given(fields),
                                  idempotency_key=idempotency_key)
        return Agent.from_json(data, info)

    def agent_archive(self, slug: str, *, idempotency_key: str | None = None) -> CallInfo:
        """Archive an agent (`DELETE /api/agents/{slug}/`); archiving again changes nothing."""
        _, info = self.request("DELETE", f"/api/agents/{_slug(slug)}/",
                               idempotency_key=idempotency_key)
        return info

    # -- deploys ------------------------------------------------------------

    def deploy_new(self, *, display_name: str, framework: str, model: str,
                   idempotency_key: str | None = None, **fields: Any) -> Deployed:
        """Create an agent and deploy it in the background (`POST /api/agents/deploy/`)."""
        body = {"display_name": display_name, "framework": framework, "model": model,
                **_given(fields)}
        data, info = self.request("POST", "/api/agents/deploy/", body=body,
                                  idempotency_key=idempotency_key)
        return Deployed.from_json(data, info)

    def deploy(self, slug: str, *, idempotency_key: str | None = None) -> DeployTask:
        """Deploy an existing `registered` or `failed` agent (`POST /api/agents/{slug}/deploy/`)."""
        data, info = self.request("POST", f"/api/agents/{_slug(slug)}/deploy/", body={},
                                  idempotency_key=idempotency_key)
        return DeployTask.from_json(data, info)

    def deploy_retry(self, slug: str, *, idempotency_key: str | None = None) -> DeployTask:
        """Queue the latest deploy again when it failed, was skipped or is stale."""
        data, info = self.request("POST", f"/api/agents/{_slug(slug)}/deploy/retry/", body={},
                                  idempotency_key=idempotency_key)
        return DeployTask.from_json(data, info)

    def deploy_status(self, slug: str) -> DeployTask:
        """Return the agent's latest deploy (`GET /api/agents/{slug}/deploy-status/`)."""
        data, info = self.request("GET", f"/api/agents/{_slug(slug)}/deploy-status/")
        return DeployTask.from_json(data, info)

    def wait_for_deploy(self, slug: str, *, interval: float = 1.0, timeout: float | None = None,
                        on_poll: Callable[[DeployTask], None] | None = None) -> DeployTask:
        """Poll the deploy status until it ends (or is stale); return the last status.

        Raises `TimeoutError` when `timeout` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            task = self.deploy_status(slug)
            if on_poll is not None:
                on_poll(task)
            if task.finished:
                return task
            if deadline is not None and time.monotonic() + interval > deadline:
                raise TimeoutError(f"the deploy of {slug!r} is still {task.state} after {timeout} s")
            time.sleep(interval)

    # -- tokens -------------------------------------------------------------

    def token_get(self, slug: str) -> TokenInfo:
        """Return the agent's active token's metadata (never its secret)."""
        data, info = self.request("GET", f"/api/agents/{_slug(slug)}/token/")
        return TokenInfo.from_json(data, info)

    def token_issue(self, slug: str, *, idempotency_key: str | None = None) -> IssuedToken:
        """Issue the agent's token; the secret is in `.token`, this once.

        A token issue is never replayed: when an attempt's answer is lost and
        the retry finds the token active, this raises `TokenAnswerLost` (the
        new token's secret is gone: rotate).
        """
        try:
            data, info = self.request("POST", f"/api/agents/{_slug(slug)}/token/", body={},
                                      idempotency_key=idempotency_key)
        except ApiError as error:
            if error.code == "token_already_active" and error.call and error.call.lost_answers:
                raise TokenAnswerLost(slug, operation="issue", cause=error) from error
            raise
        except TransportError as error:
            if error.maybe_applied:
                raise TokenAnswerLost(slug, operation="issue", cause=error) from error
            raise
        return IssuedToken.from_json(data, info)

    def token_rotate(self, slug: str, *, idempotency_key: str | None = None) -> IssuedToken:
        """Revoke the agent's token, if any, and issue a new one; the secret in `.token`.

        A rotation is not replayed either, but retrying one is safe: the retry
        revokes whatever a lost attempt issued. `.meta.lost_answers` > 0 says
        that happened; the returned secret is the active one.
        """
        try:
            data, info = self.request("POST", f"/api/agents/{_slug(slug)}/token/rotate/", body={},
                                      idempotency_key=idempotency_key)
        except TransportError as error:
            if error.maybe_applied:
                raise TokenAnswerLost(slug, operation="rotation", cause=error) from error
            raise
        return IssuedToken.from_json(data, info)

    def token_revoke(self, slug: str, *, reason: str | None = None,
                     idempotency_key: str | None = None) -> CallInfo:
        """Revoke the agent's active token; with none, nothing changes (still a success)."""
        body = {"reason": reason} if reason else _NO_BODY
        _, info = self.request("DELETE", f"/api/agents/{_slug(slug)}/token/", body=body,
                               idempotency_key=idempotency_key)
        return info

    def me(self) -> Agent:
        """Return the calling agent (`GET /api/agent/me/`, agent tokens only)."""
        data, info = self.request("GET", "/api/agent/me/")
        return Agent.from_json(data, info)

    # -- the one place that talks HTTP ----------------------------------------

    def request(self, method: str, path: str, *, body: Any = _NO_BODY,
                params: dict[str, Any] | None = None,
                idempotency_key: str | None = None) -> tuple[Any, CallInfo]:
        """Send one logical call, retrying as `self.retry` allows; return (JSON or None, info).

        An unsafe method carries one `Idempotency-Key` on every attempt and
        `Content-Type: application/json`; a POST without a body sends `{}`
        (the server refuses an unsafe request that does not declare JSON).
        The body is serialised once, so every attempt sends the same bytes.
        """
        method = method.upper()
        headers: dict[str, str] = {}
        info = CallInfo(method=method, path=path)
        if method not in SAFE_METHODS:
            info.idempotency_key = idempotency_key or new_idempotency_key()
            headers["Idempotency-Key"] = info.idempotency_key
            if body is _NO_BODY and method in ("POST", "PUT", "PATCH"):
                body = {}
        content: bytes | None = None
        if body is not _NO_BODY:
            content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"

        policy = self.retry
        started = policy.clock()
        last: Exception | None = None
        retry_after: float | None = None
        for attempt in range(1, policy.max_attempts + 1):
            if attempt > 1:
                if retry_after is not None and retry_after > policy.max_retry_after:
                    break  # e.g. a lockout's 900 s: not worth holding the caller for
                wait = policy.wait_for(attempt - 1, retry_after)
                if policy.clock() - started + wait > policy.max_elapsed:
                    break
                log.info("%s %s: %s; retry %d in %.2f s%s", method, path, _describe(last),
                         attempt - 1, wait,
                         f" (Idempotency-Key {info.idempotency_key})" if info.idempotency_key else "")
                policy.sleep(wait)
            info.attempts = attempt
            retry_after = None
            try:
                response = self._http.request(method, path, content=content, headers=headers,
                                              params=params)
            except httpx.TransportError as error:
                if not exception_is_retried(error):
                    raise TransportError(f"{method} {path}: {error!r}", attempts=attempt,
                                         maybe_applied=bool(info.lost_answers),
                                         idempotency_key=info.idempotency_key) from error
                if may_have_been_sent(error):
                    info.lost_answers += 1
                last = error
                continue
            info.status = response.status_code
            info.request_id = response.headers.get("X-Request-ID")
            if response.is_success:
                info.replayed = response.headers.get("Idempotent-Replayed") == "true"
                if info.replayed:
                    log.info("%s %s: replayed the first answer to Idempotency-Key %s",
                             method, path, info.idempotency_key)
                return (response.json() if response.content else None), info
            problem = _problem(response, info)
            if not status_is_retried(problem.status, problem.code):
                raise problem
            last, retry_after = problem, problem.retry_after
        if isinstance(last, ApiError):
            raise last
        raise TransportError(
            f"{method} {path}: no answer after {info.attempts} attempt(s): {_describe(last)}",
            attempts=info.attempts, maybe_applied=bool(info.lost_answers),
            idempotency_key=info.idempotency_key) from last


def _given(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _describe(error: BaseException | None) -> str:
    if isinstance(error, ApiError):
        return f"{error.status} {error.code}"
    return type(error).__name__ if error else "no attempt"


def _problem(response: httpx.Response, info: CallInfo) -> ApiError:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        data = {}
    error = ApiError(
        status=response.status_code, code=str(data.get("code") or f"http_{response.status_code}"),
        detail=str(data.get("detail") or response.reason_phrase or ""),
        errors=data.get("errors") if isinstance(data.get("errors"), dict) else None,
        request_id=response.headers.get("X-Request-ID"),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
        method=info.method, path=info.path)
    error.call = info
    return error
