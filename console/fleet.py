"""The fleet at a glance, for the console's index: counts only, a read that writes nothing.

Lives in the console because it reads every app (agents, tokens, deploys and
the reservation table), and the console is the one app above them all
(docs/architecture.md, "Layout": console -> deploys -> tokens -> agents).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from agents.models import Agent
from deploys.backends import DEPLOY_DOCS, NO_BACKEND_HELP, NO_BACKEND_REASON, backend_name
from deploys.models import DeployTask
from idempotency.models import IdempotencyRecord
from tokens.models import AgentToken, OperatorToken

RECENT = timedelta(days=1)
UNUSED = timedelta(days=30)


def _unused_since(cutoff: Any) -> Q:
    return Q(last_used_at__lt=cutoff) | Q(last_used_at__isnull=True, created_at__lt=cutoff)


def fleet_summary() -> dict[str, Any]:
    """Return the counts the admin index shows; a handful of aggregate queries."""
    now = timezone.now()
    by_status = dict(Agent.objects.order_by().values_list("status").annotate(n=Count("pk")))
    active_token = AgentToken.objects.active().filter(agent=OuterRef("pk"))
    live_agents = Agent.objects.exclude(status=Agent.Status.ARCHIVED)
    deploys = DeployTask.objects.aggregate(
        in_flight=Count("pk", filter=Q(state__in=DeployTask.ACTIVE_STATES)),
        failed_recently=Count("pk", filter=Q(state=DeployTask.State.FAILED,
                                             finished_at__gte=now - RECENT)),
        skipped=Count("pk", filter=Q(state=DeployTask.State.SKIPPED)),
    )
    cutoff = now - UNUSED
    keys = IdempotencyRecord.objects.aggregate(
        stored=Count("pk"), expired=Count("pk", filter=Q(expires_at__lte=now)))
    return {
        "agents_by_status": [(label, by_status.get(value, 0))
                             for value, label in Agent.Status.choices],
        # The same with each status's value, for the links into the filtered list.
        "agents_by_status_value": [(value, label, by_status.get(value, 0))
                                   for value, label in Agent.Status.choices],
        "agents_total": sum(by_status.values()),
        "deploys_in_flight": deploys["in_flight"],
        "deploys_failed_recently": deploys["failed_recently"],
        "deploys_skipped": deploys["skipped"],
        # Empty when deploys cannot run: the index says what to set.
        "deploy_backend": backend_name(),
        "no_backend_reason": NO_BACKEND_REASON,
        "no_backend_help": NO_BACKEND_HELP,
        "deploy_docs": DEPLOY_DOCS,
        "agents_without_token": live_agents.filter(~Exists(active_token)).count(),
        "agent_tokens_unused": AgentToken.objects.active().filter(_unused_since(cutoff)).count(),
        "operator_tokens_unused": OperatorToken.objects.active().filter(
            _unused_since(cutoff)).count(),
        "idempotency_keys_stored": keys["stored"],
        "idempotency_keys_expired": keys["expired"],
    }
