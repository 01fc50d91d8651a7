"""The agent's pages, registered once: the registry's admin with the panels of tokens and deploys.

Each app offers its part of the page and the console places them: agents
the base `AgentAdmin` (the form, list, archive action), tokens the token
panel (issue, rotate, revoke, archive with a token choice), deploys the
deploy panel (Deploy and Retry, "Deploy new agent", the latest deploy column,
the deploy action). A panel brings its own URLs, views, permission checks,
admin log entries and template fragment; this class sets the columns, fields
and actions of the list and the page, and the pages' templates
(console/templates/admin/agents/agent/) that lay the fragments out.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from agents.admin import AgentAdmin
from agents.models import Agent
from deploys.admin import AgentDeployPanelMixin
from tokens.admin import AgentTokenPanelMixin


@admin.register(Agent)
class ConsoleAgentAdmin(AgentDeployPanelMixin, AgentTokenPanelMixin, AgentAdmin):
    """The agent's list and page: the registry's admin, its token, its deploys."""

    list_display = [*AgentAdmin.list_display, "latest_deploy"]
    readonly_fields = [*AgentAdmin.readonly_fields, "latest_deploy"]
    fields = [*AgentAdmin.fields, "latest_deploy"]
    actions = [*AgentAdmin.actions, "deploy"]
    change_form_template = "admin/agents/agent/change_form.html"
    change_list_template = "admin/agents/agent/change_list.html"

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        agent = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if agent is not None and request.method == "GET":
            extra_context.update(self.token_panel_context(request, agent))
            extra_context.update(self.deploy_panel_context(request, agent))
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), **self.deploy_tools_context(request)}
        return super().changelist_view(request, extra_context)
