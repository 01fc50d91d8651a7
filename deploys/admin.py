"""Deploy tasks in the admin, and the latest deploy beside each agent."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse

from agents.admin import AgentAdmin
from agents.models import Agent
from deploys import services
from deploys.backends import NO_BACKEND_REASON, backend_name
from deploys.models import DeployTask
from tinyagentos_site.errors import Conflict


class AgentWithDeployAdmin(AgentAdmin):
    """The registry's agent admin, with each agent's latest deploy (this app's addition)."""

    list_display = [*AgentAdmin.list_display, "latest_deploy"]
    readonly_fields = [*AgentAdmin.readonly_fields, "latest_deploy"]
    fields = [*AgentAdmin.fields, "latest_deploy"]

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


admin.site.unregister(Agent)
admin.site.register(Agent, AgentWithDeployAdmin)


@admin.register(DeployTask)
class DeployTaskAdmin(admin.ModelAdmin):
    """Deploy tasks, read-only; failed, skipped or stale ones can be retried."""

    list_display = ["id", "agent", "state", "stale", "attempts", "backend", "started_at",
                    "finished_at", "error"]
    list_filter = ["state", "backend"]
    search_fields = ["agent__name"]
    list_select_related = ["agent"]
    fields = ["agent", "state", "stale", "backend", "attempts", "result_id", "created_at",
              "queued_at", "started_at", "heartbeat_at", "finished_at", "error", "log_tail"]
    readonly_fields = fields
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # deploys start from the agent's page or "Deploy new agent"

    def has_delete_permission(self, request: HttpRequest, obj: DeployTask | None = None) -> bool:
        return False  # deploy history is kept

    @admin.display(description="stale", boolean=True)
    def stale(self, obj: DeployTask) -> bool:
        """Computed on read: the job is gone; a retry (or a sweep) marks it failed."""
        return bool(obj.stale_reason)

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not backend_name():
            self.message_user(request, NO_BACKEND_REASON, messages.WARNING)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Retry selected failed (or skipped, or stale) deploys",
                  permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[DeployTask]) -> None:
        retried, refused = 0, []
        for task in queryset:
            try:
                services.deploy_retry(task=task)
            except Conflict as exc:
                refused.append(f"#{task.pk}: {exc.detail}")
            else:
                retried += 1
        if retried:
            self.message_user(request, f"Queued {retried} deploy(s) again.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, f"Not retried {line}", messages.WARNING)
