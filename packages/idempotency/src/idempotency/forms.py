"""Browser forms that create something run once per rendered form (the admin's submit-once).

Each such form carries a one-time key in a hidden field (`FORM_KEY_FIELD`),
rendered with the form. Its POST reserves that key in the reservation table,
principal `user:<id>`, through idempotency/services.py, in one transaction
(the engine's, idempotency/engines/) with the form's effects, exactly as an
API request with an Idempotency-Key:

- a double or repeated submit waits for the first (the reservation's unique
  index, on any worker or host), then lands where the first did: the stored
  response is the redirect to what the first made, with its messages; past
  IDEMPOTENCY_WAIT_SECONDS (on SQLite too: the wait for the write lock is
  bounded as for the API) it lands back on the form's page, which says the
  first submit is still being saved;
- the same key with changed data is a form error linking to what the first
  made (`on_reused`), never a bare 422;
- a form whose answer showed a secret stores, instead of that answer, a
  redirect to the new object's page saying the secret cannot be shown again;
- a submit that made nothing (invalid form, refused, an error) rolls back
  and stores nothing, so the key is free for the corrected form.

`submit_once` is the whole protocol; `IdempotentAddMixin` applies it to a
ModelAdmin's add form. The fingerprint covers the form's data without the
CSRF token and without the key itself.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeData, mark_safe

from idempotency import conf, engines, services
from idempotency.errors import IdempotencyKeyInUse, IdempotencyKeyInvalid
from idempotency.keys import parse_key, request_fingerprint
from idempotency.stored import StoredResponse

FORM_KEY_FIELD = "_idempotency_key"
CSRF_FIELD = "csrfmiddlewaretoken"
REPLAYED_HEADER = "Idempotent-Replayed"
TEMPLATE = "admin/idempotency/change_form.html"
IN_USE_MESSAGE = ("This form is still being saved by an earlier submit; "
                  "reload the page in a moment to see its result.")

_OUTCOME_ATTR = "idempotent_form_outcome"


def new_form_key() -> str:
    """Return a fresh one-time key for a form being rendered."""
    return "form-" + secrets.token_urlsafe(24)


def key_in_url(request: HttpRequest) -> str | None:
    """Return the form key in the URL of a form's page (`?_idempotency_key=`), if valid."""
    try:
        return parse_key(request.GET.get(FORM_KEY_FIELD, ""))
    except IdempotencyKeyInvalid:
        return None


def redirect_with_new_key(request: HttpRequest) -> HttpResponseRedirect:
    """Redirect a form page's GET to itself with a new key in its URL.

    The key then belongs to the page's history entry: a browser going Back
    to the form (or reloading it) renders the same key again, whatever it
    caches, so saving it again replays the first save instead of making a
    second object. A new link to the form gets a new key.
    """
    query = request.GET.copy()
    query[FORM_KEY_FIELD] = new_form_key()
    return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")


def form_fingerprint(request: HttpRequest) -> str:
    """Return the fingerprint of a form POST: path and data, without the CSRF token and key."""
    data = sorted(
        (name, value) for name, values in request.POST.lists()
        if name not in (CSRF_FIELD, FORM_KEY_FIELD) for value in values
    )
    body = json.dumps(data, separators=(",", ":")).encode()
    return request_fingerprint(method="POST", path=request.path, body=body)


@dataclass
class FormOutcome:
    """What one submit made: where it lands and what it said (for its replays)."""

    location: str = ""
    messages: list[tuple[int, str, bool]] = field(default_factory=list)
    replay_message: tuple[int, str] | None = None

    def stored_body(self) -> bytes:
        said = [list(self.replay_message) + [False]] if self.replay_message else self.messages
        return json.dumps({"messages": said}).encode()


def _outcome(request: HttpRequest) -> FormOutcome:
    outcome = getattr(request, _OUTCOME_ATTR, None)
    if outcome is None:
        outcome = FormOutcome()
        setattr(request, _OUTCOME_ATTR, outcome)
    return outcome


def record_message(request: HttpRequest, level: int, message: Any) -> None:
    """Note a message the submit shows, so that its replays show it too."""
    _outcome(request).messages.append((level, str(message), isinstance(message, SafeData)))


def record_created(request: HttpRequest, *, location: str,
                   replay_message: str | None = None) -> None:
    """Note that the submit made something, found at `location`; only then is it stored.

    `replay_message` replaces the submit's own messages in its replays: for a
    form whose answer showed a secret that a replay must not show.
    """
    outcome = _outcome(request)
    outcome.location = location
    if replay_message is not None:
        outcome.replay_message = (messages.WARNING, replay_message)


def submit_once(request: HttpRequest, *, run: Callable[[], HttpResponseBase],
                on_reused: Callable[[str], HttpResponseBase]) -> HttpResponseBase:
    """Run the form POST `run` at most once per (user, form key); see the module docstring.

    Call it after the permission checks (a refused request must not touch the
    table). `run` must call `record_created` when it made something. A POST
    without a key (or with a malformed one) runs as it is.
    """
    try:
        key = parse_key(request.POST.get(FORM_KEY_FIELD, ""))
    except IdempotencyKeyInvalid:
        return run()
    principal = f"user:{request.user.pk}"
    fingerprint = form_fingerprint(request)
    wait_seconds = float(conf.get("WAIT_SECONDS"))
    expires_at = timezone.now() + timedelta(seconds=int(conf.get("TTL_SECONDS")))
    try:
        with engines.current().transaction(wait_seconds=wait_seconds):
            stored = services.reserve(
                principal=principal, key=key, fingerprint=fingerprint, method="POST",
                path=request.path, wait_seconds=wait_seconds, expires_at=expires_at,
            )
            if stored is None:
                return _run_and_store(request, run=run, principal=principal, key=key,
                                      fingerprint=fingerprint)
    except IdempotencyKeyInUse:
        messages.warning(request, IN_USE_MESSAGE)
        return HttpResponseRedirect(request.get_full_path())
    if stored.fingerprint != fingerprint:
        return on_reused(stored.headers.get("Location", ""))
    return replay(request, stored)


