from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.constraints import is_unique_violation
from api.errors import Conflict, exception_handler
from tokens import crypto, services
from tokens.errors import TokenAlreadyActive
from tokens.models import AgentToken, OperatorToken

pytestmark = pytest.mark.django_db


def active(agent) -> list[AgentToken]:
    return list(AgentToken.objects.active().filter(agent=agent))


def test_issue_stores_digest_and_prefix_never_the_secret(agent):
    issued = services.token_issue(agent=agent)
    row = AgentToken.objects.get(pk=issued.token.pk)
    assert row.digest == crypto.digest(issued.secret)
    assert issued.secret.startswith(row.prefix)
    stored = [str(value) for value in AgentToken.objects.values_list().get(pk=row.pk)]
    assert issued.secret not in stored


def test_issue_records_the_actor(agent, make_user):
    user = make_user("alice")
    issued = services.token_issue(agent=agent, actor=user)
    assert AgentToken.objects.get(pk=issued.token.pk).created_by == user


def test_issued_token_is_frozen_and_its_repr_hides_the_secret(issued):
    assert issued.secret not in repr(issued)
    with pytest.raises(dataclasses.FrozenInstanceError):
        issued.secret = "x"  # type: ignore[misc]


def test_issue_when_a_token_is_active_raises_token_already_active(agent, issued):
    with pytest.raises(TokenAlreadyActive) as info:
        services.token_issue(agent=agent)
    assert isinstance(info.value, Conflict)
    assert info.value.status_code == 409
    assert info.value.get_codes() == "token_already_active"
    assert active(agent) == [issued.token]


def test_issue_after_revoke_succeeds(agent, issued):
    services.token_revoke(agent=agent)
    second = services.token_issue(agent=agent)
    assert active(agent) == [second.token]


def test_rotate_revokes_the_active_token_and_issues_one(agent, issued, make_user):
    user = make_user("alice")
    rotated = services.token_rotate(agent=agent, actor=user)
    assert active(agent) == [rotated.token]
    old = AgentToken.objects.get(pk=issued.token.pk)
    assert old.revoked_at is not None
    assert old.revoked_by == user
    assert old.revoke_reason == "rotated"
    assert rotated.secret != issued.secret


def test_rotate_without_an_active_token_issues_one(agent):
    rotated = services.token_rotate(agent=agent)
    assert active(agent) == [rotated.token]


def test_revoke_returns_count_and_is_idempotent(agent, issued, make_user):
    user = make_user("alice")
    assert len(services.token_revoke(agent=agent, actor=user, reason="leaked")) == 1
    assert services.token_revoke(agent=agent, actor=user) == []
    row = AgentToken.objects.get(pk=issued.token.pk)
    assert (row.revoked_by, row.revoke_reason) == (user, "leaked")
    assert active(agent) == []


def test_revoke_refuses_an_overlong_reason(agent, issued):
    with pytest.raises(ValidationError):
        services.token_revoke(agent=agent, reason="x" * 256)
    assert active(agent) == [issued.token]


def test_ttl_setting_sets_expiry(agent, settings):
    settings.TOKENS_AGENT_TOKEN_TTL_SECONDS = 3600
    issued = services.token_issue(agent=agent)
    delta = issued.token.expires_at - issued.token.created_at
    assert delta == timedelta(seconds=3600)


def test_database_refuses_a_second_active_token(agent, issued):
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        AgentToken.objects.create(agent=agent, prefix="taos_other123", digest="0" * 64)
    assert is_unique_violation(info.value, constraint="uniq_agent_active_token",
                               table="tokens_agenttoken", columns=["active_agent"])
    assert not is_unique_violation(info.value, constraint="uniq_agenttoken_prefix",
                                   table="tokens_agenttoken", columns=["prefix"])


def test_database_allows_many_revoked_tokens(agent):
    for n in range(3):
        AgentToken.objects.create(agent=agent, prefix=f"taos_rev{n:05d}", digest="0" * 64,
                                  revoked_at=timezone.now())
    assert AgentToken.objects.filter(agent=agent).count() == 3


def test_unique_violation_from_the_index_becomes_token_already_active(agent, issued,
                                                                      monkeypatch):
    # Bypass the check under the lock, as a writer that skips the services would.
    monkeypatch.setattr(services, "_has_active_token", lambda agent: False)
    with pytest.raises(TokenAlreadyActive):
        services.token_issue(agent=agent)
    assert active(agent) == [issued.token]


def test_issue_inside_an_outer_transaction_leaves_it_usable(agent, issued):
    with transaction.atomic():
        with pytest.raises(TokenAlreadyActive):
            services.token_issue(agent=agent)
        assert AgentToken.objects.count() == 1  # the outer transaction still works


