from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from idempotency import services
from idempotency.models import IdempotencyRecord

BODY_PREVIEW_CHARS = 2000


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("live", "Live"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "live":
            return queryset.filter(expires_at__gt=timezone.now())
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=timezone.now())
        return queryset


class MethodFilter(admin.SimpleListFilter):
    # Fixed choices: the default filter would scan millions of rows for DISTINCT.
    title = "method"
    parameter_name = "method"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(m, m) for m in ("POST", "PUT", "PATCH", "DELETE")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(method=self.value()) if self.value() else queryset


class StatusFilter(admin.SimpleListFilter):
    title = "response status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("2xx", "2xx"), ("3xx", "3xx")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() in ("2xx", "3xx"):
            low = int(self.value()[0]) * 100
            return queryset.filter(response_status__gte=low, response_status__lt=low + 100)
        return queryset


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    """Read-only: records are written by requests and removed by purges only."""

    list_display = ["key", "principal", "method", "path", "response_status",
                    "created_at", "expires_at"]
    list_filter = [ExpiryFilter, MethodFilter, StatusFilter, "created_at"]
    # Exact match: served by the unique (key, principal) index at any size.
    search_fields = ["key__exact"]
    search_help_text = "Exact Idempotency-Key."
    ordering = ["-id"]
    show_full_result_count = False
    fields = ["principal", "key", "method", "path", "fingerprint", "response_status",
              "response_headers", "response_body_preview", "created_at", "expires_at"]
    readonly_fields = fields
    actions = ["purge_expired"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest,
                              obj: IdempotencyRecord | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest,
                              obj: IdempotencyRecord | None = None) -> bool:
        return False

    def has_purge_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("idempotency.delete_idempotencyrecord")

    @admin.display(description="response body")
    def response_body_preview(self, obj: IdempotencyRecord) -> str:
        body = bytes(obj.response_body or b"")
        text = body.decode("utf-8", errors="replace")
        return text if len(text) <= BODY_PREVIEW_CHARS else text[:BODY_PREVIEW_CHARS] + "…"

    @admin.action(description="Purge the expired ones among the selected keys",
                  permissions=["purge"])
    def purge_expired(self, request: HttpRequest, queryset: QuerySet[IdempotencyRecord]) -> None:
        selected = queryset.count()
        purged = services.purge_expired(queryset=queryset)
        self.message_user(
            request,
            f"Purged {purged} expired key(s); {selected - purged} live key(s) kept.",
            messages.SUCCESS,
        )
