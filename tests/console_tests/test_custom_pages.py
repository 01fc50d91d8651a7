"""Every custom page is the admin's own: its templates and CSS, no dead links, no stray icons."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from agents.services import agent_create

pytestmark = pytest.mark.django_db


def test_the_header_has_no_view_site_link_to_a_missing_page(browser):
    text = browser.get(reverse("admin:index")).content.decode()
    assert "View site" not in text


def test_the_colour_field_is_a_colour_picker_with_a_swatch(browser):
    agent = agent_create(display_name="Blue Bot", color="#1e90ff")
    text = browser.get(reverse("admin:agents_agent_change", args=[agent.pk])).content.decode()
    assert '<input type="color" name="color" value="#1e90ff"' in text


def test_the_operator_token_form_offers_no_user_delete_link(browser):
    text = browser.get(reverse("admin:tokens_operatortoken_add"), follow=True).content.decode()
    assert 'id="delete_id_user"' not in text
    assert 'id="id_user"' in text


def test_deploy_new_agent_is_the_admins_form_with_required_marks(browser):
    text = browser.get(reverse("admin:agents_agent_deploy_new"), follow=True).content.decode()
    assert "admin/css/forms.css" in text and "console/console.css" in text
    for name in ("display_name", "framework", "model"):
        assert f'<label class="required" for="id_{name}">' in text, name
    assert 'class="closelink">Cancel</a>' in text


def test_the_lockout_page_is_the_admins_and_says_how_to_get_back_in(rf):
    from access.lockout import LockedOut
    from access.middleware import LoginLockoutMiddleware

    request = rf.post("/admin/login/")
    page = LoginLockoutMiddleware(lambda r: None).process_exception(request, LockedOut(600))
    text = page.content.decode()
    assert page.status_code == 429
    assert "admin/css/base.css" in text and 'id="header"' in text
    assert "TinyAgentOS control plane" in text
    assert "10 minutes" in text
    assert "manage.py clear_lockout --user NAME" in text
    assert "manage.py changepassword NAME" in text


def test_the_secret_page_has_a_copy_button_and_says_how_to_use_the_token(browser):
    agent = agent_create(display_name="Secret Bot")
    response = browser.post(reverse("admin:tokens_agenttoken_add"), {"agent": agent.pk})
    text = response.content.decode()
    assert 'class="button copy-secret" data-copy="#secret-1 code"' in text
    assert "console/console.js" in text
    assert "Authorization: Bearer &lt;token&gt;" in text
