"""The client's retry policy on a fake clock: what is retried, how long it waits, what it resends."""

from __future__ import annotations

import json
import random

import httpx
import pytest
from taos_client import ApiError, TokenAnswerLost, TransportError
from taos_client.retry import RetryPolicy, parse_retry_after

from tests.support.fake_api import AGENT, TOKEN, answer, lost, problem, scripted_client

CREATED = answer(201, AGENT, replayed=False)


class MaxRandom(random.Random):
    """Every jittered draw at its upper bound, to check the bounds."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.parametrize("failure", [
    problem(502, "http_502"), problem(503, "database_unavailable"), problem(504, "http_504"),
    problem(429, "throttled", retry_after="2"),
    problem(409, "idempotency_key_in_use", retry_after="1"),
    httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), lost(),
], ids=["502", "503", "504", "429", "409-key-in-use", "connect-error", "read-timeout",
        "connection-dropped"])
def test_a_retried_failure_is_sent_again_and_the_second_answer_returned(failure):
    client, api, _ = scripted_client([failure, CREATED])
    agent = client.agent_create(display_name="Research Bot")
    assert agent.name == "research-bot"
    assert len(api.requests) == 2
    assert agent.meta.attempts == 2


@pytest.mark.parametrize("status, code", [
    (400, "invalid"), (401, "not_authenticated"), (403, "permission_denied"), (404, "not_found"),
    (409, "token_already_active"), (409, "conflict"), (409, "agent_name_exhausted"),
    (413, "request_too_large"), (415, "unsupported_media_type"),
    (422, "idempotency_key_reused"), (500, "server_error"),
])
def test_other_errors_are_never_retried(status, code):
    client, api, clock = scripted_client([problem(status, code), CREATED])
    with pytest.raises(ApiError) as raised:
        client.agent_create(display_name="Research Bot")
    assert (raised.value.status, raised.value.code) == (status, code)
    assert len(api.requests) == 1
    assert clock.sleeps == []


def test_backoff_is_full_jitter_under_an_exponential_bound():
    client, _, clock = scripted_client([problem(503, "database_unavailable")] * 7 + [CREATED],
                                       rng=MaxRandom(), base=0.25, cap=4.0, max_attempts=8)
    client.agent_create(display_name="Research Bot")
    assert clock.sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_jittered_waits_stay_between_zero_and_the_bound():
    policy = RetryPolicy(base=0.25, cap=4.0, rng=random.Random(1))
    for retry in range(1, 10):
        bound = min(4.0, 0.25 * 2 ** (retry - 1))
        draws = [policy.backoff(retry) for _ in range(200)]
        assert all(0 <= d <= bound for d in draws)
        assert max(draws) > bound * 0.8 and min(draws) < bound * 0.2  # spread, not fixed


@pytest.mark.parametrize("status, code, header, wait", [
    (429, "throttled", "3", 3.0),
    (409, "idempotency_key_in_use", "1", 1.0),
    (503, "database_unavailable", "5", 5.0),
])
def test_retry_after_is_waited_for_exactly(status, code, header, wait):
    client, _, clock = scripted_client([problem(status, code, retry_after=header), CREATED])
    client.agent_create(display_name="Research Bot")
    assert clock.sleeps == [wait]


def test_a_retry_after_longer_than_allowed_ends_the_call_at_once():
    client, api, clock = scripted_client(
        [problem(429, "authentication_locked_out", retry_after="900"), CREATED],
        max_retry_after=30)
    with pytest.raises(ApiError) as raised:
        client.agent_create(display_name="Research Bot")
    assert raised.value.code == "authentication_locked_out"
    assert raised.value.retry_after == 900
    assert len(api.requests) == 1 and clock.sleeps == []


def test_attempts_are_bounded_by_count():
    client, api, _ = scripted_client([problem(502, "http_502")] * 10, max_attempts=4)
    with pytest.raises(ApiError) as raised:
        client.agent_create(display_name="Research Bot")
    assert raised.value.status == 502
    assert len(api.requests) == 4


def test_attempts_are_bounded_by_total_time():
    client, api, clock = scripted_client([problem(409, "idempotency_key_in_use",
                                                  retry_after="4")] * 10,
                                         max_attempts=10, max_elapsed=10)
    with pytest.raises(ApiError):
        client.agent_create(display_name="Research Bot")
    assert clock.sleeps == [4.0, 4.0]  # a third wait would end past 10 s
    assert len(api.requests) == 3


def test_lost_answers_beyond_the_bound_raise_a_transport_error_that_says_it_may_have_happened():
    client, api, _ = scripted_client([lost()] * 3, max_attempts=3)
    with pytest.raises(TransportError) as raised:
        client.agent_create(display_name="Research Bot")
    assert raised.value.maybe_applied
    assert raised.value.attempts == 3
    assert raised.value.idempotency_key == api.requests[0].headers["Idempotency-Key"]


def test_connect_errors_alone_mean_it_never_happened():
    client, _, _ = scripted_client([httpx.ConnectError("refused")] * 3, max_attempts=3)
    with pytest.raises(TransportError) as raised:
        client.agent_create(display_name="Research Bot")
    assert not raised.value.maybe_applied


def test_every_retry_sends_the_same_key_and_the_same_bytes():
    client, api, _ = scripted_client([
        lost(), httpx.ReadTimeout("slow"), problem(503, "database_unavailable"),
        problem(409, "idempotency_key_in_use", retry_after="1"), answer(201, AGENT, replayed=True),
    ])
    agent = client.agent_create(display_name="Research Bot ✓", color="#112233", emoji="🤖")
    assert len(api.requests) == 5
    assert len({r.headers["Idempotency-Key"] for r in api.requests}) == 1
    assert len({r.content for r in api.requests}) == 1
    assert json.loads(api.requests[0].content) == {
        "display_name": "Research Bot ✓", "color": "#112233", "emoji": "🤖"}
    assert agent.meta.replayed
    assert agent.meta.lost_answers == 2  # the dropped connection and the read timeout


def test_a_key_given_by_the_caller_is_the_one_sent():
    client, api, _ = scripted_client([lost(), CREATED])
    client.agent_create(display_name="Research Bot", idempotency_key="run-42")
    assert [r.headers["Idempotency-Key"] for r in api.requests] == ["run-42", "run-42"]


def test_each_logical_call_gets_a_key_of_its_own():
    client, api, _ = scripted_client([CREATED, CREATED])
    client.agent_create(display_name="Research Bot")
    client.agent_create(display_name="Research Bot")
    keys = [r.headers["Idempotency-Key"] for r in api.requests]
    assert keys[0] != keys[1]


def test_a_replay_is_reported():
    client, _, _ = scripted_client([answer(201, AGENT, replayed=True)])
    agent = client.agent_create(display_name="Research Bot")
    assert agent.meta.replayed and agent.meta.attempts == 1


def test_reads_carry_no_key_and_are_retried():
    client, api, _ = scripted_client([lost(), answer(200, AGENT)])
    client.agent_get("research-bot")
    assert all("Idempotency-Key" not in r.headers for r in api.requests)
    assert len(api.requests) == 2


def test_a_body_less_post_declares_json_and_sends_an_empty_object():
    client, api, _ = scripted_client([answer(200, TOKEN)])
    client.token_rotate("research-bot")
    [request] = api.requests
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == b"{}"
    assert request.url.path == "/api/agents/research-bot/token/rotate/"


def test_a_problem_carries_code_detail_field_errors_and_request_id():
    errors = {"display_name": [{"message": "Blank.", "code": "blank"}]}
    client, _, _ = scripted_client([problem(400, "invalid", detail="The request is invalid.",
                                            errors=errors, request_id="req-1")])
    with pytest.raises(ApiError) as raised:
        client.agent_create(display_name=" ")
    error = raised.value
    assert (error.code, error.detail, error.request_id) == (
        "invalid", "The request is invalid.", "req-1")
    assert error.field_codes() == {"display_name": ["blank"]}
    assert "display_name: Blank. (blank)" in str(error)


def test_a_problem_without_request_id_has_none():
    client, _, _ = scripted_client([problem(404, "not_found")])
    with pytest.raises(ApiError) as raised:
        client.agent_get("nobody")
    assert raised.value.request_id is None


def test_a_lost_token_issue_is_reported_as_lost_not_as_a_conflict():
    client, api, _ = scripted_client([lost(), problem(409, "token_already_active")])
    with pytest.raises(TokenAnswerLost) as raised:
        client.token_issue("research-bot")
    assert "taos token rotate research-bot" in str(raised.value)
    assert raised.value.cause.code == "token_already_active"
    assert len(api.requests) == 2


def test_a_token_issue_that_lost_nothing_gets_the_plain_conflict():
    client, _, _ = scripted_client([problem(409, "token_already_active")])
    with pytest.raises(ApiError) as raised:
        client.token_issue("research-bot")
    assert not isinstance(raised.value, TokenAnswerLost)


def test_a_lost_rotation_is_retried_and_reported():
    client, api, _ = scripted_client([lost(), answer(200, TOKEN)])
    issued = client.token_rotate("research-bot")
    assert issued.token == "taos_secret"
    assert issued.meta.lost_answers == 1
    assert len(api.requests) == 2


def test_a_rotation_whose_every_answer_was_lost_says_to_rotate_again():
    client, _, _ = scripted_client([lost()] * 2, max_attempts=2)
    with pytest.raises(TokenAnswerLost) as raised:
        client.token_rotate("research-bot")
    assert raised.value.operation == "rotation"


def test_retry_after_as_an_http_date_is_read():
    assert parse_retry_after("Sun, 06 Dec 2026 12:00:10 GMT",
                             now=lambda: 1796558400.0) == pytest.approx(10.0)
    assert parse_retry_after("soon") is None


def test_max_retry_after_bounds_the_servers_wait_not_the_backoff():
    client, api, clock = scripted_client([problem(502, "http_502"), CREATED], rng=MaxRandom(),
                                         base=40.0, cap=40.0, max_retry_after=30)
    client.agent_create(display_name="Research Bot")
    assert clock.sleeps == [40.0]
    assert len(api.requests) == 2