def test_prefix_collision_is_retried_with_a_new_token(agent, other_agent, monkeypatch):
    first = services.token_issue(agent=other_agent)
    fresh = crypto.generate(crypto.Kind.AGENT)
    clash = crypto.NewSecret(secret="taos_dummy", prefix=first.token.prefix, digest="0" * 64)
    calls = iter([clash, fresh])
    monkeypatch.setattr(crypto, "generate", lambda kind: next(calls))
    issued = services.token_issue(agent=agent)
    assert issued.secret == fresh.secret
    assert issued.token.prefix == fresh.prefix


@pytest.mark.parametrize("call", ["issue", "rotate", "revoke"])
def test_services_lock_the_agent_row_before_touching_tokens(agent, call):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no row locks: IMMEDIATE transactions serialise writers")
    func = {"issue": services.token_issue, "rotate": services.token_rotate,
            "revoke": services.token_revoke}[call]
    with CaptureQueriesContext(connection) as ctx:
        func(agent=agent)
    sql = [q["sql"] for q in ctx.captured_queries
           if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))]
    assert "agents_agent" in sql[0] and sql[0].endswith("FOR UPDATE")
    assert all("FOR UPDATE" not in statement for statement in sql[1:])


def test_revoke_selected_revokes_only_the_named_tokens(agent, issued):
    rotated = services.token_rotate(agent=agent)
    old = AgentToken.objects.get(pk=issued.token.pk)
    # The admin selected the old (already revoked) row: its successor stays active.
    assert services.tokens_revoke_selected(tokens=[old]) == []
    assert active(agent) == [rotated.token]
    assert services.tokens_revoke_selected(tokens=[rotated.token]) == [rotated.token]
    assert active(agent) == []


def test_rotate_agents_rotates_each_agent_once(agent, other_agent, issued):
    issued_list = services.tokens_rotate_agents(agents=[agent, agent, other_agent])
    assert sorted(i.token.agent_id for i in issued_list) == sorted([agent.pk, other_agent.pk])
    assert active(agent) == [next(i.token for i in issued_list if i.token.agent_id == agent.pk)]


def test_operator_tokens_are_several_per_user(make_operator_token, make_user):
    user = make_user("alice")
    first = make_operator_token(user, name="backup script")
    second = make_operator_token(user, name="ci")
    assert first.token.prefix.startswith("taosop_")
    assert user.operator_tokens.active().count() == 2
    assert second.token.digest == crypto.digest(second.secret)


def test_operator_token_revoke_is_idempotent(make_operator_token):
    issued = make_operator_token()
    assert services.operator_token_revoke(token=issued.token) is True
    assert services.operator_token_revoke(token=issued.token) is False


def test_operator_token_name_is_required(make_user):
    with pytest.raises(ValidationError):
        services.operator_token_create(user=make_user("alice"), name="")


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1), timedelta(days=-3)])
def test_an_operator_token_that_would_be_born_expired_is_refused(make_user, offset):
    with pytest.raises(ValidationError) as info:
        services.operator_token_create(user=make_user("alice"), name="late",
                                       expires_at=timezone.now() + offset)
    assert info.value.error_dict["expires_at"][0].code == "expires_at_past"
    assert not OperatorToken.objects.exists()


def test_the_api_answers_a_born_expired_operator_token_with_its_field_code(make_user):
    with pytest.raises(ValidationError) as info:
        services.operator_token_create(user=make_user("alice"), name="late",
                                       expires_at=timezone.now() - timedelta(minutes=1))
    response = exception_handler(info.value, {})
    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    assert response.data["errors"]["expires_at"][0]["code"] == "expires_at_past"


def test_archiving_says_whether_it_archived_decided_on_the_locked_row(agent):
    token = services.token_issue(agent=agent).token
    stale = type(agent).objects.get(pk=agent.pk)  # read before the first archive
    first = services.agent_archive_with_token(agent=agent, revoke_token=True)
    assert first.archived and [t.pk for t in first.revoked] == [token.pk]
    # A second call with an instance read before the first one committed
    # (as a concurrent admin submit has) archives and revokes nothing.
    second = services.agent_archive_with_token(agent=stale, revoke_token=True)
    assert (second.archived, second.revoked) == (False, [])
    token.refresh_from_db()
    assert token.revoke_reason == "agent archived"


def test_a_revoke_never_rewrites_a_token_already_revoked(agent):
    old = services.token_issue(agent=agent).token
    services.token_revoke(agent=agent, reason="first")
    revoked_at = AgentToken.objects.get(pk=old.pk).revoked_at
    assert services.token_revoke(agent=agent, reason="second") == []
    old.refresh_from_db()
    assert (old.revoke_reason, old.revoked_at) == ("first", revoked_at)
