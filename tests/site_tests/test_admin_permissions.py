"""Nobody gains in the admin what they were not given.

Walks every admin page and action of every registered model (and the admin
views models add through `get_urls`) as four users: a superuser, a staff
user with view permissions only, a staff user who may only add operator
tokens, and an active user who is not staff. Each may do exactly what their
permissions say; everything else is refused and changes nothing. The admin
twin of each API act answers every role as tests/support/permission_table.py
says, the table the API walk (test_api_permissions.py) reads.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agents.models import Agent
from agents.services import agent_create
from deploys.models import DeployTask
from deploys.services import deploy_create
from idempotency.models import IdempotencyRecord
from tests.support.admin_pages import SECRET_RE
from tests.support.permission_table import ADMIN_TWINS, ROLE_PERMS, ROLES, STAFF_ROLES, may
from tokens import services as token_services
from tokens.models import AgentToken, OperatorToken

pytestmark = pytest.mark.django_db

VIEW_PERMS = ROLE_PERMS["viewer"]


def staff(make_user, name: str, perms: tuple[str, ...]) -> User:
    user = make_user(name, perms=perms)
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def world(make_user):
    root = make_user("root", superuser=True)
    agent = agent_create(display_name="Research Bot")
    token_services.token_issue(agent=agent)
    deploy_create(display_name="Deployed Bot", framework="f", model="m")
    token_services.operator_token_create(user=root, name="script")
    IdempotencyRecord.objects.create(
        principal=f"user:{root.pk}", key="k1", method="POST", path="/api/agents/",
        fingerprint="f" * 64, response_status=201, response_body=b"{}",
        response_headers={}, expires_at=timezone.now() + timedelta(hours=1))
    return {
        "root": root,
        "viewer": staff(make_user, "viewer", VIEW_PERMS),
        "adder": staff(make_user, "adder", ("tokens.add_operatortoken",)),
        "outsider": make_user("outsider", perms=VIEW_PERMS + ("agents.add_agent",
                                                              "agents.change_agent")),
    }


def snapshot() -> tuple:
    """Everything a refused request must leave as it was."""
    return (
        sorted(Agent.objects.values_list("pk", "name", "status", "display_name")),
        sorted(AgentToken.objects.values_list("pk", "revoked_at")),
        sorted(OperatorToken.objects.values_list("pk", "revoked_at")),
        sorted(DeployTask.objects.values_list("pk", "state", "attempts")),
        sorted(IdempotencyRecord.objects.values_list("pk", flat=True)),
        sorted(User.objects.values_list("pk", "is_staff", "is_superuser")),
    )


def model_pages(model) -> dict[str, str]:
    """The standard admin URLs of `model`, for its first object."""
    info = (model._meta.app_label, model._meta.model_name)
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the world holds no {model.__name__}"
    pages = {
        "changelist": reverse("admin:%s_%s_changelist" % info),
        "add": reverse("admin:%s_%s_add" % info),
        "change": reverse("admin:%s_%s_change" % info, args=[obj.pk]),
        "history": reverse("admin:%s_%s_history" % info, args=[obj.pk]),
        "delete": reverse("admin:%s_%s_delete" % info, args=[obj.pk]),
    }
    return pages


def registered():
    return [(model, model_admin) for model, model_admin in admin.site._registry.items()
            if model._meta.app_label in {"agents", "tokens", "deploys", "idempotency"}]


def action_names(model_admin, user: User) -> list[str]:
    request = type("R", (), {"user": user, "GET": {}, "POST": {}})()
    return [name for name in model_admin.get_actions(request) if name != "delete_selected"]


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post_every_action(client: Client, root: User) -> list[int]:
    statuses = []
    for model, model_admin in registered():
        pages = model_pages(model)
        pks = list(model._default_manager.values_list("pk", flat=True))
        for action in action_names(model_admin, root):
            response = client.post(pages["changelist"],
                                   {"action": action, "_selected_action": pks})
            statuses.append(response.status_code)
    return statuses


def test_the_walk_covers_every_model_and_action(world):
    models = {model.__name__ for model, _ in registered()}
    assert models == {"Agent", "AgentToken", "OperatorToken", "DeployTask", "IdempotencyRecord"}
    actions = {name for _, model_admin in registered()
               for name in action_names(model_admin, world["root"])}
    assert {"archive", "rotate", "revoke", "retry", "purge_expired"} <= actions


def test_superuser_sees_every_page_and_may_delete_nothing(world):
    client = client_for(world["root"])
    assert client.get(reverse("admin:index")).status_code == 200
    for model, model_admin in registered():
        pages = model_pages(model)
        for name in ("changelist", "change", "history"):
            assert client.get(pages[name]).status_code == 200, pages[name]
        expected_add = 200 if model_admin.has_add_permission(
            type("R", (), {"user": world["root"]})()) else 403
        assert client.get(pages["add"], follow=True).status_code == expected_add, pages["add"]
        # Archive or revoke, never delete: no delete page, no delete action.
        before = snapshot()
        assert client.get(pages["delete"]).status_code == 403, pages["delete"]
        assert client.post(pages["delete"], {"post": "yes"}).status_code == 403
        assert snapshot() == before
        changelist = client.get(pages["changelist"]).content.decode()
        assert 'value="delete_selected"' not in changelist


def test_view_only_staff_reads_everything_and_changes_nothing(world):
    client = client_for(world["viewer"])
    before = snapshot()
    assert client.get(reverse("admin:index")).status_code == 200
    for model, _ in registered():
        pages = model_pages(model)
        for name in ("changelist", "change", "history"):
            assert client.get(pages[name]).status_code == 200, pages[name]
        change = client.get(pages["change"]).content.decode()
        assert 'name="_save"' not in change and 'name="_continue"' not in change
        changelist = client.get(pages["changelist"]).content.decode()
        assert 'name="action"' not in changelist  # no action the user may run
        assert client.get(pages["add"]).status_code == 403, pages["add"]
        assert client.post(pages["add"], {}).status_code == 403, pages["add"]
        assert client.post(pages["change"], {"display_name": "Hijacked"}).status_code == 403
        assert client.post(pages["delete"], {"post": "yes"}).status_code == 403
    post_every_action(client, world["root"])
    assert snapshot() == before


def test_operator_token_adder_adds_for_themselves_only(world):
    client = client_for(world["adder"])
    add = reverse("admin:tokens_operatortoken_add")
    page = client.get(add, follow=True).content.decode()
    # The user field offers the adder alone.
    assert f'value="{world["adder"].pk}"' in page
    assert f'value="{world["root"].pk}"' not in page

    before = snapshot()
    escalation = client.post(add, {"user": world["root"].pk, "name": "sudo",
                                   "expires_at_0": "", "expires_at_1": ""})
    assert escalation.status_code == 200
    text = escalation.content.decode()
    assert SECRET_RE.search(text) is None
    assert "You may add operator tokens for yourself only" in text
    assert snapshot() == before

    own = client.post(add, {"user": world["adder"].pk, "name": "mine",
                            "expires_at_0": "", "expires_at_1": ""})
    assert own.status_code == 200
    assert SECRET_RE.search(own.content.decode()) is not None
    assert OperatorToken.objects.filter(user=world["adder"], name="mine").count() == 1


def test_operator_token_adder_is_refused_everything_else(world):
    client = client_for(world["adder"])
    before = snapshot()
    for model, _ in registered():
        pages = model_pages(model)
        for name in ("changelist", "change", "history", "delete"):
            assert client.get(pages[name]).status_code == 403, pages[name]
        if model is not OperatorToken:
            assert client.get(pages["add"]).status_code == 403, pages["add"]
        assert client.post(pages["change"], {}).status_code == 403
    post_every_action(client, world["root"])
    assert snapshot() == before


def test_active_non_staff_user_gets_only_the_login_page(world):
    client = client_for(world["outsider"])
    before = snapshot()
    login = reverse("admin:login")
    urls = [reverse("admin:index")]
    for model, _ in registered():
        urls.extend(model_pages(model).values())
    for url in urls:
        for response in (client.get(url), client.post(url, {"display_name": "x"})):
            assert response.status_code == 302, url
            assert response["Location"].startswith(login), url
    for status in post_every_action(client, world["root"]):
        assert status == 302
    assert snapshot() == before


def test_the_service_refuses_an_operator_token_for_someone_else(world):
    from tokens.errors import OperatorTokenForOthersForbidden

    with pytest.raises(OperatorTokenForOthersForbidden) as refused:
        token_services.operator_token_create(user=world["root"], name="sudo",
                                             actor=world["adder"])
    assert refused.value.status_code == 403
    assert not OperatorToken.objects.filter(name="sudo").exists()


def test_the_dedicated_permission_allows_tokens_for_others(world, make_user):
    delegate = staff(make_user, "delegate", ("tokens.add_operatortoken",
                                             "tokens.add_operatortoken_for_others"))
    issued = token_services.operator_token_create(user=world["viewer"], name="for-viewer",
                                                  actor=delegate)
    assert issued.token.user == world["viewer"]
    client = client_for(delegate)
    response = client.post(reverse("admin:tokens_operatortoken_add"),
                           {"user": world["root"].pk, "name": "for-root",
                            "expires_at_0": "", "expires_at_1": ""})
    assert SECRET_RE.search(response.content.decode()) is not None


def agent_buttons() -> list[tuple[str, str]]:
    """The agent page's own admin views (get_urls of the deploys and tokens apps)."""
    agent = Agent.objects.get(name="deployed-bot")
    task = DeployTask.objects.get(agent=agent)
    DeployTask.objects.filter(pk=task.pk).update(state="failed")
    return [
        ("post", reverse("admin:agents_agent_token", args=[agent.pk, "issue"])),
        ("post", reverse("admin:agents_agent_token", args=[agent.pk, "rotate"])),
        ("post", reverse("admin:agents_agent_token", args=[agent.pk, "revoke"])),
        ("get", reverse("admin:agents_agent_archive", args=[agent.pk])),
        ("post", reverse("admin:agents_agent_archive", args=[agent.pk])),
        ("post", reverse("admin:agents_agent_deploy", args=[agent.pk])),
        ("post", reverse("admin:agents_agent_deploy_retry", args=[agent.pk, task.pk])),
        ("get", reverse("admin:agents_agent_deploy_new") + "?_idempotency_key=form-k"),
        ("post", reverse("admin:agents_agent_deploy_new")),
    ]


