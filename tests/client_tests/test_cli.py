"""The `taos` command line: its help, its output, its exit statuses, `taos login`."""

from __future__ import annotations

import argparse
import io
import json
import os
import stat
import subprocess
import sys
import types
from pathlib import Path

import httpx
import pytest
from taos_client import Client, RetryPolicy, cli
from taos_client.config import read_login

from tests.support.fake_api import (
    AGENT,
    TOKEN,
    FakeClock,
    ScriptedAPI,
    answer,
    lost,
    problem,
)

TASK = {"id": 3, "agent": "research-bot", "state": "queued", "backend": "command",
        "attempts": 0, "created_at": "2026-12-06T12:00:00Z", "queued_at": "2026-12-06T12:00:00Z",
        "started_at": None, "heartbeat_at": None, "finished_at": None, "stale": False,
        "error": "", "log_tail": "", "status_url": "/api/agents/research-bot/deploy-status/"}


@pytest.fixture(autouse=True)
def _no_login(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("TAOS_URL", "http://taos.test")
    monkeypatch.setenv("TAOS_TOKEN", "taosop_test")


def run(monkeypatch, argv: list[str], steps: list[httpx.Response | Exception],
        stdin: str = "") -> tuple[int, str, str, ScriptedAPI]:
    api = ScriptedAPI(steps)
    clock = FakeClock()

    def client(url: str, token: str, *, retry: RetryPolicy) -> Client:
        retry.clock, retry.sleep = clock, clock.sleep
        return Client(url, token, retry=retry, transport=api)

    monkeypatch.setattr(cli, "Client", client)
    out, err = io.StringIO(), io.StringIO()
    status = cli.main(argv, stdout=out, stderr=err, stdin=io.StringIO(stdin))
    return status, out.getvalue(), err.getvalue(), api


def test_make_install_puts_taos_on_the_venvs_path():
    taos = Path(sys.executable).with_name("taos")
    result = subprocess.run([str(taos), "--help"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PATH": str(taos.parent)})
    assert result.returncode == 0, result.stderr
    assert "usage: taos" in result.stdout
    assert "exit status:" in result.stdout


def _leaf_parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _leaf_parsers(sub, (*path, name))


COMMANDS = [path for path, _ in _leaf_parsers(cli.build_parser())]


def test_every_command_is_there():
    assert set(COMMANDS) >= {
        (), ("login",), ("agents",), ("agents", "list"), ("agents", "get"), ("agents", "create"),
        ("agents", "patch"), ("agents", "archive"), ("deploy",), ("deploy-new",), ("token",),
        ("token", "get"), ("token", "issue"), ("token", "rotate"), ("token", "revoke"), ("me",)}


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "taos")
def test_every_help_describes_the_command_and_each_option(path, capsys):
    parser = dict(_leaf_parsers(cli.build_parser()))[path]
    assert parser.description, path
    for action in parser._actions:
        assert action.help, (path, action.option_strings or action.dest)
    with pytest.raises(SystemExit) as exited:
        cli.main([*path, "--help"])
    assert exited.value.code == 0
    assert f"usage: taos {' '.join(path)}".rstrip() in capsys.readouterr().out


def test_agents_list_prints_a_table(monkeypatch):
    page = {"count": 1, "next": None, "previous": None, "results": [AGENT]}
    status, out, _, api = run(monkeypatch, ["agents", "list", "--status", "registered"],
                              [answer(200, page)])
    assert status == cli.OK
    header, row = out.splitlines()
    assert header.split()[:3] == ["NAME", "DISPLAY_NAME", "STATUS"]
    assert row.split()[0] == "research-bot"
    assert api.requests[0].url.params["status"] == "registered"


@pytest.mark.parametrize("argv", [["agents", "get", "research-bot", "--json"],
                                  ["--json", "agents", "get", "research-bot"]])
def test_json_is_the_apis_json_before_or_after_the_command(monkeypatch, argv):
    status, out, _, _ = run(monkeypatch, argv, [answer(200, AGENT)])
    assert status == cli.OK
    assert json.loads(out) == AGENT


def test_create_reports_a_replay_on_stderr(monkeypatch):
    status, out, err, api = run(monkeypatch, [
        "agents", "create", "Research Bot", "--idempotency-key", "run-1"],
        [lost(), answer(201, AGENT, replayed=True)])
    assert status == cli.OK
    assert "research-bot" in out
    assert "1 answer(s) lost in transit" in err and "replayed" in err
    assert [r.headers["Idempotency-Key"] for r in api.requests] == ["run-1", "run-1"]


def test_token_issue_prints_the_secret_alone_on_stdout_and_warns_on_stderr(monkeypatch):
    status, out, err, _ = run(monkeypatch, ["token", "issue", "research-bot"],
                              [answer(201, TOKEN)])
    assert status == cli.OK
    assert out == "taos_secret\n"
    assert "shown this once" in err and "taos_secret" not in err


def test_a_lost_token_issue_exits_7_and_says_to_rotate(monkeypatch):
    status, out, err, _ = run(monkeypatch, ["token", "issue", "research-bot"],
                              [lost(), problem(409, "token_already_active")])
    assert status == cli.TOKEN_LOST == 7
    assert out == ""
    assert "taos token rotate research-bot" in err


def test_a_lost_rotation_is_reported_and_the_secret_printed(monkeypatch):
    status, out, err, _ = run(monkeypatch, ["token", "rotate", "research-bot"],
                              [lost(), answer(200, TOKEN)])
    assert status == cli.OK
    assert out == "taos_secret\n"
    assert "lost in transit" in err and "one active token" in err


@pytest.mark.parametrize("failure, expected", [
    (problem(400, "invalid"), cli.REFUSED),
    (problem(401, "token_unknown"), cli.AUTH),
    (problem(403, "permission_denied"), cli.AUTH),
    (problem(404, "not_found"), cli.NOT_FOUND),
    (problem(409, "token_already_active"), cli.CONFLICT),
    (problem(422, "idempotency_key_reused"), cli.REFUSED),
    (problem(500, "server_error"), cli.NO_ANSWER),
], ids=lambda v: getattr(v, "status_code", v))
def test_exit_status_says_how_the_call_ended(monkeypatch, failure, expected):
    status, _, err, _ = run(monkeypatch, ["token", "issue", "research-bot"], [failure])
    assert status == expected
    assert "error:" in err


def test_no_answer_at_all_exits_6_and_names_the_key_to_pin(monkeypatch):
    status, _, err, api = run(monkeypatch, ["agents", "create", "X", "--max-attempts", "2"],
                              [lost(), lost()])
    assert status == cli.NO_ANSWER == 6
    key = api.requests[0].headers["Idempotency-Key"]
    assert f"--idempotency-key {key}" in err


def test_errors_are_json_on_stderr_with_json(monkeypatch):
    status, out, err, _ = run(monkeypatch, ["agents", "get", "nobody", "--json"],
                              [problem(404, "not_found", request_id="r-9")])
    assert status == cli.NOT_FOUND
    assert out == ""
    assert json.loads(err)["code"] == "not_found"
    assert json.loads(err)["request_id"] == "r-9"


def _status(state: str, **fields: object) -> httpx.Response:
    return answer(200, {**TASK, "state": state, **fields})


def test_deploy_wait_follows_to_success(monkeypatch):
    status, _, err, _ = run(monkeypatch, ["deploy", "research-bot", "--wait", "--interval", "0"],
                            [answer(202, TASK), _status("queued"), _status("running"),
                             _status("succeeded")])
    assert status == cli.OK
    assert "running" in err


def test_deploy_wait_shows_the_log_tail_when_it_fails(monkeypatch):
    status, _, err, _ = run(monkeypatch, ["deploy", "research-bot", "--wait", "--interval", "0"],
                            [answer(202, TASK), _status("running"), _status(
                                "failed", error="The deploy command exited with status 3.",
                                log_tail="pulling image\nno space left on device\n")])
    assert status == cli.DEPLOY_FAILED == 8
    assert "no space left on device" in err
    assert "exited with status 3" in err
    assert "taos deploy research-bot --retry --wait" in err


def test_deploy_wait_on_a_skipped_deploy_exits_9(monkeypatch):
    status, _, err, _ = run(monkeypatch, ["deploy-new", "Research Bot", "--framework", "s",
                                          "--model", "m", "--wait", "--interval", "0"],
                            [answer(202, {"agent": AGENT, "deploy": TASK}),
                             _status("skipped", error="No deploy backend is configured.")])
    assert status == cli.DEPLOY_SKIPPED == 9
    assert "No deploy backend" in err


def test_deploy_wait_gives_up_after_its_timeout(monkeypatch):
    status, _, _, _ = run(monkeypatch, ["deploy", "research-bot", "--wait", "--interval", "0.01",
                                        "--timeout", "0"],
                          [answer(202, TASK), _status("running")])
    assert status == cli.DEPLOY_TIMEOUT == 10


def test_deploy_retry_posts_to_the_retry_endpoint(monkeypatch):
    status, _, _, api = run(monkeypatch, ["deploy", "research-bot", "--retry"],
                            [answer(202, TASK)])
    assert status == cli.OK
    assert api.requests[0].url.path == "/api/agents/research-bot/deploy/retry/"


def test_login_stores_url_and_token_in_a_file_only_its_owner_reads(monkeypatch, tmp_path):
    status, _, err, _ = run(monkeypatch, ["login", "--url", "http://taos.test", "--token-stdin"],
                            [answer(200, {"count": 0, "next": None, "previous": None,
                                          "results": []})], stdin="taosop_stored\n")
    assert status == cli.OK
    path = tmp_path / "config" / "taos" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    login = read_login(path)
    assert (login.url, login.token) == ("http://taos.test", "taosop_stored")
    assert "taosop_stored" not in err


def test_a_login_the_server_refuses_is_not_stored(monkeypatch, tmp_path):
    status, _, _, _ = run(monkeypatch, ["login", "--url", "http://taos.test", "--token-stdin"],
                          [problem(401, "token_unknown")], stdin="taosop_wrong\n")
    assert status == cli.AUTH
    assert not (tmp_path / "config" / "taos" / "config.json").exists()


def test_commands_use_the_stored_login(monkeypatch, tmp_path):
    monkeypatch.delenv("TAOS_URL")
    monkeypatch.delenv("TAOS_TOKEN")
    run(monkeypatch, ["login", "--url", "http://stored.test", "--token-stdin", "--no-check"], [],
        stdin="taosop_stored\n")
    status, _, _, api = run(monkeypatch, ["agents", "get", "research-bot"], [answer(200, AGENT)])
    assert status == cli.OK
    assert api.requests[0].url.host == "stored.test"
    assert api.requests[0].headers["Authorization"] == "Bearer taosop_stored"


def test_without_a_server_it_says_how_to_log_in(monkeypatch):
    monkeypatch.delenv("TAOS_URL")
    monkeypatch.delenv("TAOS_TOKEN")
    status, _, err, _ = run(monkeypatch, ["agents", "list"], [])
    assert status == cli.USAGE
    assert "taos login" in err


class FakeKeyring(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("keyring")
        self.stored: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, user: str, secret: str) -> None:
        self.stored[(service, user)] = secret

    def get_password(self, service: str, user: str) -> str | None:
        return self.stored.get((service, user))


def test_login_with_keyring_keeps_the_token_out_of_the_file(monkeypatch, tmp_path):
    keyring = FakeKeyring()
    monkeypatch.setitem(sys.modules, "keyring", keyring)
    status, _, _, _ = run(monkeypatch, ["login", "--url", "http://taos.test", "--token-stdin",
                                        "--keyring", "--no-check"], [], stdin="taosop_kept\n")
    assert status == cli.OK
    path = tmp_path / "config" / "taos" / "config.json"
    assert "taosop_kept" not in path.read_text()
    assert keyring.stored == {("taos", "http://taos.test"): "taosop_kept"}
    assert read_login(path).token == "taosop_kept"


def test_login_with_keyring_but_no_keyring_package_says_so(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring raises ImportError
    status, _, err, _ = run(monkeypatch, ["login", "--url", "http://taos.test", "--token-stdin",
                                          "--keyring", "--no-check"], [], stdin="taosop_x\n")
    assert status == cli.USAGE
    assert "keyring package" in err
    assert not (tmp_path / "config" / "taos" / "config.json").exists()


def test_deploy_wait_follows_a_deploy_already_running(monkeypatch):
    status, _, err, _ = run(monkeypatch, ["deploy", "research-bot", "--wait", "--interval", "0"],
                            [problem(409, "deploy_in_progress"), _status("running"),
                             _status("succeeded")])
    assert status == cli.OK
    assert "being deployed already" in err


def test_deploy_in_progress_without_wait_is_a_conflict(monkeypatch):
    status, _, _, _ = run(monkeypatch, ["deploy", "research-bot"],
                          [problem(409, "deploy_in_progress")])
    assert status == cli.CONFLICT
