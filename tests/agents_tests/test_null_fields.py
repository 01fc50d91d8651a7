"""`null` for an optional field is that field not given: default on create, kept on update."""

from __future__ import annotations

import pytest

from agents.models import Agent
from agents.services import agent_create

pytestmark = pytest.mark.django_db

URL = "/api/agents/"
DEPLOY_URL = "/api/agents/deploy/"
DEPLOY_BODY = {"display_name": "Deploy Bot", "framework": "smolagents", "model": "qwen2.5:7b"}

# Each optional writable field, the default a create without it gets, and a
# value other than that default for the update tests.
OPTIONAL_FIELDS = {
    "host": ("", "gpu-1.lan"),
    "qmd_index": ("null-bot", "shared-index"),  # its default is the slug
    "color": ("#888888", "#ff0000"),
    "emoji": ("", "🤖"),
    "can_read_user_memory": (False, True),
    "framework": ("", "smolagents"),
    "model": ("", "qwen2.5:7b"),
}


@pytest.mark.parametrize("field", sorted(OPTIONAL_FIELDS))
def test_null_optional_field_on_create_gets_its_default(api, field):
    response = api.post(URL, {"display_name": "Null Bot", field: None}, format="json")
    assert response.status_code == 201, response.json()
    default, _ = OPTIONAL_FIELDS[field]
    assert response.json()[field] == default
    assert getattr(Agent.objects.get(), field) == default


def test_every_optional_field_null_at_once_is_a_plain_create(api):
    body = {"display_name": "Null Bot", **dict.fromkeys(OPTIONAL_FIELDS)}
    response = api.post(URL, body, format="json")
    assert response.status_code == 201, response.json()
    assert {f: response.json()[f] for f in OPTIONAL_FIELDS} == {
        f: default for f, (default, _) in OPTIONAL_FIELDS.items()
    }


@pytest.mark.parametrize("field", sorted(OPTIONAL_FIELDS))
def test_null_optional_field_on_patch_keeps_the_stored_value(api, field):
    _, value = OPTIONAL_FIELDS[field]
    agent = agent_create(display_name="Null Bot", **{field: value})
    response = api.patch(f"{URL}{agent.name}/", {field: None}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()[field] == value
    agent.refresh_from_db()
    assert getattr(agent, field) == value


def test_null_beside_a_change_on_patch_changes_only_the_given_field(api):
    agent = agent_create(display_name="Null Bot", host="gpu-1.lan", emoji="🤖")
    response = api.patch(f"{URL}{agent.name}/",
                         {"display_name": "Renamed", "host": None,
                          "emoji": None, "color": "#00ff00"}, format="json")
    assert response.status_code == 200, response.json()
    agent.refresh_from_db()
    assert (agent.display_name, agent.host, agent.emoji, agent.color) == (
        "Renamed", "gpu-1.lan", "🤖", "#00ff00")


def test_null_display_name_on_create_is_a_field_error(api):
    response = api.post(URL, {"display_name": None, "emoji": None}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["display_name"][0]["code"] == "null"
    assert not Agent.objects.exists()


def test_null_display_name_on_patch_is_a_field_error(api):
    agent = agent_create(display_name="Null Bot")
    response = api.patch(f"{URL}{agent.name}/", {"display_name": None}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["display_name"][0]["code"] == "null"
    agent.refresh_from_db()
    assert agent.display_name == "Null Bot"


def test_null_display_name_beside_name_reads_the_name(api):
    response = api.post(URL, {"name": "Named Bot", "display_name": None}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["display_name"] == "Named Bot"


# --- POST /api/agents/deploy/ (the agent's fields; framework and model required)

DEPLOY_OPTIONAL = sorted(set(OPTIONAL_FIELDS) - {"framework", "model"})


@pytest.mark.parametrize("field", DEPLOY_OPTIONAL)
def test_null_optional_field_on_deploy_gets_its_default(api, field):
    response = api.post(DEPLOY_URL, {**DEPLOY_BODY, field: None}, format="json")
    assert response.status_code == 202, response.json()
    default, _ = OPTIONAL_FIELDS[field]
    if field == "qmd_index":
        default = "deploy-bot"
    assert response.json()["agent"][field] == default


@pytest.mark.parametrize("field", ["display_name", "framework", "model"])
def test_null_required_field_on_deploy_is_a_field_error(api, field):
    response = api.post(DEPLOY_URL, {**DEPLOY_BODY, field: None}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][field][0]["code"] == "null"
    assert not Agent.objects.exists()


# --- the schema says so --------------------------------------------------------

@pytest.fixture
def schema(api):
    return api.get("/api/schema/?format=json").json()["components"]["schemas"]


@pytest.mark.parametrize("component", ["AgentRequest", "PatchedAgentRequest",
                                       "DeployRequestRequest"])
def test_schema_marks_optional_request_fields_nullable_and_says_what_null_does(schema,
                                                                             component):
    properties = schema[component]["properties"]
    required = set(schema[component].get("required", []))
    for name, prop in properties.items():
        if name in required or name == "display_name":
            assert not prop.get("nullable"), name
        else:
            assert prop.get("nullable") is True, name
            assert "on update (PATCH) the stored value is kept" in prop["description"], name


def test_schema_keeps_responses_non_nullable(schema):
    assert not any(prop.get("nullable") for prop in schema["Agent"]["properties"].values())