BUTTON_DATA = {"revoke_token": "on", "display_name": "Sneaky", "framework": "f", "model": "m",
               "color": "#888888", "_idempotency_key": "form-walk"}


@pytest.mark.parametrize("who", ["viewer", "adder"])
def test_staff_without_the_permissions_are_refused_every_agent_page_button(world, who):
    buttons = agent_buttons()
    client = client_for(world[who])
    before = snapshot()
    for method, url in buttons:
        response = getattr(client, method)(url, BUTTON_DATA if method == "post" else None)
        assert response.status_code == 403, (who, method, url)
    assert snapshot() == before


def test_non_staff_get_the_login_page_for_every_agent_page_button(world):
    buttons = agent_buttons()
    client = client_for(world["outsider"])
    before = snapshot()
    for method, url in buttons:
        response = getattr(client, method)(url, BUTTON_DATA if method == "post" else None)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    assert snapshot() == before


def test_superuser_may_use_every_agent_page_button(world):
    client = client_for(world["root"])
    for method, url in agent_buttons():
        response = getattr(client, method)(url, BUTTON_DATA if method == "post" else None)
        assert response.status_code in (200, 302), (method, url)


def test_deleting_a_user_in_the_admin_keeps_their_operator_tokens(world):
    client = client_for(world["root"])
    holder = world["viewer"]
    token_services.operator_token_create(user=holder, name="kept")
    url = reverse("admin:auth_user_delete", args=[holder.pk])
    page = client.get(url).content.decode()
    assert "Cannot delete user" in page  # the protected tokens are listed
    client.post(url, {"post": "yes"})
    assert User.objects.filter(pk=holder.pk).exists()
    assert OperatorToken.objects.filter(user=holder, name="kept").exists()