def _run_and_store(request: HttpRequest, *, run: Callable[[], HttpResponseBase],
                   principal: str, key: str, fingerprint: str) -> HttpResponseBase:
    response = run()
    outcome = getattr(request, _OUTCOME_ATTR, None)
    if (outcome is None or not outcome.location or response.status_code >= 400
            or transaction.get_rollback()):
        # Nothing made (an invalid form, a refusal, a swallowed error): keep
        # nothing, so that the corrected form can use the same key.
        transaction.set_rollback(True)
        return response
    services.complete(principal=principal, key=key, response=StoredResponse(
        fingerprint=fingerprint, status=302, body=outcome.stored_body(),
        headers={"Location": outcome.location},
    ))
    response[REPLAYED_HEADER] = "false"
    return response


def replay(request: HttpRequest, stored: StoredResponse) -> HttpResponse:
    """Answer a repeated submit: the first one's redirect, with its messages."""
    said = json.loads(stored.body or b"{}").get("messages", [])
    for level, text, safe in said:
        # Safe text was made safe by this site's own code when the first submit ran.
        messages.add_message(request, level, mark_safe(text) if safe else text)
    response = HttpResponseRedirect(stored.headers["Location"])
    response[REPLAYED_HEADER] = "true"
    return response


def reused_key_error(location: str) -> str:
    """Return the form error for a key reused with changed data, linking to the first result."""
    if location:
        return format_html(
            "This form was already submitted with other data, and that submit made "
            '<a href="{}">this</a>. The form below has a new key: save it again to make '
            "another one.", location,
        )
    return ("This form was already submitted with other data. The form below has a new "
            "key: save it again to make another one.")


class IdempotentAddMixin:
    """A ModelAdmin whose add form runs once per rendered form (see `submit_once`).

    The add form renders a fresh key; a successful add lands on the new
    object's page. A ModelAdmin whose add answer shows a secret calls
    `record_created(..., replay_message=...)` itself from `response_add`.
    """

    add_form_template = TEMPLATE
    _REUSED_ATTR = "idempotent_form_reused_location"

    def add_view(self, request: HttpRequest, form_url: str = "",
                 extra_context: dict[str, Any] | None = None) -> HttpResponseBase:
        if request.method == "GET" and self.has_add_permission(request):
            key = key_in_url(request)
            if key is None:
                return redirect_with_new_key(request)
        else:
            key = request.POST.get(FORM_KEY_FIELD) or new_form_key()  # a re-rendered form
        extra_context = {**(extra_context or {}), "idempotency_form_key": key,
                         "idempotency_form_key_field": FORM_KEY_FIELD}
        return super().add_view(request, form_url, extra_context)

    def changeform_view(self, request: HttpRequest, object_id: str | None = None,
                        form_url: str = "", extra_context: dict[str, Any] | None = None
                        ) -> HttpResponseBase:
        parent = super().changeform_view
        if object_id is not None or request.method != "POST" or not self.has_add_permission(
                request):
            return parent(request, object_id, form_url, extra_context)

        def on_reused(location: str) -> HttpResponseBase:
            setattr(request, self._REUSED_ATTR, location)
            fresh = {**(extra_context or {}), "idempotency_form_key": new_form_key()}
            return parent(request, object_id, form_url, fresh)

        return submit_once(request, run=lambda: parent(request, object_id, form_url,
                                                        extra_context),
                           on_reused=on_reused)

    def get_form(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, **kwargs)
        if obj is None and hasattr(request, self._REUSED_ATTR):
            error = reused_key_error(getattr(request, self._REUSED_ATTR))
            base = form

            def clean(self_: Any) -> Any:
                cleaned = base.clean(self_)
                self_.add_error(None, error)
                return cleaned

            form = type(base.__name__, (base,), {"clean": clean})
        return form

    def message_user(self, request: HttpRequest, message: Any, level: int = messages.INFO,
                     *args: Any, **kwargs: Any) -> None:
        record_message(request, level, message)
        super().message_user(request, message, level, *args, **kwargs)

    def object_page(self, request: HttpRequest, obj: Any) -> str:
        """Return the URL of `obj`'s admin page, or the admin index if the user may not see it."""
        opts = obj._meta
        if self.has_view_or_change_permission(request, obj):
            return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                           args=[obj.pk])
        return reverse(f"{self.admin_site.name}:index")

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None
                     ) -> HttpResponseBase:
        response = super().response_add(request, obj, post_url_continue)
        if not isinstance(response, HttpResponseRedirect):  # a popup's answer
            record_created(request, location=self.object_page(request, obj))
            return response
        if "_addanother" not in request.POST:
            # Land on what was made: the page every replay lands on too.
            response = HttpResponseRedirect(self.object_page(request, obj))
        record_created(request, location=response["Location"])
        return response
