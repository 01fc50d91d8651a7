"""The API's unsafe operations, read from its schema, and what each one changed.

Tests that must cover every unsafe route (a new one too) enumerate them
here: each gets a fresh subject agent, a body, and an `effect` to compare.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps

from agents.models import Agent
from agents.services import agent_create
from tokens.models import AgentToken
from tokens.services import token_issue

UNSAFE_METHODS = ("post", "put", "patch", "delete")
# Whose rows an unsafe request may add or remove (the idempotency table aside).
COUNTED_APPS = frozenset({"agents", "tokens", "deploys"})
# Written once per database (with its first token), not by each request.
NOT_COUNTED = {"tokens.PepperFingerprint"}

# A body that succeeds, by (method, schema path); a route not listed gets {}.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/agents/"): {"display_name": "Slash Bot", "emoji": None},
    ("POST", "/api/agents/deploy/"): {"display_name": "Slash Bot", "framework": "smolagents",
                                      "model": "qwen2.5:7b"},
    ("PATCH", "/api/agents/{slug}/"): {"host": "gpu-1.lan", "color": "#FF0000"},
    ("DELETE", "/api/agents/{slug}/token/"): {"reason": "slash test"},
}
# Operations whose subject must not have a token yet (issuing one).
WITHOUT_TOKEN = frozenset({("POST", "/api/agents/{slug}/token/")})
# Operations whose subject must have been deployed once (retrying it).
DEPLOYED = frozenset({("POST", "/api/agents/{slug}/deploy/retry/")})


def unsafe_operations(schema: dict[str, Any]) -> list[tuple[str, str]]:
    """Return every (METHOD, path) of `schema` with an unsafe method, sorted."""
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in UNSAFE_METHODS
    )


def schema_unsafe_operations() -> list[tuple[str, str]]:
    """Return the unsafe operations of the site's schema, generated in this process."""
    from drf_spectacular.generators import SchemaGenerator

    return unsafe_operations(SchemaGenerator().get_schema(request=None, public=True))


def make_subject(operation: tuple[str, str], label: str) -> Agent:
    """Return a fresh agent for `operation` to act on, with a token unless it issues one."""
    agent = agent_create(display_name=f"Subject {label}")
    if operation not in WITHOUT_TOKEN:
        token_issue(agent=agent)
    if operation in DEPLOYED:
        from deploys.services import deploy_existing

        deploy_existing(agent=agent)  # skipped without a backend: retryable
    return agent


def request_path(operation: tuple[str, str], subject: Agent, *, slash: bool) -> str:
    path = operation[1].replace("{slug}", subject.name)
    return path if slash else path.rstrip("/")


def body_for(operation: tuple[str, str]) -> dict[str, Any]:
    return BODIES.get(operation, {})


def snapshot(subject: Agent) -> dict[str, Any]:
    """Return the row counts of the counted apps and the subject's state."""
    counts = {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in COUNTED_APPS and model._meta.label not in NOT_COUNTED
    }
    subject.refresh_from_db()
    fields = {field.name: getattr(subject, field.attname) for field in Agent._meta.concrete_fields
              if field.name not in {"id", "updated_at"}}
    active_tokens = AgentToken.objects.active().filter(agent=subject).count()
    return {"counts": counts, "subject": fields, "active_tokens": active_tokens}


def effect(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Return what changed between two snapshots of (different, like) subjects."""
    return {
        "counts": {label: after["counts"][label] - count
                   for label, count in before["counts"].items()},
        "subject": {name: value for name, value in after["subject"].items()
                    if value != before["subject"][name]},
        "active_tokens": after["active_tokens"] - before["active_tokens"],
    }