def test_history_protects_agents_from_deletion_by_any_code_path(world):
    from django.db.models import ProtectedError

    agent = Agent.objects.get(name="deployed-bot")  # it has a token and a deploy task
    with pytest.raises(ProtectedError):
        agent.delete()
    assert AgentToken.objects.filter(agent=agent).exists()
    assert DeployTask.objects.filter(agent=agent).exists()


def twin_url(name: str, args: str, label: str) -> str:
    """Return the admin URL `name` for a fresh agent (with a token and a failed deploy)."""
    if not args:
        url = reverse(name)
        return url + "?_idempotency_key=twin-k" if name.endswith("deploy_new") else url
    agent = agent_create(display_name=f"Twin {label}")
    token_services.token_issue(agent=agent)
    from deploys.services import deploy_existing

    task = deploy_existing(agent=agent)
    DeployTask.objects.filter(pk=task.pk).update(state="failed")
    Agent.objects.filter(pk=agent.pk).update(status="failed")
    values = {"agent": agent.pk, "task": task.pk, "issue": "issue", "rotate": "rotate",
              "revoke": "revoke"}
    return reverse(name, args=[values[arg] for arg in args.split(",")])


TWIN_DATA = {"display_name": "Twin Changed", "color": "#888888", "framework": "f", "model": "m",
             "_idempotency_key": "twin-walk"}


@pytest.mark.parametrize("role", [role for role in ROLES if role != "agent"])
def test_every_admin_twin_answers_each_role_as_the_table_says(role, make_user, settings):
    settings.DEPLOY_BACKEND = ""
    settings.DEPLOY_COMMAND = ""
    user = make_user(role, superuser=role == "superuser", perms=ROLE_PERMS.get(role, ()))
    user.is_staff = role in STAFF_ROLES or role == "superuser"
    user.save()
    client = client_for(user)
    index = 0
    for act, twins in ADMIN_TWINS.items():
        for method, name, args in twins:
            index += 1
            url = twin_url(name, args, f"{role} {index}")
            response = getattr(client, method)(url, TWIN_DATA if method == "post" else None)
            said = (role, act, method, url, response.status_code)
            to_login = response.status_code == 302 and "/login/" in response["Location"]
            if may(role, act):
                assert response.status_code in (200, 302) and not to_login, said
            elif user.is_staff:
                assert response.status_code == 403, said
            else:
                assert to_login, said
