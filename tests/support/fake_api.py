"""A scripted stand-in for the API, for the client's tests: answers in order, on a fake clock.

`ScriptedAPI(steps)` is an httpx transport: each request gets the next step,
an `httpx.Response` or an exception to raise (a lost connection); it keeps
every request it saw. `FakeClock` is a clock whose `sleep` only moves it.
"""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
from taos_client import Client, RetryPolicy


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedAPI(httpx.BaseTransport):
    def __init__(self, steps: list[httpx.Response | Exception]):
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


def problem(status: int, code: str, *, detail: str = "", retry_after: str | None = None,
            errors: dict[str, Any] | None = None, request_id: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/problem+json"}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    body = {"type": "about:blank", "title": "", "status": status, "detail": detail or code,
            "code": code, **({"errors": errors} if errors else {})}
    return httpx.Response(status, headers=headers, content=json.dumps(body).encode())


def answer(status: int, body: Any, *, replayed: bool | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if replayed is not None:
        headers["Idempotent-Replayed"] = "true" if replayed else "false"
    return httpx.Response(status, headers=headers, content=json.dumps(body).encode())


AGENT = {"id": 1, "name": "research-bot", "display_name": "Research Bot", "host": "",
         "qmd_index": "research-bot", "color": "#888888", "emoji": "",
         "can_read_user_memory": False, "framework": "", "model": "", "status": "registered",
         "created_at": "2026-12-06T12:00:00Z", "updated_at": "2026-12-06T12:00:00Z"}
TOKEN = {"id": 7, "agent": "research-bot", "prefix": "taos_abcdefgh",
         "created_at": "2026-12-06T12:00:00Z", "created_by": "admin", "expires_at": None,
         "last_used_at": None, "token": "taos_secret"}


def lost() -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError("Server disconnected without sending a response.")


def scripted_client(steps: list[httpx.Response | Exception], *, clock: FakeClock | None = None,
                    rng: random.Random | None = None, **policy: Any
                    ) -> tuple[Client, ScriptedAPI, FakeClock]:
    clock = clock or FakeClock()
    api = ScriptedAPI(steps)
    retry = RetryPolicy(clock=clock, sleep=clock.sleep, rng=rng or random.Random(0), **policy)
    return Client("http://taos.test", "taosop_test", retry=retry, transport=api), api, clock
