"""The admin: read-only records, filters, search by key, a purge-expired action."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from idempotency.models import IdempotencyRecord

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:idempotency_idempotencyrecord_changelist")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings) -> None:
    # Admin pages link static files; tests run without collectstatic's manifest.
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("admin", superuser=True))
    return client


@pytest.fixture
def records() -> dict[str, IdempotencyRecord]:
    now = timezone.now()

    def make(key: str, *, expired: bool) -> IdempotencyRecord:
        return IdempotencyRecord.objects.create(
            principal="user:1", key=key, method="POST", path="/api/agents/",
            fingerprint="0" * 64, response_status=201, response_body=b'{"name": "bot"}',
            response_headers={"Content-Type": "application/json"},
            expires_at=now + (timedelta(seconds=-1) if expired else timedelta(hours=1)),
        )

    return {"old": make("old-key", expired=True), "live": make("live-key", expired=False)}


def test_changelist_lists_records(admin_client, records):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"old-key" in response.content and b"live-key" in response.content


def test_search_finds_a_record_by_its_exact_key(admin_client, records):
    response = admin_client.get(CHANGELIST, {"q": "live-key"})
    assert b"live-key" in response.content
    assert b"old-key" not in response.content


@pytest.mark.parametrize("expiry, shown, hidden", [
    ("expired", b"old-key", b"live-key"), ("live", b"live-key", b"old-key"),
])
def test_expiry_filter(admin_client, records, expiry, shown, hidden):
    response = admin_client.get(CHANGELIST, {"expiry": expiry})
    assert shown in response.content
    assert hidden not in response.content


def test_method_and_status_filters_apply(admin_client, records):
    assert b"live-key" in admin_client.get(CHANGELIST, {"method": "POST", "status": "2xx"}).content
    assert b"live-key" not in admin_client.get(CHANGELIST, {"method": "DELETE"}).content


def test_records_cannot_be_added_changed_or_deleted(admin_client, records):
    record = records["live"]
    change_url = reverse("admin:idempotency_idempotencyrecord_change", args=[record.pk])
    assert admin_client.get(reverse("admin:idempotency_idempotencyrecord_add")).status_code == 403
    detail = admin_client.get(change_url)
    assert detail.status_code == 200  # shown read-only
    assert b'name="key"' not in detail.content
    assert b"&quot;name&quot;: &quot;bot&quot;" in detail.content  # the body, shown as text
    admin_client.post(change_url, {"key": "changed"})
    assert IdempotencyRecord.objects.get(pk=record.pk).key == "live-key"
    delete_url = reverse("admin:idempotency_idempotencyrecord_delete", args=[record.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403


def test_purge_action_deletes_only_the_expired_selected_records(admin_client, records):
    response = admin_client.post(CHANGELIST, {
        "action": "purge_expired",
        "_selected_action": [records["old"].pk, records["live"].pk],
    }, follow=True)
    assert response.status_code == 200
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["live-key"]
    assert b"Purged 1 expired key(s); 1 live key(s) kept." in response.content


def test_purge_action_needs_delete_permission(make_user, records):
    viewer = make_user("viewer", perms=("idempotency.view_idempotencyrecord",))
    viewer.is_staff = True
    viewer.save()
    client = Client()
    client.force_login(viewer)
    client.post(CHANGELIST, {"action": "purge_expired",
                             "_selected_action": [records["old"].pk]})
    assert IdempotencyRecord.objects.count() == 2
