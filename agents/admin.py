"""The registry's admin for agents: the base of the agent's pages.

`AgentAdmin` is not registered here: the console registers the agent's
admin once (console/admin.py), composed from this class and the panels the
tokens and deploys apps offer for it.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from access.permission_map import Act, user_may
from agents import services
from agents.models import Agent
from agents.naming import clean_display_name
from idempotency.forms import IdempotentAddMixin
from agents.admin_log import changed


class AgentAdminForm(forms.ModelForm):
    class Meta:
        model = Agent
        fields = "__all__"

    def clean_display_name(self) -> str:
        return clean_display_name(self.cleaned_data["display_name"])


class AgentAdmin(IdempotentAddMixin, admin.ModelAdmin):
    """Agents: listed, added, edited and archived (never deleted), every write by a service."""

    form = AgentAdminForm
    list_display = ["name", "display_name", "status", "framework", "host", "created_at"]
    list_filter = ["status", "framework"]
    search_fields = ["name", "display_name", "host"]
    readonly_fields = ["name", "status", "created_at", "updated_at"]
    fields = [
        "name", "display_name", "status", "host", "qmd_index", "color", "emoji",
        "can_read_user_memory", "framework", "model", "created_at", "updated_at",
    ]
    actions = ["archive"]

    # The API's agent routes ask the same acts (access/permission_map.py).

    def has_view_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return user_may(request.user, Act.AGENT_VIEW)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return user_may(request.user, Act.AGENT_ADD)

    def has_change_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        return user_may(request.user, Act.AGENT_CHANGE)

    def has_archive_permission(self, request: HttpRequest) -> bool:
        return user_may(request.user, Act.AGENT_ARCHIVE)

    def has_delete_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        # Archive, never delete: deleting would take the agent's token and deploy
        # history with it and free its slug for someone else.
        return False

    def agent_or_404(self, request: HttpRequest, object_id: str) -> Agent:
        """Return the agent `object_id` (as the admin finds it), or raise Http404."""
        agent = self.get_object(request, object_id)
        if agent is None:
            raise Http404("No such agent.")
        return agent

    def save_model(self, request: HttpRequest, obj: Agent, form, change: bool) -> None:
        data = {name: form.cleaned_data[name] for name in form.changed_data}
        if change:
            services.agent_update(agent=obj, **data)
        else:
            created = services.agent_create(**form.cleaned_data)
            obj.pk = created.pk
            obj.refresh_from_db()

    @admin.action(description="Archive selected agents", permissions=["archive"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        with transaction.atomic():
            archived = services.agents_archive(queryset=queryset)
            for agent in archived:
                self.log_change(request, agent, [changed(agent, "status")])
        self.message_user(request, f"Archived {len(archived)} agent(s).", messages.SUCCESS)
