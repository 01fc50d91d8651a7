"""Every write to an agent goes through these functions."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from agents.models import COLOR_DEFAULT, Agent
from agents.naming import clean_display_name, slug_base, slug_candidates
from api.constraints import is_unique_violation
from api.error_codes import ErrorCode
from api.errors import Conflict

EDITABLE_FIELDS = frozenset(
    {"display_name", "host", "qmd_index", "color", "emoji",
     "can_read_user_memory", "framework", "model"}
)


class AgentNamesExhausted(Conflict):
    default_code = ErrorCode.AGENT_NAME_EXHAUSTED
    default_detail = "Every slug for this display name is taken; choose another display name."


def _clean_display_name_field(value: str) -> str:
    try:
        return clean_display_name(value)
    except ValidationError as exc:
        raise ValidationError({"display_name": exc.error_list}) from None


def _validate(agent: Agent, *, exclude: list[str] | None = None) -> None:
    # Uniqueness is the database's job (see agent_create): skip the racy check.
    agent.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)


# One transaction, but no savepoint of its own when nested (as under the
# transaction of an idempotent request): each slug attempt below takes one savepoint anyway.
@transaction.atomic(savepoint=False)
def agent_create(
    *,
    display_name: str,
    host: str = "",
    qmd_index: str = "",
    color: str = COLOR_DEFAULT,
    emoji: str = "",
    can_read_user_memory: bool = False,
    framework: str = "",
    model: str = "",
    status: str = Agent.Status.REGISTERED,
) -> Agent:
    """Create an agent whose slug is derived from `display_name`.

    A taken slug gets the next free suffix (`-2`, `-3`, ...). The unique
    constraint on `name` decides races between workers: an insert that loses
    rolls back to its savepoint and tries the next candidate.
    """
    display_name = _clean_display_name_field(display_name)
    base = slug_base(display_name)
    agent = Agent(
        display_name=display_name, host=host, qmd_index=qmd_index, color=color.lower(),
        emoji=emoji, can_read_user_memory=can_read_user_memory, framework=framework,
        model=model, status=status,
    )
    _validate(agent, exclude=["name"])
    taken = set(
        Agent.objects.filter(name__startswith=base).order_by().values_list("name", flat=True)
    )
    for candidate in slug_candidates(base):
        if candidate in taken:
            continue
        agent.name = candidate
        agent.qmd_index = qmd_index or candidate
        try:
            with transaction.atomic():
                agent.save(force_insert=True)
        except IntegrityError as exc:
            if is_unique_violation(
                exc, constraint="uniq_agent_name", table="agents_agent", columns=["name"]
            ):
                agent.pk = None
                continue
            raise
        return agent
    raise AgentNamesExhausted()


def agent_update(*, agent: Agent, **fields: Any) -> Agent:
    """Change the editable fields of `agent`; the slug never changes."""
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(
            {name: ValidationError("This field cannot be changed.", code=ErrorCode.READ_ONLY)
             for name in sorted(unknown)}
        )
    if "display_name" in fields:
        fields["display_name"] = _clean_display_name_field(fields["display_name"])
    if "color" in fields:
        fields["color"] = fields["color"].lower()
    for name, value in fields.items():
        setattr(agent, name, value)
    _validate(agent)
    agent.save(update_fields=[*fields, "updated_at"])
    return agent


def agent_archive(*, agent: Agent) -> Agent:
    """Archive `agent`: hidden from the default list, kept with its slug. Idempotent."""
    if agent.status != Agent.Status.ARCHIVED:
        agent.status = Agent.Status.ARCHIVED
        agent.save(update_fields=["status", "updated_at"])
    return agent


@transaction.atomic
def agents_archive(*, queryset: QuerySet[Agent]) -> list[Agent]:
    """Archive every agent of `queryset` (rows locked first); return those it archived.

    An agent already archived is left as it is and not returned.
    """
    archived = []
    for agent in queryset.select_for_update():
        if agent.status != Agent.Status.ARCHIVED:
            agent_archive(agent=agent)
            archived.append(agent)
    return archived
