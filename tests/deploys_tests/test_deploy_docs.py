"""docs/deploy.md and the deploy API's answer agree on a new deploy's states, backend or none."""

from __future__ import annotations

import re

import pytest

from harness.processes import ROOT

pytestmark = pytest.mark.django_db

DOC = (ROOT / "docs" / "deploy.md").read_text()


def documented_agent_status_per_state() -> dict[str, str]:
    """Return the "States" table: deploy state -> the agent's status."""
    table = DOC.split("## States", 1)[1].split("\n\n", 2)[1]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \|", table, flags=re.MULTILINE)
    return dict(rows)


def answer(api) -> dict:
    response = api.post("/api/agents/deploy/", {"display_name": "Doc Bot", "framework": "f",
                                               "model": "m"}, format="json")
    assert response.status_code == 202
    return response.json()


@pytest.mark.parametrize("configured", [False, True], ids=["no backend", "command backend"])
def test_the_deploy_answer_has_the_states_docs_deploy_md_gives(api, settings, configured,
                                                                deploy_command):
    if configured:
        deploy_command()
    else:
        settings.DEPLOY_BACKEND = ""
    body = answer(api)
    state, status = body["deploy"]["state"], body["agent"]["status"]
    assert state == ("queued" if configured else "skipped")
    assert documented_agent_status_per_state()[state] == status
    # The endpoint's own paragraph names both outcomes.
    paragraph = DOC.split("`POST /api/agents/deploy/` takes", 1)[1].split("\n\n", 1)[0]
    assert f"`{status}`" in paragraph and f"`{state}`" in paragraph
