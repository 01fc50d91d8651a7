from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse

from agents import deploy_services, services
from agents.deploy_backends import NO_BACKEND_REASON, backend_name
from agents.models import Agent, DeployTask
from agents.naming import clean_display_name
from tinyagentos_site.errors import Conflict


class AgentAdminForm(forms.ModelForm):
    class Meta:
        model = Agent
        fields = "__all__"

    def clean_display_name(self) -> str:
        return clean_display_name(self.cleaned_data["display_name"])


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentAdminForm
    list_display = ["name", "display_name", "status", "framework", "host", "created_at",
                    "latest_deploy"]
    list_filter = ["status", "framework"]
    search_fields = ["name", "display_name", "host"]
    readonly_fields = ["name", "status", "created_at", "updated_at", "latest_deploy"]
    fields = [
        "name", "display_name", "status", "host", "qmd_index", "color", "emoji",
        "can_read_user_memory", "framework", "model", "created_at", "updated_at",
        "latest_deploy",
    ]
    actions = ["archive"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        latest = DeployTask.objects.filter(agent=OuterRef("pk")).order_by("-created_at", "-id")
        return super().get_queryset(request).annotate(
            latest_deploy_state=Subquery(latest.values("state")[:1]),
            latest_deploy_error=Subquery(latest.values("error")[:1]),
        )

    @admin.display(description="latest deploy")
    def latest_deploy(self, obj: Agent) -> str:
        state = getattr(obj, "latest_deploy_state", None)
        if state is None:
            return "never deployed"
        error = getattr(obj, "latest_deploy_error", "")
        return f"{state}: {error}" if error else state

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
            count = 0
            for agent in queryset.select_for_update():
                services.agent_archive(agent=agent)
                count += 1
        self.message_user(request, f"Archived {count} agent(s).", messages.SUCCESS)


@admin.register(DeployTask)
class DeployTaskAdmin(admin.ModelAdmin):
    """Deploy tasks, read-only; failed or skipped ones can be retried."""

    list_display = ["id", "agent", "state", "attempts", "backend", "started_at",
                    "finished_at", "error"]
    list_filter = ["state", "backend"]
    search_fields = ["agent__name"]
    list_select_related = ["agent"]
    fields = ["agent", "state", "backend", "attempts", "result_id", "created_at",
              "queued_at", "started_at", "heartbeat_at", "finished_at", "error", "log_tail"]
    readonly_fields = fields
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deploys start from the API, which creates the agent too

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        deploy_services.deploy_mark_stale()
        if not backend_name():
            self.message_user(request, NO_BACKEND_REASON, messages.WARNING)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Retry selected failed (or skipped) deploys", permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[DeployTask]) -> None:
        retried, refused = 0, []
        for task in queryset:
            try:
                deploy_services.deploy_retry(task=task)
            except Conflict as exc:
                refused.append(f"#{task.pk}: {exc.detail}")
            else:
                retried += 1
        if retried:
            self.message_user(request, f"Queued {retried} deploy(s) again.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not retried {line}", messages.WARNING)
