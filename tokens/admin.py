"""Admin for agent and operator tokens: listed, issued, rotated and revoked, never edited.

A new secret is shown once, on a page rendered in the response of the POST
that made it: never in the messages cookie or the session. The digest is
never shown. Every write calls a service.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from idempotency.forms import IdempotentAddMixin, record_created
from tinyagentos_site.error_codes import ErrorCode
from tokens import services
from tokens.errors import OperatorTokenForOthersForbidden, TokenAlreadyActive
from tokens.models import AgentToken, OperatorToken

SECRET_TEMPLATE = "admin/tokens/secret.html"
LIST_FIELDS = ["prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]


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
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "secrets": secrets,
        }
        response = TemplateResponse(request, SECRET_TEMPLATE, context)
        add_never_cache_headers(response)
        return response

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
        agents = [token.agent for token in queryset.select_related("agent")]
        issued = services.tokens_rotate_agents(agents=agents, actor=request.user)
        return self.secret_page(
            request, title="Rotated agent tokens",
            secrets=[(self.label(item.token), item.secret) for item in issued],
        )

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[AgentToken]) -> None:
        count = services.tokens_revoke_selected(tokens=list(queryset), actor=request.user,
                                                reason="revoked in admin")
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)


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

    def issue(self, request: HttpRequest, form: OperatorTokenAddForm
              ) -> services.IssuedOperatorToken:
        data = form.cleaned_data
        return services.operator_token_create(user=data["user"], name=data["name"],
                                              expires_at=data["expires_at"],
                                              actor=request.user)

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[OperatorToken]) -> None:
        count = sum(services.operator_token_revoke(token=token) for token in queryset)
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)
