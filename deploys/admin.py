"""Deploy tasks in the admin, and the deploy panel of the agent's pages.

`AgentDeployPanelMixin` is what this app offers the agent's admin, which the
console composes (console/admin.py): the Deploy and Retry buttons, the
"Deploy new agent" form, the latest deploy column and the deploy action,
with their URLs and templates. `DeployTaskAdmin` is registered here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from agents.admin import AgentAdminForm
from agents.models import Agent
from deploys import services
from deploys.backends import DEPLOY_DOCS, NO_BACKEND_HELP, NO_BACKEND_REASON, backend_name
from deploys.models import DeployTask
from idempotency.forms import (
    FORM_KEY_FIELD,
    key_in_url,
    new_form_key,
    record_created,
    redirect_with_new_key,
    reused_key_error,
    submit_once,
)
from access.permission_map import Act, user_may
from agents.admin_log import added, added_related, changed, changed_related
from api.errors import ApiError, Conflict

RECENT_DEPLOYS = 5
# What a retry changes, as the admin's log names it (the times and log reset with it).
RETRY_CHANGES = ("state",)
LOG_TAIL_SHOWN_CHARS = 2000


def state_badge(state: str, text: str = "") -> str:
    """Return a deploy state as a coloured badge that says it in words (and `text`, if any)."""
    return format_html('<span class="taos-badge taos-state-{}">{}</span>', state, text or state)


def no_backend_context() -> dict[str, Any]:
    """Return what a page needs to say that deploys cannot run, and what to set."""
    return {"backend": backend_name(), "no_backend_reason": NO_BACKEND_REASON,
            "no_backend_help": NO_BACKEND_HELP, "deploy_docs": DEPLOY_DOCS}


class DeployNewAgentForm(AgentAdminForm):
    """What `POST /api/agents/deploy/` takes: an agent's fields, framework and model required."""

    class Meta(AgentAdminForm.Meta):
        fields = ["display_name", "framework", "model", "host", "qmd_index", "color", "emoji",
                  "can_read_user_memory"]

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for name in ("framework", "model"):
            self.fields[name].required = True


