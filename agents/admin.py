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
from django.utils.html import format_html

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


class StatusListFilter(admin.SimpleListFilter):
    """By status; without a choice, archived agents are hidden (as the API's list hides them)."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [*Agent.Status.choices, (self.ALL, "All, archived included")]

    def choices(self, changelist):  # type: ignore[no-untyped-def]
        choices = iter(super().choices(changelist))
        first = next(choices)  # no choice made: what the list shows by default
        yield {**first, "display": "Not archived"}
        yield from choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Agent]) -> QuerySet[Agent]:
        value = self.value()
        # An action (a POST) acts on the agents it names, archived or not; the
        # default hides archived agents from what is shown.
        if value is None and request.method == "GET":
            return queryset.exclude(status=Agent.Status.ARCHIVED)
        if value is None or value == self.ALL:
            return queryset
        return queryset.filter(status=value)


def status_badge(status: str, label: str) -> str:
    """Return the status as a coloured badge that also says it in words."""
    return format_html('<span class="taos-badge taos-status-{}">{}</span>', status, label)


class AgentAdmin(IdempotentAddMixin, admin.ModelAdmin):
    """Agents: listed, added, edited and archived (never deleted), every write by a service."""

    form = AgentAdminForm
    list_display = ["name", "display_name", "status_badge", "framework", "host", "created_at"]
    list_filter = [StatusListFilter, "framework"]
    search_fields = ["name", "display_name", "host"]
    readonly_fields = ["name", "status", "created_at", "updated_at"]
    fields = [
        "name", "display_name", "status", "host", "qmd_index", "color", "emoji",
        "can_read_user_memory", "framework", "model", "created_at", "updated_at",
    ]
    actions = ["archive"]

    def has_delete_permission(self, request: HttpRequest, obj: Agent | None = None) -> bool:
        # Archive, never delete: deleting would take the agent's token and deploy
        # history with it and free its slug for someone else.
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Agent) -> str:
        return status_badge(obj.status, obj.get_status_display())

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

    @admin.action(description="Archive selected agents", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        with transaction.atomic():
            archived = services.agents_archive(queryset=queryset)
            for agent in archived:
                self.log_change(request, agent, [changed(agent, "status")])
        self.message_user(request, f"Archived {len(archived)} agent(s).", messages.SUCCESS)
