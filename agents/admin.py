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
from django.contrib.admin import helpers
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.html import format_html

from access.permission_map import Act, user_may
from agents import services
from agents.models import Agent
from agents.naming import clean_display_name
from idempotency.forms import IdempotentAddMixin
from agents.admin_log import changed


class ColorInput(forms.TextInput):
    """The browser's colour picker: a swatch of the colour, with its #rrggbb value."""

    input_type = "color"


class AgentAdminForm(forms.ModelForm):
    class Meta:
        model = Agent
        fields = "__all__"
        widgets = {"color": ColorInput}

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


CONFIRM_TEMPLATE = "admin/taos/confirm.html"
# What a list action's confirmation page posts back, as Django's delete_selected does.
CONFIRMED = "post"


def confirmation_page(model_admin: admin.ModelAdmin, request: HttpRequest, *, act: str,
                      title: str, question: str, objects: list[str], confirm_label: str,
                      cancel_url: str, consequence: str = "", form_action: str = "",
                      hidden: list[tuple[str, str]] | None = None,
                      original: object = None) -> HttpResponse:
    """Render "Are you sure?" for a destructive act, with a confirm button and a Cancel link."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts, "title": title, "act": act, "question": question,
        "objects": objects, "consequence": consequence, "confirm_label": confirm_label,
        "cancel_url": cancel_url, "form_action": form_action, "hidden": hidden or [],
        "original": original,
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def confirm_action(model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, *,
                   act: str, question: str, confirm_label: str, consequence: str = ""
                   ) -> HttpResponse | None:
    """Return the confirmation page of a list action, or None once the user confirmed it."""
    if request.POST.get(CONFIRMED) == "yes":
        return None
    hidden = [("action", act), (CONFIRMED, "yes"),
              *((helpers.ACTION_CHECKBOX_NAME, str(pk))
                for pk in queryset.values_list("pk", flat=True))]
    return confirmation_page(
        model_admin, request, act=act, title=question, question=question,
        objects=[str(obj) for obj in queryset], consequence=consequence,
        confirm_label=confirm_label, cancel_url=request.get_full_path(), hidden=hidden)


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

    @admin.action(description="Archive selected agents", permissions=["archive"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Agent]) -> HttpResponse | None:
        asking = confirm_action(
            self, request, queryset, act="archive", question="Archive these agents?",
            confirm_label="Yes, archive them",
            consequence="Archiving keeps each agent, its slug, its tokens and its deploy "
                        "history, hides it from the default list and stops its deploys. Its "
                        "token is not revoked: revoke it from the agent's page or the token list.")
        if asking is not None:
            return asking
        with transaction.atomic():
            archived = services.agents_archive(queryset=queryset)
            for agent in archived:
                self.log_change(request, agent, [changed(agent, "status")])
        self.message_user(request, f"Archived {len(archived)} agent(s).", messages.SUCCESS)
        return None