class AgentDeployPanelMixin:
    """For the agent's ModelAdmin (agents/admin.py AgentAdmin): its deploys.

    Offers the agent's page its recent deploys with Deploy and Retry buttons
    (`deploy_panel_context`), the list a "Deploy new agent" form
    (`deploy_tools_context`), the `latest_deploy` column and the `deploy`
    action; the console places them. Each button is a POST that checks
    permissions and calls a service, and logs on the agent what it made or
    changed, in the service's transaction.
    """

    deploy_panel_template = "admin/deploys/agent/deploy_panel.html"
    deploy_tools_template = "admin/deploys/agent/deploy_tools.html"
    deploy_new_template = "admin/deploys/agent/deploy_new.html"

    def get_urls(self) -> list[Any]:
        info = (self.opts.app_label, self.opts.model_name)
        view = self.admin_site.admin_view
        return [
            path("deploy-new/", view(self.deploy_new_view), name="%s_%s_deploy_new" % info),
            path("<path:object_id>/deploy/", view(self.deploy_view), name="%s_%s_deploy" % info),
            path("<path:object_id>/deploy/<int:task_id>/retry/", view(self.retry_view),
                 name="%s_%s_deploy_retry" % info),
            *super().get_urls(),
        ]

    # Permissions of this app's buttons.

    # The API's deploy routes ask the same acts (access/permission_map.py).

    def may_deploy(self, request: HttpRequest) -> bool:
        return user_may(request.user, Act.DEPLOY_EXISTING)

    def may_retry(self, request: HttpRequest) -> bool:
        return user_may(request.user, Act.DEPLOY_RETRY)

    def may_deploy_new(self, request: HttpRequest) -> bool:
        return user_may(request.user, Act.DEPLOY_NEW)

    def has_deploy_permission(self, request: HttpRequest) -> bool:
        return self.may_deploy(request)

    # What the agent's page and the list show.

    def deploy_tools_context(self, request: HttpRequest) -> dict[str, Any]:
        """Return the list's context for its "Deploy new agent" link."""
        return {"deploy_tools": {"template": self.deploy_tools_template,
                                 "may_deploy_new": self.may_deploy_new(request)}}

    def deploy_panel_context(self, request: HttpRequest, agent: Agent) -> dict[str, Any]:
        """Return the agent's page's context for its deploy panel."""
        may_view = user_may(request.user, Act.DEPLOY_VIEW)
        tasks = list(agent.deploy_tasks.order_by("-created_at", "-id")[:RECENT_DEPLOYS]
                     ) if may_view else []
        # The agent's own deploy numbers (its first deploy is 1), not the global ids.
        count = agent.deploy_tasks.count() if tasks else 0
        active = any(task.state in DeployTask.ACTIVE_STATES and not task.stale_reason
                     for task in tasks)
        rows = [{
            "task": task, "stale": task.stale_reason, "number": count - index,
            "log_tail": task.log_tail[-LOG_TAIL_SHOWN_CHARS:],
            "retryable": index == 0 and (task.state in services.RETRYABLE_STATES
                                         or bool(task.stale_reason)),
        } for index, task in enumerate(tasks)]
        return {"deploy_panel": {
            "template": self.deploy_panel_template, "may_view": may_view, "rows": rows,
            "may_deploy": self.may_deploy(request) and not active
            and agent.status in services.DEPLOYABLE_STATUSES,
            "may_retry": self.may_retry(request) and agent.status != Agent.Status.ARCHIVED,
            "any_skipped": any(task.state == DeployTask.State.SKIPPED for task in tasks),
            **no_backend_context(),
        }}

    # The buttons.

    def _said_deploy(self, task: DeployTask) -> str:
        if task.state == DeployTask.State.SKIPPED:
            return (f"Deploy #{task.pk} of {task.agent.name} skipped: {task.error} "
                    f"{NO_BACKEND_HELP} See {DEPLOY_DOCS}.")
        return f"Deploy #{task.pk} of {task.agent.name} queued."

    def _tell_deploy(self, request: HttpRequest, task: DeployTask, prefix: str = "") -> None:
        """Say what became of a deploy: a skipped one is a warning, never a success."""
        level = (messages.WARNING if task.state == DeployTask.State.SKIPPED
                 else messages.SUCCESS)
        self.message_user(request, prefix + self._said_deploy(task), level)

    def _deploy_existing(self, request: HttpRequest, agent: Agent) -> DeployTask:
        """Deploy `agent` and log it on the agent, in one transaction."""
        with transaction.atomic():
            task = services.deploy_existing(agent=agent, actor=request.user)
            self.log_change(request, agent, [added_related(task)])
        return task

    def deploy_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.may_deploy(request):
            raise PermissionDenied
        agent = self.agent_or_404(request, object_id)
        try:
            task = self._deploy_existing(request, agent)
        except ApiError as exc:
            self.message_user(request, f"Not deployed: {exc.detail}", messages.ERROR)
        else:
            self._tell_deploy(request, task)
        return HttpResponseRedirect(self.object_page(request, agent))

    def retry_view(self, request: HttpRequest, object_id: str, task_id: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.may_retry(request):
            raise PermissionDenied
        agent = self.agent_or_404(request, object_id)
        task = agent.deploy_tasks.filter(pk=task_id).first()
        if task is None:
            raise Http404("No such deploy of this agent.")
        try:
            with transaction.atomic():
                task = services.deploy_retry(task=task)
                self.log_change(request, agent, [changed_related(task, *RETRY_CHANGES)])
        except ApiError as exc:
            self.message_user(request, f"Not retried: {exc.detail}", messages.ERROR)
        else:
            self._tell_deploy(request, task, prefix="Retried: ")
        return HttpResponseRedirect(self.object_page(request, agent))

    def deploy_new_view(self, request: HttpRequest) -> HttpResponse:
        """What `POST /api/agents/deploy/` does, as a form that runs once per rendering."""
        if not self.may_deploy_new(request):
            raise PermissionDenied
        if request.method != "POST":
            key = key_in_url(request)
            if key is None:
                return redirect_with_new_key(request)
            return self._render_deploy_new(request, DeployNewAgentForm(), key=key)
        form = DeployNewAgentForm(request.POST)

        def run() -> HttpResponse:
            if not form.is_valid():
                return self._render_deploy_new(request, form)
            try:
                with transaction.atomic():
                    task = services.deploy_create(actor=request.user, **form.cleaned_data)
                    self.log_addition(request, task.agent, [added(), added_related(task)])
            except ValidationError as exc:
                form.add_error(None, exc)
                return self._render_deploy_new(request, form)
            except ApiError as exc:
                form.add_error(None, str(exc.detail))
                return self._render_deploy_new(request, form)
            self._tell_deploy(request, task)
            page = self.object_page(request, task.agent)
            record_created(request, location=page)
            return HttpResponseRedirect(page)

        def on_reused(location: str) -> HttpResponse:
            form.is_valid()
            form.add_error(None, reused_key_error(location))
            return self._render_deploy_new(request, form, key=new_form_key())

        return submit_once(request, run=run, on_reused=on_reused)

    def _render_deploy_new(self, request: HttpRequest, form: forms.Form,
                           key: str = "") -> HttpResponse:
        # The admin's own form layout (labels, required marks, help, errors).
        adminform = helpers.AdminForm(form, [(None, {"fields": list(form.fields)})],
                                      prepopulated_fields={}, model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": "Deploy new agent", "opts": self.opts, "form": form,
            "adminform": adminform, "errors": helpers.AdminErrorList(form, []),
            "form_key": key or request.POST.get(FORM_KEY_FIELD) or new_form_key(),
            "form_key_field": FORM_KEY_FIELD,
            **no_backend_context(),
        }
        return TemplateResponse(request, self.deploy_new_template, context)

    @admin.action(description="Deploy selected registered or failed agents",
                  permissions=["deploy"])
    def deploy(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            try:
                task = self._deploy_existing(request, agent)
            except ApiError as exc:
                self.message_user(request, f"Not deployed {agent.name}: {exc.detail}",
                                  messages.WARNING)
            else:
                self._tell_deploy(request, task)

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
            return format_html('<span class="taos-badge">{}</span>', "never deployed")
        error = getattr(obj, "latest_deploy_error", "")
        said = f"{state}: {error}" if error else state
        # One line in the list (the whole text as its title); a long error would
        # make the row tall and push the column under the filter panel.
        return format_html('<span class="taos-badge taos-state-{} taos-latest-deploy" '
                           'title="{}">{}</span>', state, said, said)


@admin.register(DeployTask)
class DeployTaskAdmin(admin.ModelAdmin):
    """Deploy tasks, read-only; failed, skipped or stale ones can be retried (and logged)."""

    list_display = ["id", "agent", "state_badge", "stale", "attempts", "backend", "started_at",
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

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return user_may(request.user, Act.DEPLOY_RETRY)

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: DeployTask) -> str:
        return state_badge(obj.state)

    @admin.display(description="stale")
    def stale(self, obj: DeployTask) -> str:
        """Computed on read: the job is gone; a retry (or a sweep) marks it failed.

        Said as a neutral yes or no: Django's boolean icons show a red cross for
        "not stale", which reads as an error.
        """
        return state_badge("stale", "yes") if obj.stale_reason else "no"

    def changelist_view(self, request: HttpRequest,
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not backend_name():
            self.message_user(request, f"{NO_BACKEND_REASON} {NO_BACKEND_HELP} See {DEPLOY_DOCS}.",
                              messages.WARNING)
        return super().changelist_view(request, extra_context)

    @admin.action(description="Retry selected failed (or skipped, or stale) deploys",
                  permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[DeployTask]) -> None:
        retried, skipped, refused = 0, 0, []
        for task in queryset:
            try:
                with transaction.atomic():
                    task = services.deploy_retry(task=task)
                    self.log_change(request, task, [changed(task, *RETRY_CHANGES)])
            except Conflict as exc:
                refused.append(f"#{task.pk}: {exc.detail}")
            else:
                if task.state == DeployTask.State.SKIPPED:
                    skipped += 1
                else:
                    retried += 1
        if retried:
            self.message_user(request, f"Queued {retried} deploy(s) again.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"Skipped {skipped} deploy(s) again: {NO_BACKEND_REASON} "
                              f"{NO_BACKEND_HELP} See {DEPLOY_DOCS}.", messages.WARNING)
        for line in refused:
            self.message_user(request, f"Not retried {line}", messages.WARNING)
