"""A client generated from /api/schema/ by openapi-python-client calls every operation.

No hand edit: the generator (pinned in requirements-dev.txt) runs on the
schema the live site serves, into a temporary directory; the test imports
the generated package and calls each of its operations against gunicorn
with an operator token (and `agent_me` with an agent token), the body-less
POSTs (deploy, retry, token issue and rotate) without a body, as generated
code sends them.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.live]

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
PACKAGE = "taos_generated_client"


def generate(schema_url: str, where: Path):
    """Generate the client package from the live schema; return it, imported."""
    (where / "schema.json").write_bytes(httpx.get(schema_url, timeout=30).content)
    (where / "config.yml").write_text("post_hooks: []\n")  # no formatter needed to run it
    subprocess.run([str(GENERATOR), "generate", "--path", "schema.json", "--output-path", PACKAGE,
                    "--meta", "none", "--config", "config.yml"],
                   cwd=where, check=True, capture_output=True, timeout=60)
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


def operations(package) -> set[str]:
    """Return the generated operation modules: `tag.operation_id`."""
    api = importlib.import_module(f"{PACKAGE}.api")
    names = set()
    for tag in pkgutil.iter_modules(api.__path__):
        module = importlib.import_module(f"{PACKAGE}.api.{tag.name}")
        names |= {f"{tag.name}.{op.name}" for op in pkgutil.iter_modules(module.__path__)}
    return names


def test_a_generated_client_calls_every_operation(gunicorn_factory, make_user, tmp_path):
    from agents.services import agent_create
    from tokens.services import operator_token_create, token_issue

    root = make_user("root", superuser=True)
    operator_secret = operator_token_create(user=root, name="generated client").secret
    me = agent_create(display_name="Me Bot")
    agent_secret = token_issue(agent=me).secret
    target = agent_create(display_name="Target Bot")
    token_issue(agent=target)
    bare = agent_create(display_name="Bare Bot")  # no token yet: one is issued
    server = gunicorn_factory(workers=2, DEPLOY_BACKEND="", DEPLOY_COMMAND="")

    client_package = generate(f"{server.url}/api/schema/?format=json", tmp_path)
    models = importlib.import_module(f"{PACKAGE}.models")
    client = client_package.AuthenticatedClient(base_url=server.url, token=operator_secret,
                                                raise_on_unexpected_status=True)
    as_agent = client_package.AuthenticatedClient(base_url=server.url, token=agent_secret)

    def call(name: str, who=client, **kwargs) -> int:
        tag, operation = name.split(".")
        module = importlib.import_module(f"{PACKAGE}.api.{tag}.{operation}")
        called.add(name)
        return module.sync_detailed(client=who, **kwargs).status_code

    def key() -> str:
        return uuid.uuid4().hex

    called: set[str] = set()
    answers = {
        "agents.agents_list": call("agents.agents_list"),
        "agents.agents_create": call("agents.agents_create", idempotency_key=key(),
                                     body=models.AgentRequest(display_name="Generated Bot")),
        "agents.agents_retrieve": call("agents.agents_retrieve", slug=target.name),
        "agents.agents_partial_update": call(
            "agents.agents_partial_update", slug=target.name,
            body=models.PatchedAgentRequest(host="gpu-1.lan")),
        "agents.agents_token_retrieve": call("agents.agents_token_retrieve", slug=target.name),
        # The body-less POSTs, called as generated: no body.
        "agents.agents_token_rotate_create": call("agents.agents_token_rotate_create",
                                                  slug=target.name),
        "agents.agents_token_create": call("agents.agents_token_create", slug=bare.name),
        "agents.agents_deploy_existing": call("agents.agents_deploy_existing", slug=bare.name,
                                              idempotency_key=key()),
        "agents.agents_deploy_status_retrieve": call("agents.agents_deploy_status_retrieve",
                                                     slug=bare.name),
        "agents.agents_deploy_retry": call("agents.agents_deploy_retry", slug=bare.name,
                                           idempotency_key=key()),
        "agents.agents_deploy_create": call(
            "agents.agents_deploy_create", idempotency_key=key(),
            body=models.DeployRequestRequest(display_name="Deployed Bot", framework="smolagents",
                                             model="qwen2.5:7b")),
        "agents.agents_token_destroy": call("agents.agents_token_destroy", slug=target.name),
        "agents.agents_destroy": call("agents.agents_destroy", slug=target.name),
        "agent.agent_me_retrieve": call("agent.agent_me_retrieve", who=as_agent),
    }
    assert called == operations(client_package)  # a new operation joins this walk
    assert answers == {
        "agents.agents_list": 200, "agents.agents_create": 201, "agents.agents_retrieve": 200,
        "agents.agents_partial_update": 200, "agents.agents_token_retrieve": 200,
        "agents.agents_token_rotate_create": 200, "agents.agents_token_create": 201,
        "agents.agents_deploy_existing": 202, "agents.agents_deploy_status_retrieve": 200,
        "agents.agents_deploy_retry": 202, "agents.agents_deploy_create": 202,
        "agents.agents_token_destroy": 204, "agents.agents_destroy": 204,
        "agent.agent_me_retrieve": 200,
    }
