"""Who may do what: the one table the API permission walk and the admin permission walk read.

`MAY` is the expectation, written out by hand (not computed from
access/permission_map.py, which it checks): for each act, the roles that
may do it. `API_ROUTES` names the act of every API route (the walk checks
that the URL resolver has no other), `ADMIN_TWINS` the admin pages and
buttons that do the same act.
"""

from __future__ import annotations

from access.permission_map import Act

# The callers every walk tries. Staff roles are staff; "outsider" is an active
# user who is not staff and holds no permission; "agent" is an agent token.
ROLES = ("superuser", "viewer", "adder", "changer", "outsider", "agent")
ROLE_PERMS: dict[str, tuple[str, ...]] = {
    "viewer": ("agents.view_agent", "tokens.view_agenttoken", "tokens.view_operatortoken",
               "deploys.view_deploytask", "idempotency.view_idempotencyrecord"),
    "adder": ("agents.add_agent",),
    "changer": ("agents.change_agent",),
    "outsider": (),
}
STAFF_ROLES = frozenset({"viewer", "adder", "changer"})

# Acts the agent token may do: none. "agent.me" is the agent's own route.
AGENT_ME = "agent.me"

MAY: dict[str, frozenset[str]] = {
    Act.AGENT_VIEW: frozenset({"superuser", "viewer", "changer"}),
    Act.AGENT_ADD: frozenset({"superuser", "adder"}),
    Act.AGENT_CHANGE: frozenset({"superuser", "changer"}),
    Act.AGENT_ARCHIVE: frozenset({"superuser", "changer"}),
    Act.TOKEN_VIEW: frozenset({"superuser", "viewer"}),
    Act.TOKEN_ISSUE: frozenset({"superuser"}),
    Act.TOKEN_ROTATE: frozenset({"superuser"}),
    Act.TOKEN_REVOKE: frozenset({"superuser"}),
    Act.DEPLOY_VIEW: frozenset({"superuser", "viewer"}),
    # A deploy issues and rotates the agent's token: add_agent alone is not enough.
    Act.DEPLOY_EXISTING: frozenset({"superuser"}),
    Act.DEPLOY_RETRY: frozenset({"superuser"}),
    Act.DEPLOY_NEW: frozenset({"superuser"}),
    # GET /metrics (not an API route: tests/metrics_tests walk it); no role here holds it.
    Act.METRICS_VIEW: frozenset({"superuser"}),
    AGENT_ME: frozenset({"agent"}),
}

API_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/agents/"): Act.AGENT_VIEW,
    ("GET", "/api/agents/{slug}/"): Act.AGENT_VIEW,
    ("POST", "/api/agents/"): Act.AGENT_ADD,
    ("PATCH", "/api/agents/{slug}/"): Act.AGENT_CHANGE,
    ("DELETE", "/api/agents/{slug}/"): Act.AGENT_ARCHIVE,
    ("GET", "/api/agents/{slug}/token/"): Act.TOKEN_VIEW,
    ("POST", "/api/agents/{slug}/token/"): Act.TOKEN_ISSUE,
    ("POST", "/api/agents/{slug}/token/rotate/"): Act.TOKEN_ROTATE,
    ("DELETE", "/api/agents/{slug}/token/"): Act.TOKEN_REVOKE,
    ("GET", "/api/agents/{slug}/deploy-status/"): Act.DEPLOY_VIEW,
    ("POST", "/api/agents/{slug}/deploy/"): Act.DEPLOY_EXISTING,
    ("POST", "/api/agents/{slug}/deploy/retry/"): Act.DEPLOY_RETRY,
    ("POST", "/api/agents/deploy/"): Act.DEPLOY_NEW,
    ("GET", "/api/agent/me/"): AGENT_ME,
}
# Public: the schema and its browsable docs (no data).
PUBLIC_ROUTES = frozenset({("GET", "/api/schema/"), ("GET", "/api/docs/")})

# (method, admin URL name, what its arguments are) of the admin's twin of each act.
ADMIN_TWINS: dict[str, list[tuple[str, str, str]]] = {
    Act.AGENT_VIEW: [("get", "admin:agents_agent_changelist", ""),
                     ("get", "admin:agents_agent_change", "agent")],
    Act.AGENT_ADD: [("get", "admin:agents_agent_add", "")],
    Act.AGENT_CHANGE: [("post", "admin:agents_agent_change", "agent")],
    Act.AGENT_ARCHIVE: [("post", "admin:agents_agent_archive", "agent")],
    Act.TOKEN_VIEW: [("get", "admin:tokens_agenttoken_changelist", "")],
    Act.TOKEN_ISSUE: [("post", "admin:agents_agent_token", "agent,issue")],
    Act.TOKEN_ROTATE: [("post", "admin:agents_agent_token", "agent,rotate")],
    Act.TOKEN_REVOKE: [("post", "admin:agents_agent_token", "agent,revoke")],
    Act.DEPLOY_VIEW: [("get", "admin:deploys_deploytask_changelist", "")],
    Act.DEPLOY_EXISTING: [("post", "admin:agents_agent_deploy", "agent")],
    Act.DEPLOY_RETRY: [("post", "admin:agents_agent_deploy_retry", "agent,task")],
    Act.DEPLOY_NEW: [("get", "admin:agents_agent_deploy_new", "")],
}


def may(role: str, act: str) -> bool:
    return role in MAY[act]
