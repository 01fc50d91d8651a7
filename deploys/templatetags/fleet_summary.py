"""`{% fleet_summary %}`: the fleet at a glance on the admin index (deploys/fleet.py)."""

from __future__ import annotations

from typing import Any

from django import template

from deploys.fleet import fleet_summary as summarise

register = template.Library()


@register.inclusion_tag("admin/deploys/fleet_summary.html", takes_context=True)
def fleet_summary(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("agents.view_agent"):
        return {"summary": None}
    return {"summary": summarise()}
