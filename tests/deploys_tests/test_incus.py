"""deploy/incus.sh against a fake `incus` on PATH that records every call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.processes import ROOT

INCUS_SH = ROOT / "deploy" / "incus.sh"
SECRET = "taos_example0123456789abcdefghijklmnopqrstuv"
AGENT = {"name": "research-bot", "framework": "smolagents", "model": "qwen2.5:7b"}

FAKE_INCUS = '''#!{python}
"""Fake incus: records argv (and whether it got the token), keeps pushed files."""
import json, os, shutil, sys
state = {state!r}
args = sys.argv[1:]
with open(os.path.join(state, "calls.jsonl"), "a") as log:
    log.write(json.dumps({{"args": args, "token_in_env": "TAOS_AGENT_TOKEN" in os.environ}}) + "\\n")
if args[0] in open(os.path.join(state, "fail")).read().split():
    print("Error: fake failure of " + args[0], file=sys.stderr)
    sys.exit(1)
if args[:1] == ["info"]:
    sys.exit(0 if os.path.exists(os.path.join(state, "exists")) else 1)
if args[:1] == ["init"]:
    open(os.path.join(state, "exists"), "w").close()
if args[:2] == ["file", "push"]:
    source, target = args[-2], args[-1]
    mode = args[args.index("--mode") + 1]
    shutil.copy(source, os.path.join(state, "pushed-" + target.replace("/", "_")))
    with open(os.path.join(state, "modes.jsonl"), "a") as log:
        log.write(json.dumps({{"target": target, "mode": mode, "source": source}}) + "\\n")
'''


class FakeIncus:
    def __init__(self, root: Path):
        self.state = root / "incus-state"
        self.state.mkdir()
        (self.state / "fail").write_text("")
        self.bin = root / "bin"
        self.bin.mkdir()
        script = self.bin / "incus"
        script.write_text(FAKE_INCUS.format(python=sys.executable, state=str(self.state)))
        script.chmod(0o755)

    def calls(self) -> list[list[str]]:
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        return [json.loads(line)["args"] for line in path.read_text().splitlines()]

    def tokens_in_env(self) -> list[bool]:
        path = self.state / "calls.jsonl"
        return [json.loads(line)["token_in_env"] for line in path.read_text().splitlines()]

    def pushed(self, target: str) -> str:
        return (self.state / ("pushed-" + target.replace("/", "_"))).read_text()

    def pushes(self) -> list[dict]:
        path = self.state / "modes.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    def fail_on(self, *verbs: str) -> None:
        (self.state / "fail").write_text(" ".join(verbs))

    def exists(self) -> None:
        (self.state / "exists").write_text("")

    def path_env(self) -> str:
        return f"{self.bin}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture
def incus(tmp_path) -> FakeIncus:
    return FakeIncus(tmp_path)


def run_incus_sh(incus: FakeIncus, *args: str, slug: str = "research-bot",
                 token: str | None = SECRET) -> subprocess.CompletedProcess[str]:
    env = {"PATH": incus.path_env(), "TAOS_AGENT_SLUG": slug}
    if token is not None:
        env["TAOS_AGENT_TOKEN"] = token
    return subprocess.run([str(INCUS_SH), *args], input=json.dumps(AGENT), env=env,
                          capture_output=True, text=True, timeout=30)


def test_new_agent_gets_a_container_its_token_file_and_a_start(incus):
    result = run_incus_sh(incus)
    assert result.returncode == 0, result.stderr
    name = "taos-agent-research-bot"
    calls = incus.calls()
    assert calls[0] == ["info", name]
    assert calls[1] == ["init", "images:debian/12", name]
    assert calls[2] == ["config", "set", name, "user.taos.slug=research-bot"]
    assert calls[3][:2] == calls[4][:2] == ["file", "push"]
    assert calls[5] == ["start", name]
    assert len(calls) == 6
    assert f"deployed {name}" in result.stdout


def test_token_reaches_the_container_in_a_0600_file_never_in_argv(incus):
    assert run_incus_sh(incus).returncode == 0
    env_file = incus.pushed("taos-agent-research-bot/etc/taos/agent.env")
    assert f"TAOS_AGENT_TOKEN={SECRET}\n" in env_file
    pushes = {p["target"]: p for p in incus.pushes()}
    assert pushes["taos-agent-research-bot/etc/taos/agent.env"]["mode"] == "0600"
    assert not any(SECRET in arg for call in incus.calls() for arg in call)
    assert not any(incus.tokens_in_env())  # incus never even inherits it
    # The host-side copy lived in a private temporary directory, removed on exit.
    assert not Path(pushes["taos-agent-research-bot/etc/taos/agent.env"]["source"]).exists()


def test_agent_json_from_stdin_is_pushed_into_the_container(incus):
    assert run_incus_sh(incus).returncode == 0
    pushed = incus.pushed("taos-agent-research-bot/etc/taos/agent.json")
    assert json.loads(pushed) == AGENT


def test_existing_container_gets_the_new_token_and_a_restart(incus):
    incus.exists()
    result = run_incus_sh(incus)
    assert result.returncode == 0, result.stderr
    verbs = [call[0] for call in incus.calls()]
    assert "init" not in verbs
    assert incus.calls()[-1] == ["restart", "--force", "taos-agent-research-bot"]
    assert SECRET in incus.pushed("taos-agent-research-bot/etc/taos/agent.env")


def test_image_profiles_and_remote_options_are_used(incus):
    result = run_incus_sh(incus, "--image", "images:ubuntu/24.04", "--profile", "default",
                          "--profile", "agents", "--remote", "node2")
    assert result.returncode == 0, result.stderr
    assert incus.calls()[1] == ["init", "images:ubuntu/24.04", "node2:taos-agent-research-bot",
                                "--profile", "default", "--profile", "agents"]
    assert incus.calls()[-1] == ["start", "node2:taos-agent-research-bot"]


@pytest.mark.parametrize("slug", ["", "Research", "a/b", "-x", "x" * 49, "bot;rm"])
def test_bad_slug_is_refused_before_incus_runs(incus, slug):
    result = run_incus_sh(incus, slug=slug)
    assert result.returncode == 2
    assert incus.calls() == []


def test_missing_token_is_refused_before_incus_runs(incus):
    result = run_incus_sh(incus, token=None)
    assert result.returncode == 2
    assert "TAOS_AGENT_TOKEN" in result.stderr
    assert incus.calls() == []


def test_incus_failure_fails_the_script(incus):
    incus.fail_on("init")
    result = run_incus_sh(incus)
    assert result.returncode != 0
    assert "fake failure of init" in result.stderr
    assert ["start", "taos-agent-research-bot"] not in incus.calls()


@pytest.mark.django_db
def test_incus_sh_as_the_deploy_command_deploys_with_the_rotated_token(
    incus, settings, monkeypatch, token_spy, django_capture_on_commit_callbacks
):
    from deploys.services import deploy_create
    from tests.support.task_workers import run_queued_jobs

    monkeypatch.setenv("PATH", incus.path_env())
    settings.DEPLOY_BACKEND = "command"
    settings.DEPLOY_COMMAND = f"{INCUS_SH} --image images:debian/12"
    with django_capture_on_commit_callbacks(execute=True):
        task = deploy_create(display_name="Research Bot", framework="smolagents",
                             model="qwen2.5:7b")
    run_queued_jobs()
    task.refresh_from_db()
    assert task.state == "succeeded", task.log_tail
    assert "deployed taos-agent-research-bot" in task.log_tail
    env_file = incus.pushed("taos-agent-research-bot/etc/taos/agent.env")
    assert f"TAOS_AGENT_TOKEN={token_spy.rotated[0]}\n" in env_file
    agent = json.loads(incus.pushed("taos-agent-research-bot/etc/taos/agent.json"))
    assert (agent["name"], agent["framework"]) == ("research-bot", "smolagents")
