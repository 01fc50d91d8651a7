"""The database itself refuses a second active token, on every engine, whoever writes.

MariaDB has no partial indexes: the unique index is on the stored generated
column `active_agent` (the agent while the token is active, else NULL).
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tests.support.raw_sql import raw_insert, raw_update
from api.constraints import is_unique_violation
from tokens.models import AgentToken

pytestmark = pytest.mark.django_db


def insert_token(agent, prefix: str, *, revoked: bool = False) -> None:
    raw_insert(AgentToken, agent_id=agent.pk, prefix=prefix, digest="0" * 64,
               created_at=timezone.now(), revoked_at=timezone.now() if revoked else None,
               revoke_reason="")


def assert_active_token_violation(exc: IntegrityError) -> None:
    assert is_unique_violation(exc, constraint="uniq_agent_active_token",
                               table="tokens_agenttoken", columns=["active_agent"]), exc


def test_raw_sql_cannot_insert_a_second_active_token(agent, issued):
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        insert_token(agent, "taos_rawsql001")
    assert_active_token_violation(info.value)
    assert AgentToken.objects.active().filter(agent=agent).count() == 1


def test_raw_sql_cannot_unrevoke_a_token_beside_the_active_one(agent, issued):
    insert_token(agent, "taos_rawsql002", revoked=True)
    old = AgentToken.objects.get(prefix="taos_rawsql002")
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        raw_update(AgentToken, old.pk, revoked_at=None)
    assert_active_token_violation(info.value)


def test_raw_sql_may_insert_revoked_tokens_and_one_active_per_agent(agent, other_agent):
    for n in range(3):
        insert_token(agent, f"taos_rawrev{n:03d}", revoked=True)
    insert_token(agent, "taos_rawact001")
    insert_token(other_agent, "taos_rawact002")
    assert AgentToken.objects.filter(agent=agent).count() == 4
    assert AgentToken.objects.active().count() == 2


def test_the_generated_column_follows_revocation(agent, issued):
    token = AgentToken.objects.get(pk=issued.token.pk)
    assert token.active_agent == agent.pk
    AgentToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    token.refresh_from_db()
    assert token.active_agent is None
