"""`null` for an optional field of a token request body is that field not given."""

from __future__ import annotations

import pytest

from tokens.models import AgentToken

pytestmark = pytest.mark.django_db


def test_null_revoke_reason_revokes_with_the_default_reason(token_api, agent, issued):
    response = token_api.delete(f"/api/agents/{agent.name}/token/", {"reason": None},
                                format="json")
    assert response.status_code == 204
    token = AgentToken.objects.get(agent=agent)
    assert token.revoked_at is not None
    assert token.revoke_reason == ""
