"""Admin for agent and operator tokens: listed, issued, rotated and revoked, never edited.

A new secret is shown once, on a page rendered in the response of the POST
that made it: never in the messages cookie or the session. The digest is
never shown. Every write calls a service and writes the admin's LogEntry in
the service's transaction (agents/admin_log.py); a token is named
there by its lookup prefix, never its secret.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from idempotency.forms import (
    FORM_KEY_FIELD,
    IdempotentAddMixin,
    new_form_key,
    record_created,
    submit_once,
)
from access.permission_map import Act, user_may
from agents.admin import confirm_action, confirmation_page
from agents.admin_log import added, added_related, changed, changed_related
from api.error_codes import ErrorCode
from tokens import services
from tokens.errors import OperatorTokenForOthersForbidden, TokenAlreadyActive
from tokens.models import AgentToken, OperatorToken

SECRET_TEMPLATE = "admin/tokens/secret.html"
LIST_FIELDS = ["prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
# What a revocation changes, as the admin's log names it.
AGENT_TOKEN_REVOKED = ("revoked_at", "revoked_by", "revoke_reason")
OPERATOR_TOKEN_REVOKED = ("revoked_at",)


class AgentTokenAddForm(forms.ModelForm):
    """Issue a token: choose the agent. Refuses an agent that has an active token."""

    class Meta:
        model = AgentToken
        fields = ["agent"]

    def clean_agent(self) -> Any:
        agent = self.cleaned_data["agent"]
        # Django skips `uniq_agent_active_token` here (its condition's field is
        # not in the form), so check it; the service decides any race.
        if AgentToken.objects.active().filter(agent=agent).exists():
            raise forms.ValidationError(
                "This agent already has an active token; rotate it instead.",
                code=ErrorCode.TOKEN_ALREADY_ACTIVE,
            )
        return agent


class OperatorTokenAddForm(forms.ModelForm):
    """Add an operator token: for yourself, or for anyone if you may (see the service)."""

    actor: Any = None  # the requesting user, set by OperatorTokenAdmin.get_form

    class Meta:
        model = OperatorToken
        fields = ["user", "name", "expires_at"]

    def clean_user(self) -> Any:
        user = self.cleaned_data["user"]
        if self.actor is not None and not services.may_add_operator_token_for(
                actor=self.actor, user=user):
            raise forms.ValidationError(
                OperatorTokenForOthersForbidden.default_detail,
                code=ErrorCode.OPERATOR_TOKEN_FOR_OTHERS_FORBIDDEN,
            )
        return user

    def clean_expires_at(self) -> Any:
        expires_at = self.cleaned_data["expires_at"]
        services.check_expires_at(expires_at)
        return expires_at


def secret_page(request: HttpRequest, admin_site: admin.AdminSite, opts: Any, *, title: str,
                secrets: list[tuple[str, str]], done_url: str = "") -> HttpResponse:
    """Render the page that shows new secrets once; never cached."""
    context = {
        **admin_site.each_context(request),
        "title": title,
        "opts": opts,
        "secrets": secrets,
        "done_url": done_url,
    }
    response = TemplateResponse(request, SECRET_TEMPLATE, context)
    add_never_cache_headers(response)
    return response


SHOWN_ONCE_MESSAGE = (
    "This form was already submitted: it made {label}, whose secret was shown to that "
    "first submit only and cannot be shown again. Nothing new was made; rotate the token "
    "for a new secret."
)


class SecretPageMixin(IdempotentAddMixin):
    """Render the show-once page for new secrets; keep the change form read-only.

    The add form runs once per rendering: a repeated submit lands on the new
    token's page, without its secret (SHOWN_ONCE_MESSAGE).
    """

    def secret_page(self, request: HttpRequest, *, title: str,
                    secrets: list[tuple[str, str]]) -> HttpResponse:
        return secret_page(request, self.admin_site, self.model._meta, title=title,
                           secrets=secrets)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke, never delete: revoked tokens are the audit trail

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return []
        return [name for name in self.fields_shown if name != "digest"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        if obj is None:
            return list(self.add_form._meta.fields)
        return list(self.fields_shown)

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            # Nothing is editable: saving the stale object could undo a
            # revocation made meanwhile.
            return
        issued = self.issue(request, form)
        obj.pk = issued.token.pk
        obj._state.adding = False
        obj.prefix = issued.token.prefix
        obj._issued_secret = issued.secret

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None
                     ) -> HttpResponse:
        record_created(request, location=self.object_page(request, obj),
                       replay_message=SHOWN_ONCE_MESSAGE.format(label=self.label(obj)))
        return self.secret_page(request, title=f"New {self.model._meta.verbose_name}",
                                secrets=[(self.label(obj), obj._issued_secret)])

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        return HttpResponseRedirect(request.path)


@admin.register(AgentToken)
class AgentTokenAdmin(SecretPageMixin, admin.ModelAdmin):
    add_form = AgentTokenAddForm
    list_display = ["prefix", "agent", "created_at", "created_by", "last_used_at",
                    "revoked_at", "expires_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["agent", "created_by"]
    search_fields = ["prefix", "agent__name", "agent__display_name"]
    fields_shown = ["agent", "prefix", "created_at", "created_by", "expires_at",
                    "last_used_at", "revoked_at", "revoked_by", "revoke_reason"]
    actions = ["rotate", "revoke"]

    def label(self, obj: AgentToken) -> str:
        return f"agent {obj.agent.name} ({obj.prefix}…)"

    def issue(self, request: HttpRequest, form: AgentTokenAddForm) -> services.IssuedToken:
        return services.token_issue(agent=form.cleaned_data["agent"], actor=request.user)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: Any = None) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except TokenAlreadyActive as exc:
            # Another issuer won between the form's check and the service.
            self.message_user(request, str(exc.detail), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Rotate: new token for the selected tokens' agents",
                  permissions=["add", "change"])
    def rotate(self, request: HttpRequest, queryset: QuerySet[AgentToken]) -> HttpResponse:
        asking = confirm_action(
            self, request, queryset, act="rotate",
            question="Rotate the tokens of these tokens' agents?",
            confirm_label="Yes, rotate",
            consequence="Each agent gets a new token, shown once on the next page; its active "
                        "token stops working at once. Agents holding the old secret are locked "
                        "out until they get the new one.")
        if asking is not None:
            return asking
        agents = [token.agent for token in queryset.select_related("agent")]
        with transaction.atomic():
            issued = services.tokens_rotate_agents(agents=agents, actor=request.user)
            for item in issued:
                if item.replaced is not None:
                    self.log_change(request, item.replaced,
                                    [changed(item.replaced, *AGENT_TOKEN_REVOKED)])
                self.log_addition(request, item.token, [added()])
        return self.secret_page(
            request, title="Rotated agent tokens",
            secrets=[(self.label(item.token), item.secret) for item in issued],
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[AgentToken]) -> HttpResponse | None:
        asking = confirm_action(
            self, request, queryset, act="revoke", question="Revoke these agent tokens?",
            confirm_label="Yes, revoke",
            consequence="A revoked token stops working at once and cannot be restored; its "
                        "agent needs a new one (Issue on the agent's page).")
        if asking is not None:
            return asking
        with transaction.atomic():
            revoked = services.tokens_revoke_selected(tokens=list(queryset), actor=request.user,
                                                      reason="revoked in admin")
            for token in revoked:
                self.log_change(request, token, [changed(token, *AGENT_TOKEN_REVOKED)])
        self.message_user(request, f"Revoked {len(revoked)} token(s).", messages.SUCCESS)
        return None


@admin.register(OperatorToken)
class OperatorTokenAdmin(SecretPageMixin, admin.ModelAdmin):
    add_form = OperatorTokenAddForm
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "expires_at",
                    "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    list_select_related = ["user"]
    search_fields = ["name", "prefix", "user__username"]
    fields_shown = ["user", "name", "prefix", "created_at", "expires_at", "last_used_at",
                    "revoked_at"]
    actions = ["revoke"]

    def label(self, obj: OperatorToken) -> str:
        return f"{obj.name} for {obj.user.get_username()} ({obj.prefix}…)"

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            form = type(form.__name__, (form,), {"actor": request.user})
        return form

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            # Offer only the users this user may make a token for.
            if not services.may_add_operator_tokens_for_others(actor=request.user):
                kwargs["queryset"] = db_field.related_model._default_manager.filter(
                    pk=request.user.pk)
                # Another user's id is then "not a valid choice": say why.
                kwargs["error_messages"] = {
                    "invalid_choice": OperatorTokenForOthersForbidden.default_detail}
            kwargs.setdefault("initial", request.user.pk)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "user" and formfield is not None:
            # A token form is no place to delete a user (the red cross Django adds).
            formfield.widget.can_delete_related = False
        return formfield

    def issue(self, request: HttpRequest, form: OperatorTokenAddForm
              ) -> services.IssuedOperatorToken:
        data = form.cleaned_data
        return services.operator_token_create(user=data["user"], name=data["name"],
                                              expires_at=data["expires_at"],
                                              actor=request.user)

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[OperatorToken]
               ) -> HttpResponse | None:
        asking = confirm_action(
            self, request, queryset, act="revoke", question="Revoke these operator tokens?",
            confirm_label="Yes, revoke",
            consequence="A revoked token stops working at once and cannot be restored; "
                        "scripts using it need a new one.")
        if asking is not None:
            return asking
        count = 0
        with transaction.atomic():
            for token in queryset:
                if services.operator_token_revoke(token=token):
                    self.log_change(request, token, [changed(token, *OPERATOR_TOKEN_REVOKED)])
                    count += 1
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
        return None


# --- The agent's token on the agent's admin page --------------------------------

class ArchiveForm(forms.Form):
    revoke_token = forms.BooleanField(
        required=False, initial=False, label="Also revoke its token",
        help_text="Archiving alone revokes nothing: the agent's token keeps working "
                  "until it is revoked.",
    )


# The panel's buttons that ask first, and what their confirmation pages say.
CONFIRMED_OPERATIONS = {
    "rotate": {
        "title": "Rotate the token of {agent}?", "confirm": "Yes, rotate",
        "consequence": "A new token is made and shown once on the next page; the active one "
                       "stops working at once, so the agent is locked out until it gets the "
                       "new secret.",
    },
    "revoke": {
        "title": "Revoke the token of {agent}?", "confirm": "Yes, revoke",
        "consequence": "The token stops working at once and cannot be restored; the agent "
                       "needs a new one (Issue token).",
    },
}


class AgentTokenPanelMixin:
    """For the agent's ModelAdmin (agents/admin.py AgentAdmin): its token, and archiving.

    Offered by the app that owns tokens (the agents app knows nothing of
    them); the console composes it into the agent's page (console/admin.py),
    which shows `token_panel_context`. The panel shows the active token's
    metadata, never its secret, and archiving with a token choice; its
    buttons are POSTs: issue and rotate run once per rendered page (a form
    key) and show the new secret once; revoke is idempotent. Each checks the
    token permissions and calls a service, and logs what it did on the agent
    (the token named in the message, as Django names an inline's objects) in
    the service's transaction.
    """

    token_panel_template = "admin/tokens/agent_token_panel.html"
    archive_template = "admin/tokens/agent_archive.html"

    def get_urls(self) -> list[Any]:
        from django.urls import path

        info = (self.opts.app_label, self.opts.model_name)
        return [
            path("<path:object_id>/token/<str:operation>/",
                 self.admin_site.admin_view(self.token_operation_view),
                 name="%s_%s_token" % info),
            path("<path:object_id>/archive/", self.admin_site.admin_view(self.archive_view),
                 name="%s_%s_archive" % info),
            *super().get_urls(),
        ]

    def token_permissions(self, request: HttpRequest) -> dict[str, bool]:
        # The API's token routes ask the same acts (access/permission_map.py).
        user = request.user
        return {
            "view": user_may(user, Act.TOKEN_VIEW),
            "issue": user_may(user, Act.TOKEN_ISSUE),
            "rotate": user_may(user, Act.TOKEN_ROTATE),
            "revoke": user_may(user, Act.TOKEN_REVOKE),
        }

    def token_panel_context(self, request: HttpRequest, agent: Any) -> dict[str, Any]:
        """Return the agent's page's context for its token panel."""
        perms = self.token_permissions(request)
        token = AgentToken.objects.active().filter(agent=agent).first() if perms["view"] else None
        return {"token_panel": {
            "template": self.token_panel_template, "perms": perms, "token": token,
            "form_key": new_form_key(), "form_key_field": FORM_KEY_FIELD,
            "can_archive": self.has_archive_permission(request)
            and agent.status != agent.Status.ARCHIVED,
        }}

    def token_operation_view(self, request: HttpRequest, object_id: str,
                             operation: str) -> HttpResponse:
        # GET asks first (rotate and revoke: the panel's buttons lead here); the POST acts.
        asks = request.method == "GET" and operation in CONFIRMED_OPERATIONS
        if request.method != "POST" and not asks:
            return HttpResponseNotAllowed(["POST"])
        if operation not in ("issue", "rotate", "revoke"):
            raise Http404("No such token operation.")
        if not self.token_permissions(request)[operation]:
            raise PermissionDenied
        agent = self.agent_or_404(request, object_id)
        page = self.object_page(request, agent)
        if asks:
            return self.token_confirmation(request, agent, operation, page)
        if operation == "revoke":
            with transaction.atomic():
                revoked = services.token_revoke(agent=agent, actor=request.user,
                                                reason="revoked in admin")
                if revoked:
                    self.log_change(request, agent, [
                        changed_related(token, *AGENT_TOKEN_REVOKED) for token in revoked])
            self.message_user(request, "Revoked the agent's token." if revoked else
                              "The agent had no active token.", messages.SUCCESS)
            return HttpResponseRedirect(page)

        def run() -> HttpResponse:
            try:
                with transaction.atomic():
                    if operation == "issue":
                        issued = services.token_issue(agent=agent, actor=request.user)
                    else:
                        issued = services.token_rotate(agent=agent, actor=request.user)
                    said = [added_related(issued.token)]
                    if issued.replaced is not None:
                        said.insert(0, changed_related(issued.replaced, *AGENT_TOKEN_REVOKED))
                    self.log_change(request, agent, said)
            except TokenAlreadyActive as exc:
                self.message_user(request, str(exc.detail), messages.ERROR)
                return HttpResponseRedirect(page)
            label = f"agent {agent.name} ({issued.token.prefix}…)"
            record_created(request, location=page,
                           replay_message=SHOWN_ONCE_MESSAGE.format(label=label))
            return secret_page(request, self.admin_site, self.opts, secrets=[(label,
                               issued.secret)], done_url=page,
                               title="New agent token" if operation == "issue"
                               else "Rotated agent token")

        def on_reused(location: str) -> HttpResponse:
            return HttpResponseRedirect(page)

        return submit_once(request, run=run, on_reused=on_reused)

    def token_confirmation(self, request: HttpRequest, agent: Any, operation: str,
                           page: str) -> HttpResponse:
        """Render "Rotate (or revoke) this agent's token?", posting back to the operation."""
        token = AgentToken.objects.active().filter(agent=agent).first()
        said = CONFIRMED_OPERATIONS[operation]
        # Rotate runs once per rendered page: the panel's key comes along in the URL.
        key = request.GET.get(FORM_KEY_FIELD) or new_form_key()
        hidden = [(FORM_KEY_FIELD, key)] if operation == "rotate" else []
        return confirmation_page(
            self, request, act=operation, title=said["title"].format(agent=agent.name),
            question=said["title"].format(agent=agent.name),
            objects=[f"agent {agent.name}: token {token.prefix}…" if token
                     else f"agent {agent.name}: no active token"],
            consequence=said["consequence"], confirm_label=said["confirm"],
            cancel_url=page, form_action=request.path, hidden=hidden, original=agent)

    def archive_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        agent = self.agent_or_404(request, object_id)
        if not self.has_archive_permission(request):
            raise PermissionDenied
        may_revoke = self.token_permissions(request)["revoke"]
        form = ArchiveForm(request.POST if request.method == "POST" else None)
        if not may_revoke:
            form.fields["revoke_token"].disabled = True
        if request.method == "POST" and form.is_valid():
            revoke = may_revoke and form.cleaned_data["revoke_token"]
            with transaction.atomic():
                result = services.agent_archive_with_token(agent=agent, revoke_token=revoke,
                                                           actor=request.user)
                revoked = result.revoked
                said = [changed(agent, "status")] if result.archived else []
                said += [changed_related(token, *AGENT_TOKEN_REVOKED) for token in revoked]
                if said:  # archiving again what is archived changes nothing
                    self.log_change(request, agent, said)
            said = ("Archived the agent and revoked its token." if revoked else
                    "Archived the agent; its token, if any, was kept active." if not revoke
                    else "Archived the agent; it had no active token.")
            self.message_user(request, said, messages.SUCCESS)
            return HttpResponseRedirect(self.object_page(request, agent))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Archive {agent.name}", "opts": self.opts, "original": agent,
            "form": form,
            "has_active_token": AgentToken.objects.active().filter(agent=agent).exists(),
        }
        return TemplateResponse(request, self.archive_template, context)
