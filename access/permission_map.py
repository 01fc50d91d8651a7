"""What each act on agents, their tokens and their deploys asks: one map for the API and the admin.

Every API route names its act (the view's `permission_actions`, read by
`access.permissions.ActionPermissions`) and every admin page, button and
action asks `user_may(user, act)` for the same act, so an API route can never
ask less than its admin twin. docs/api.md ("Permissions") shows this table.

An act asks every one of its requirements; a requirement is one permission,
or a tuple of permissions of which one is enough. Seeing follows Django's
admin: the `change` permission lets one see too (`ModelAdmin.has_view_permission`),
so whoever may change an agent reads it back, in the admin and in the API.

The map names other apps' permissions as strings only: this module imports
none of them (access sits below agents, tokens and deploys).
"""

from __future__ import annotations

import enum
from typing import Any

Requirement = str | tuple[str, ...]


class Act(enum.StrEnum):
    AGENT_VIEW = "agent.view"
    AGENT_ADD = "agent.add"
    AGENT_CHANGE = "agent.change"
    AGENT_ARCHIVE = "agent.archive"
    TOKEN_VIEW = "token.view"
    TOKEN_ISSUE = "token.issue"
    TOKEN_ROTATE = "token.rotate"
    TOKEN_REVOKE = "token.revoke"
    DEPLOY_VIEW = "deploy.view"
    DEPLOY_EXISTING = "deploy.existing"
    DEPLOY_RETRY = "deploy.retry"
    DEPLOY_NEW = "deploy.new"
    METRICS_VIEW = "metrics.view"


AGENT_VIEW: Requirement = ("agents.view_agent", "agents.change_agent")
TOKEN_ISSUE: tuple[Requirement, ...] = ("tokens.add_agenttoken",)
# A rotation revokes the active token (change) and issues another (add).
TOKEN_ROTATE: tuple[Requirement, ...] = ("tokens.add_agenttoken", "tokens.change_agenttoken")

ACTS: dict[Act, tuple[Requirement, ...]] = {
    Act.AGENT_VIEW: (AGENT_VIEW,),
    Act.AGENT_ADD: ("agents.add_agent",),
    Act.AGENT_CHANGE: ("agents.change_agent",),
    # Archiving keeps the row: a change (the API's DELETE and the admin's Archive).
    Act.AGENT_ARCHIVE: ("agents.change_agent",),
    Act.TOKEN_VIEW: (("tokens.view_agenttoken", "tokens.change_agenttoken"),),
    Act.TOKEN_ISSUE: TOKEN_ISSUE,
    Act.TOKEN_ROTATE: TOKEN_ROTATE,
    # Revoking keeps the row (revoked_at): a change.
    Act.TOKEN_REVOKE: ("tokens.change_agenttoken",),
    Act.DEPLOY_VIEW: (("deploys.view_deploytask", "deploys.change_deploytask"),),
    # A deploy issues the agent's token if it has none, and its job rotates it
    # (deploys/jobs.py): the token's permissions come with the deploy's.
    Act.DEPLOY_EXISTING: ("deploys.add_deploytask", *TOKEN_ROTATE),
    Act.DEPLOY_RETRY: ("deploys.change_deploytask", *TOKEN_ROTATE),
    Act.DEPLOY_NEW: ("agents.add_agent", "deploys.add_deploytask", *TOKEN_ROTATE),
    # Scraping GET /metrics (or an address in TAOS_METRICS_ALLOW): docs/operations.md.
    Act.METRICS_VIEW: ("metrics.view_metrics",),
}


def user_may(user: Any, act: Act | str) -> bool:
    """Return whether `user` holds every requirement of `act` (an active superuser does)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return all(
        any(user.has_perm(perm) for perm in (requirement if isinstance(requirement, tuple)
                                             else (requirement,)))
        for requirement in ACTS[Act(act)]
    )

