"""Tokens under load: agent token vs session, authentication queries, the token issue race.

What "agent-token `GET /api/agent/me/` vs the same by session" compares: a
session cannot call `/api/agent/me/` (agents only), so the session side is
the same-cost operator read of the same kind of agent, `GET
/api/agents/{slug}/`: both answer 200 with one agent's JSON from the same
`AgentSerializer`. The session side also pays what an operator request
always pays (its permission check); the agent-token side pays neither the
session nor the permission queries. `read_token_vs_session` isolates the
authentication alone: the same `GET /api/agents/{slug}/` by the load's auth
(an operator token by default) and by session.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from bench.auth import Credentials
from bench.helper_process import run_helper
from bench.load import Load, Samples, burst, drive
from bench.registry import REGISTRY, MeasureRow, Target
from bench.running_site import Site
from bench.scenarios.common import AGENTS, create_agent, every_round_row, median_row

ME = "/api/agent/me/"
RACE_REQUESTS = 64
QUERIES_TIMEOUT_SECONDS = 120


async def issue_agent_token(site: Site, slug: str) -> str:
    """Issue the agent's token through the API as the operator; return the secret."""
    async with site.client() as client:
        # Every POST under /api/ declares JSON, also one that reads no body.
        response = await client.post(f"{AGENTS}{slug}/token/", json={})
    if response.status_code != 201:
        raise RuntimeError(
            f"issuing a token answered {response.status_code}: {response.text[:300]}")
    return response.json()["token"]


@dataclass(frozen=True)
class AgentCaller:
    slug: str
    credentials: Credentials


async def _agent_with_token(site: Site) -> AgentCaller:
    slug = await create_agent(site, "bench me")
    secret = await issue_agent_token(site, slug)
    return AgentCaller(slug, Credentials(method="agent_token",
                                         headers={"Authorization": f"Bearer {secret}"}))


async def _read_by_session(site: Site) -> AgentCaller:
    return AgentCaller(await create_agent(site, "bench session read"),
                       await site.credentials_for("session"))


# --- Scenarios -----------------------------------------------------------------

@REGISTRY.scenario("agent_me", title=f"agent token: GET {ME}", expect={200},
                   setup=_agent_with_token)
async def agent_me(site: Site, caller: AgentCaller, load: Load) -> Samples:
    async with site.client(caller.credentials) as client:
        return await drive(lambda i: client.get(ME), load=load)


@REGISTRY.scenario("read_session", title="session: GET /api/agents/{slug}/", expect={200},
                   setup=_read_by_session)
async def read_session(site: Site, caller: AgentCaller, load: Load) -> Samples:
    async with site.client(caller.credentials) as client:
        return await drive(lambda i: client.get(f"{AGENTS}{caller.slug}/"), load=load)


# --- Comparisons -----------------------------------------------------------------

REGISTRY.compare(
    "me_token_vs_session",
    title=f"agent-token GET {ME} vs session GET /api/agents/{{slug}}/ (same agent JSON)",
    a="agent_me", b="read_session", target=Target(">=", 1.1),
    note="a session cannot call /api/agent/me/: the session side is the operator's read of "
         "an agent, same serializer",
)
REGISTRY.compare(
    "read_token_vs_session",
    title="GET /api/agents/{slug}/: the load's auth (read) vs session (read_session)",
    a="read", b="read_session",
    note="the same request, only the authentication differs; a reference, no target",
)


# --- Authentication queries ---------------------------------------------------------

async def count_queries(site: Site, plan: list[dict[str, Any]]) -> dict[str, Any]:
    """Run `python -m bench.queries` on this site's database; return its counts."""
    run = await run_helper("bench.queries", env={**site.env, "BENCH_QUERY_PLAN": json.dumps(plan)},
                           workdir=site.workdir, timeout=QUERIES_TIMEOUT_SECONDS)
    if run.returncode != 0 or run.result is None:
        raise RuntimeError(f"bench.queries failed ({run.returncode}): {run.output[-1500:]}")
    return run.result


def _plan_item(name: str, path: str, credentials: Credentials) -> dict[str, Any]:
    return {"name": name, "path": path, "headers": credentials.headers,
            "cookies": credentials.cookies}


@REGISTRY.special("auth_queries", title="authentication queries per request (counted)")
async def auth_queries(site: Site) -> list[MeasureRow]:
    """Count the statements each kind of caller's request runs, and those that authenticate it."""
    caller = await _agent_with_token(site)
    slug = caller.slug
    plan = [
        _plan_item("agent token", ME, caller.credentials),
        _plan_item("session", f"{AGENTS}{slug}/", await site.credentials_for("session")),
        _plan_item("operator token", f"{AGENTS}{slug}/",
                   await site.credentials_for("operator_token")),
    ]
    counted = await count_queries(site, plan)
    rows = []
    for item in plan:
        result = counted[item["name"]]
        if result["statuses"] != [200, 200]:
            raise RuntimeError(f"{item['name']} GET {item['path']} answered {result['statuses']}")
        auth_sql = [s["sql"][:60] for s in result["sql"] if s["phase"] == "authentication"]
        path = item["path"].replace(slug, "{slug}")
        rows.append(MeasureRow(
            f"{item['name']}, GET {path}: authentication queries",
            result["authentication_statements"],
            target=Target("==", 1) if item["name"] == "agent token" else None,
            note=f"{result['statements']} statements in the whole warm request; "
                 f"authentication: {' | '.join(auth_sql) or 'none'}",
            detail=result,
        ))
    return rows


# --- 64 concurrent token issues, one agent -------------------------------------------

@REGISTRY.special("token_issue_64", title=f"{RACE_REQUESTS} concurrent token issues, one agent")
async def token_issue_64(site: Site) -> list[MeasureRow]:
    """`rounds` times: a fresh agent, then 64 `POST /api/agents/{slug}/token/` at once."""
    created: list[int] = []
    conflicts: list[int] = []
    server_errors: list[int] = []
    active: list[int] = []
    slowest: list[float] = []
    others: list[str] = []
    async with site.client(concurrency=RACE_REQUESTS) as client:
        for _ in range(site.config.rounds):
            slug = await create_agent(site, "bench token race")
            path = f"{AGENTS}{slug}/token/"
            answers = await burst(lambda i, path=path: client.post(path, json={}),
                                  RACE_REQUESTS)
            statuses = [a.status for a in answers]
            created.append(statuses.count(201))
            conflicts.append(sum(1 for a in answers if a.status == 409
                                 and a.response.json().get("code") == "token_already_active"))
            server_errors.append(sum(1 for s in statuses if s >= 500 or s == 0))
            others.extend(str(s) for s in statuses if s not in (201, 409))
            slowest.append(max(a.latency for a in answers))
            active.append(await asyncio.to_thread(
                site.database.scalar,
                "SELECT count(*) FROM tokens_agenttoken t JOIN agents_agent a "
                "ON a.id = t.agent_id WHERE a.name = %s AND t.revoked_at IS NULL", (slug,)))
    return [
        every_round_row("201s", created, Target("==", 1)),
        every_round_row("409s token_already_active", conflicts, Target("==", RACE_REQUESTS - 1)),
        every_round_row("5xx (and transport errors)", server_errors, Target("==", 0),
                        note=f"other statuses: {', '.join(sorted(set(others))) or 'none'}"),
        every_round_row("active tokens afterwards", active, Target("==", 1)),
        median_row("slowest answer", slowest, "s", None),
    ]

