from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_ensure_admin_generates_and_prints_a_password_once(monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_PASSWORD", raising=False)
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().strip().splitlines()[-1]
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(password)

    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert password not in again.getvalue()
    assert User.objects.count() == 1


def test_ensure_admin_uses_the_given_password(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "given-password-123")
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    assert User.objects.get(username="admin").check_password("given-password-123")
    assert "given-password-123" not in out.getvalue()
