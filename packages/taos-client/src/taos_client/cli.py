"""`taos`: the control plane from a shell, for people (tables) and scripts (`--json`).

Results go to standard output; notes, warnings, progress and errors to
standard error. Exit statuses: `EXIT_CODES` below (and docs/client.md).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import httpx

from taos_client import __version__
from taos_client.client import Client
from taos_client.config import config_path, keyring_available, read_login, write_login
from taos_client.errors import ApiError, TaosError, TokenAnswerLost, TransportError
from taos_client.models import (
    Agent,
    AgentPage,
    CallInfo,
    Deployed,
    DeployTask,
    IssuedToken,
    TokenInfo,
    as_json,
)
from taos_client.retry import RetryPolicy

OK = 0
REFUSED = 1
USAGE = 2
AUTH = 3
NOT_FOUND = 4
CONFLICT = 5
NO_ANSWER = 6
TOKEN_LOST = 7
DEPLOY_FAILED = 8
DEPLOY_SKIPPED = 9
DEPLOY_TIMEOUT = 10

EXIT_CODES = {
    OK: "success (deploy --wait: the deploy succeeded)",
    REFUSED: "the API refused the request (4xx not listed below; its code is printed)",
    USAGE: "bad arguments, or no server URL or token configured",
    AUTH: "authentication or permission refused (401, 403)",
    NOT_FOUND: "no such agent, token or deploy (404)",
    CONFLICT: "conflict with the current state (409, e.g. token_already_active)",
    NO_ANSWER: "no answer after every retry: unreachable, answers lost, 5xx or 429",
    TOKEN_LOST: "a token issue's or rotation's answer was lost: run `taos token rotate SLUG`",
    DEPLOY_FAILED: "deploy --wait: the deploy failed (or its job is gone: stale)",
    DEPLOY_SKIPPED: "deploy --wait: skipped (the server has no deploy backend)",
    DEPLOY_TIMEOUT: "deploy --wait: not finished within --timeout",
}

AGENT_COLUMNS = ("name", "display_name", "status", "framework", "model", "host", "updated_at")
SLUG_HELP = "the agent's slug, its name in URLs (e.g. research-bot)"
NAME_HELP = "the display name (1-64 characters); the slug is derived from it"
SECRET_WARNING_JSON = ("taos: the `token` field on standard output is the token's secret. It is "
                       "shown this once and cannot be read again; store it now.")
SECRET_WARNING = ("taos: the line on standard output is the token's secret. It is shown this once "
                  "and cannot be read again; store it now (rotate to get a new one).")


class Output:
    """Where results, notes and errors go, as JSON or for people."""

    def __init__(self, *, as_json: bool, out: TextIO, err: TextIO):
        self.json = as_json
        self.out = out
        self.err = err

    def note(self, text: str) -> None:
        print(f"taos: {text}", file=self.err)

    def call_notes(self, info: CallInfo | None) -> None:
        if info is None:
            return
        if info.lost_answers:
            self.note(f"{info.lost_answers} answer(s) lost in transit; retried with the same "
                      f"Idempotency-Key {info.idempotency_key}")
        if info.replayed:
            self.note(f"replayed: an earlier request with Idempotency-Key {info.idempotency_key} "
                      f"did this; this is its answer")

    def result(self, value: Any, human: Callable[[], None]) -> None:
        if self.json:
            json.dump(as_json(value), self.out, indent=2)
            self.out.write("\n")
        else:
            human()

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        width = max(len(k) for k, _ in pairs)
        for key, value in pairs:
            print(f"{key:<{width}}  {_cell(value)}", file=self.out)

    def table(self, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
        cells = [[_cell(row.get(c)) for c in columns] for row in rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
        print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip(), file=self.out)
        for row in cells:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip(), file=self.out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# -- the parser ---------------------------------------------------------------

def _common(*, unsafe: bool, top: bool = False) -> argparse.ArgumentParser:
    """Options every command takes; given before or after the command's name."""
    default = None if top else argparse.SUPPRESS
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("common options")
    group.add_argument("--json", action="store_true", default=False if top else argparse.SUPPRESS,
                       help="print the API's JSON (for scripts) instead of tables")
    group.add_argument("--url", default=default,
                       help="the control plane's URL (default: TAOS_URL, then `taos login`'s)")
    group.add_argument("--max-attempts", type=int, default=default, metavar="N",
                       help="attempts per call, the first included (default 8)")
    group.add_argument("--max-time", type=float, default=default, metavar="SECONDS",
                       help="give up retrying a call after this long (default 60)")
    group.add_argument("-v", "--verbose", action="store_true",
                       default=False if top else argparse.SUPPRESS,
                       help="say each retry and its wait on standard error")
    if unsafe or top:
        group.add_argument(
            "--idempotency-key", default=default, metavar="KEY",
            help="the Idempotency-Key to send (default: a new UUID per run). Pin one to run "
                 "the same create or deploy again later and get the first answer, never a "
                 "second agent")
    return parser


def _agent_fields(parser: argparse.ArgumentParser, *, patch: bool) -> None:
    if patch:
        parser.add_argument("--display-name", help="the new display name (the slug never changes)")
    parser.add_argument("--host", help="the host the agent runs on")
    parser.add_argument("--qmd-index", help="its qmd index (default: the slug)")
    parser.add_argument("--color", help="#rrggbb (default #888888)")
    parser.add_argument("--emoji", help="an emoji shown beside it")
    memory = parser.add_mutually_exclusive_group()
    memory.add_argument("--can-read-user-memory", dest="can_read_user_memory",
                        action="store_true", default=None, help="let it read the user's memory")
    memory.add_argument("--no-user-memory", dest="can_read_user_memory", action="store_false",
                        help="do not let it read the user's memory")


def _wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wait", action="store_true",
                        help="follow the deploy until it ends, showing its progress (one "
                             "already running is followed too); the exit status says how it "
                             "ended; the log tail is shown when it fails")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="with --wait: stop waiting after this long (exit 10)")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                        help="with --wait: seconds between status reads (default 1)")


def build_parser() -> argparse.ArgumentParser:
    codes = "\n".join(f"  {code:>2}  {text}" for code, text in EXIT_CODES.items())
    parser = argparse.ArgumentParser(
        prog="taos", parents=[_common(unsafe=True, top=True)],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The TinyAgentOS control plane from the command line: agents, deploys and "
                    "tokens.\nEvery create and deploy carries one Idempotency-Key, retried "
                    "safely: a lost answer never makes a second agent.",
        epilog="The server and token: `taos login`, or TAOS_URL and TAOS_TOKEN.\n\n"
               f"exit status:\n{codes}\n\nMore: docs/client.md.")
    parser.add_argument("--version", action="version", version=f"taos {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     help="what to do; `taos COMMAND --help` for its options")
    safe, unsafe = _common(unsafe=False), _common(unsafe=True)

    login = commands.add_parser(
        "login", parents=[safe], help="store the server URL and a token for later commands",
        description=f"Store the server URL and an operator token in {config_path()} (mode "
                    "0600), or the token in the system keyring with --keyring. The token is "
                    "read from a prompt, or from standard input with --token-stdin; it is "
                    "checked against the server first unless --no-check.")
    login.add_argument("--token-stdin", action="store_true",
                       help="read the token from standard input (for scripts)")
    login.add_argument("--keyring", action="store_true",
                       help="keep the token in the system keyring (needs the keyring package)")
    login.add_argument("--no-check", action="store_true", help="store without asking the server")

    agents = commands.add_parser("agents", help="list, show, create, change and archive agents",
                                 description="The registry of agents.")
    verbs = agents.add_subparsers(dest="verb", metavar="VERB", required=True,
                                  help="`taos agents VERB --help` for its options")
    lst = verbs.add_parser("list", parents=[safe], help="list agents, newest first",
                           description="List agents, newest first. Archived agents are listed "
                                       "only with --status archived.")
    lst.add_argument("--status", help="comma-separated statuses: registered, deploying, "
                                      "running, failed, archived")
    lst.add_argument("--search", help="text in the name or display name")
    lst.add_argument("--page", type=int, help="page number (from 1)")
    lst.add_argument("--page-size", type=int, help="agents per page (at most 200)")
    get = verbs.add_parser("get", parents=[safe], help="show one agent",
                           description="Show one agent by its slug (archived ones too).")
    get.add_argument("slug", metavar="SLUG", help=SLUG_HELP)
    create = verbs.add_parser(
        "create", parents=[unsafe], help="create an agent",
        description="Create an agent from its display name; its slug is derived from it. "
                    "Retried under one Idempotency-Key: never two agents for one run.")
    create.add_argument("display_name", metavar="DISPLAY_NAME", help=NAME_HELP)
    create.add_argument("--framework", help="the agent framework, e.g. smolagents")
    create.add_argument("--model", help="the model, e.g. qwen2.5:7b")
    _agent_fields(create, patch=False)
    patch = verbs.add_parser("patch", parents=[unsafe], help="change an agent's fields",
                             description="Change the fields given; the others keep their value.")
    patch.add_argument("slug", metavar="SLUG", help=SLUG_HELP)
    patch.add_argument("--framework", help="the agent framework")
    patch.add_argument("--model", help="the model")
    _agent_fields(patch, patch=True)
    archive = verbs.add_parser(
        "archive", parents=[unsafe], help="archive an agent (kept, hidden from lists)",
        description="Archive an agent: it is kept and hidden from the default list. Archiving "
                    "an archived agent changes nothing.")
    archive.add_argument("slug", metavar="SLUG", help=SLUG_HELP)

    deploy = commands.add_parser(
        "deploy", parents=[unsafe], help="deploy an existing agent",
        description="Deploy a registered or failed agent in the background; with --retry, "
                    "queue its latest deploy again (failed, skipped or stale); with --status, "
                    "only show its latest deploy.")
    deploy.add_argument("slug", metavar="SLUG", help=SLUG_HELP)
    mode = deploy.add_mutually_exclusive_group()
    mode.add_argument("--retry", action="store_true", help="queue the latest deploy again")
    mode.add_argument("--status", action="store_true", help="show the latest deploy only")
    _wait_options(deploy)

    new = commands.add_parser(
        "deploy-new", parents=[unsafe], help="create an agent and deploy it",
        description="Create an agent, its first token and its deploy task in one request; the "
                    "deploy runs in the background. Retried under one Idempotency-Key.")
    new.add_argument("display_name", metavar="DISPLAY_NAME", help=NAME_HELP)
    new.add_argument("--framework", required=True, help="the agent framework, e.g. smolagents")
    new.add_argument("--model", required=True, help="the model, e.g. qwen2.5:7b")
    _agent_fields(new, patch=False)
    _wait_options(new)

    token = commands.add_parser(
        "token", help="an agent's token: show, issue, rotate, revoke",
        description="An agent's token. issue and rotate print the secret alone on standard "
                    "output, this once.")
    tverbs = token.add_subparsers(dest="verb", metavar="VERB", required=True,
                                   help="`taos token VERB --help` for its options")
    tget = tverbs.add_parser("get", parents=[safe], help="show the active token's metadata",
                             description="Show the active token's metadata (never the secret).")
    tget.add_argument("slug", metavar="SLUG", help=SLUG_HELP)
    issue = tverbs.add_parser(
        "issue", parents=[unsafe], help="issue the agent's token (it has none)",
        description="Issue the agent's token; the secret alone on standard output. A lost "
                    "answer cannot be replayed: taos says so (exit 7), and `taos token rotate` "
                    "gets a secret.")
    issue.add_argument("slug", metavar="SLUG", help=SLUG_HELP)
    rotate = tverbs.add_parser(
        "rotate", parents=[unsafe], help="revoke the token and issue a new one",
        description="Revoke the agent's token (if any) and issue a new one in one transaction; "
                    "the secret alone on standard output. A lost answer is retried (the retry "
                    "revokes the lost token) and reported.")
    rotate.add_argument("slug", metavar="SLUG", help=SLUG_HELP)
    revoke = tverbs.add_parser("revoke", parents=[unsafe], help="revoke the agent's token",
                               description="Revoke the agent's active token; with none, "
                                           "nothing changes.")
    revoke.add_argument("slug", metavar="SLUG", help=SLUG_HELP)
    revoke.add_argument("--reason", help="why (kept with the revoked token)")

    commands.add_parser("me", parents=[safe], help="show the calling agent (agent tokens)",
                        description="Show the agent whose token (taos_...) makes the call.")
    return parser


# -- the commands ---------------------------------------------------------------

def _agent_human(out: Output, agent: Agent) -> Callable[[], None]:
    return lambda: out.fields([(k, getattr(agent, k)) for k in (
        "name", "display_name", "status", "framework", "model", "host", "qmd_index", "color",
        "emoji", "can_read_user_memory", "created_at", "updated_at")])


def _task_human(out: Output, task: DeployTask) -> Callable[[], None]:
    def show() -> None:
        out.fields([(k, getattr(task, k)) for k in (
            "agent", "state", "stale", "attempts", "backend", "queued_at", "started_at",
            "finished_at", "error")])
    return show


def _fields(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {n: getattr(args, n, None) for n in names}


AGENT_FIELDS = ("host", "qmd_index", "color", "emoji", "can_read_user_memory")


def cmd_agents(client: Client, args: argparse.Namespace, out: Output) -> int:
    key = getattr(args, "idempotency_key", None)
    if args.verb == "list":
        page: AgentPage = client.agents_list(status=args.status, search=args.search,
                                             page=args.page, page_size=args.page_size)
        if out.json:
            out.result({"count": page.count, "next": page.next, "previous": page.previous,
                        "results": as_json(page.results)}, lambda: None)
        else:
            out.table([as_json(a) for a in page.results], AGENT_COLUMNS)
            if page.next:
                out.note(f"{page.count} agents in all; more with --page")
        return OK
    if args.verb == "get":
        agent = client.agent_get(args.slug)
    elif args.verb == "create":
        agent = client.agent_create(display_name=args.display_name, idempotency_key=key,
                                    **_fields(args, (*AGENT_FIELDS, "framework", "model")))
    elif args.verb == "patch":
        agent = client.agent_update(args.slug, idempotency_key=key, **_fields(
            args, (*AGENT_FIELDS, "display_name", "framework", "model")))
    else:
        info = client.agent_archive(args.slug, idempotency_key=key)
        out.call_notes(info)
        out.result({"archived": args.slug}, lambda: out.note(f"archived {args.slug}"))
        return OK
    out.call_notes(agent.meta)
    out.result(agent, _agent_human(out, agent))
    return OK


def _follow(client: Client, slug: str, args: argparse.Namespace, out: Output) -> int:
    """Follow a deploy to its end; show progress on stderr; return the exit status."""
    started = time.monotonic()
    live = out.err.isatty() and not out.json
    last: list[str] = []

    def progress(task: DeployTask) -> None:
        line = (f"deploying {slug}: {task.state}{' (stale)' if task.stale else ''}, "
                f"attempt {task.attempts}, {time.monotonic() - started:.0f} s")
        if live:
            out.err.write("\r" + line.ljust(72))
            out.err.flush()
        elif task.state != (last[0] if last else None):
            out.note(line)
        last[:] = [task.state]

    try:
        task = client.wait_for_deploy(slug, interval=args.interval, timeout=args.timeout,
                                      on_poll=progress)
    except TimeoutError as error:
        if live:
            out.err.write("\n")
        out.note(str(error))
        return DEPLOY_TIMEOUT
    if live:
        out.err.write("\n")
    out.result(task, _task_human(out, task))
    if task.state == "succeeded":
        return OK
    if task.state == "skipped":
        out.note(f"skipped: {task.error}")
        return DEPLOY_SKIPPED
    out.note(f"the deploy {'is stale' if task.stale else 'failed'}: {task.error}")
    if task.log_tail:
        print("taos: the log's tail:", file=out.err)
        print(task.log_tail.rstrip("\n"), file=out.err)
    out.note(f"retry it with: taos deploy {slug} --retry --wait")
    return DEPLOY_FAILED


def cmd_deploy(client: Client, args: argparse.Namespace, out: Output) -> int:
    if args.status:
        task = client.deploy_status(args.slug)
        out.result(task, _task_human(out, task))
        return OK
    try:
        if args.retry:
            task = client.deploy_retry(args.slug, idempotency_key=args.idempotency_key)
        else:
            task = client.deploy(args.slug, idempotency_key=args.idempotency_key)
    except ApiError as error:
        if not (args.wait and error.code == "deploy_in_progress"):
            raise
        out.note(f"{args.slug} is being deployed already; following that deploy")
        return _follow(client, args.slug, args, out)
    out.call_notes(task.meta)
    if args.wait:
        return _follow(client, args.slug, args, out)
    out.result(task, _task_human(out, task))
    return OK


def cmd_deploy_new(client: Client, args: argparse.Namespace, out: Output) -> int:
    deployed: Deployed = client.deploy_new(
        display_name=args.display_name, framework=args.framework, model=args.model,
        idempotency_key=args.idempotency_key, **_fields(args, AGENT_FIELDS))
    out.call_notes(deployed.meta)
    if args.wait:
        if not out.json:
            out.note(f"created {deployed.agent.name}")
        return _follow(client, deployed.agent.name, args, out)

    def human() -> None:
        out.fields([("name", deployed.agent.name), ("status", deployed.agent.status),
                    ("deploy", deployed.deploy.state), ("status_url", deployed.deploy.status_url)])
    out.result(deployed, human)
    return OK


def cmd_token(client: Client, args: argparse.Namespace, out: Output) -> int:
    key = getattr(args, "idempotency_key", None)
    if args.verb == "get":
        info: TokenInfo = client.token_get(args.slug)
        out.result(info, lambda: out.fields([(k, getattr(info, k)) for k in (
            "agent", "prefix", "created_at", "created_by", "expires_at", "last_used_at")]))
        return OK
    if args.verb == "revoke":
        call = client.token_revoke(args.slug, reason=args.reason, idempotency_key=key)
        out.call_notes(call)
        out.result({"revoked": args.slug}, lambda: out.note(f"revoked the token of {args.slug}"
                                                            " (if it had one)"))
        return OK
    issued: IssuedToken = (client.token_issue(args.slug, idempotency_key=key)
                           if args.verb == "issue" else
                           client.token_rotate(args.slug, idempotency_key=key))
    if issued.meta is not None and issued.meta.lost_answers:
        out.note(f"{issued.meta.lost_answers} earlier rotation answer(s) for {args.slug} were "
                 "lost in transit; this rotation revoked what they issued, and the secret "
                 "below is the agent's one active token")
    print(SECRET_WARNING_JSON if out.json else SECRET_WARNING, file=out.err)
    if out.json:
        out.result(issued, lambda: None)
    else:
        print(f"taos: prefix {issued.prefix}, agent {issued.agent}", file=out.err)
        print(issued.token, file=out.out)
    return OK


def cmd_me(client: Client, args: argparse.Namespace, out: Output) -> int:
    agent = client.me()
    out.result(agent, _agent_human(out, agent))
    return OK


def cmd_login(args: argparse.Namespace, out: Output, stdin: TextIO) -> int:
    url = args.url or input("Control plane URL (e.g. http://127.0.0.1:8000): ").strip()
    if not url:
        out.note("no URL given")
        return USAGE
    token = (stdin.readline() if args.token_stdin else getpass.getpass("Operator token: ")).strip()
    if not token:
        out.note("no token given")
        return USAGE
    if args.keyring and not keyring_available():
        out.note("--keyring needs the keyring package (pip install 'taos-client[keyring]')")
        return USAGE
    if not args.no_check:
        with Client(url, token, retry=_policy(args)) as client:
            client.agents_list(page_size=1)
    path = write_login(url, token, use_keyring=args.keyring)
    where = "the system keyring" if args.keyring else str(path)
    out.result({"url": url, "stored_in": where},
               lambda: out.note(f"logged in to {url}; the token is kept in {where}"))
    return OK


# -- running it -------------------------------------------------------------------

def _policy(args: argparse.Namespace) -> RetryPolicy:
    policy = RetryPolicy()
    if getattr(args, "max_attempts", None):
        policy.max_attempts = max(1, args.max_attempts)
    if getattr(args, "max_time", None) is not None:
        policy.max_elapsed = args.max_time
    return policy


def exit_status(error: Exception) -> int:
    """Return the exit status for an error that ended a command."""
    if isinstance(error, TokenAnswerLost):
        return TOKEN_LOST
    if isinstance(error, TransportError):
        return NO_ANSWER
    if isinstance(error, ApiError):
        if error.status in (401, 403):
            return AUTH
        if error.status == 404:
            return NOT_FOUND
        if error.status == 409 and error.code != "idempotency_key_in_use":
            return CONFLICT
        if error.status >= 500 or error.status in (409, 429):
            return NO_ANSWER
        return REFUSED
    return REFUSED


def _report(error: TaosError, out: Output) -> None:
    if out.json and isinstance(error, ApiError):
        json.dump({"status": error.status, "code": error.code, "detail": error.detail,
                   "errors": error.errors, "request_id": error.request_id}, out.err)
        out.err.write("\n")
        return
    out.note(f"error: {error}")
    if isinstance(error, ApiError) and error.request_id:
        out.note(f"request ID: {error.request_id}")
    if isinstance(error, TransportError) and error.maybe_applied and error.idempotency_key:
        out.note("the server may have done it; run the same command again with "
                 f"--idempotency-key {error.idempotency_key} to get its answer")


COMMANDS = {"agents": cmd_agents, "deploy": cmd_deploy, "deploy-new": cmd_deploy_new,
            "token": cmd_token, "me": cmd_me}


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
         stderr: TextIO | None = None, stdin: TextIO | None = None) -> int:
    """Run `taos` with `argv`; return its exit status."""
    args = build_parser().parse_args(argv)
    out = Output(as_json=args.json, out=stdout or sys.stdout, err=stderr or sys.stderr)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="taos: %(message)s", stream=out.err)
    try:
        if args.command == "login":
            return cmd_login(args, out, stdin or sys.stdin)
        login = read_login()
        url = args.url or os.environ.get("TAOS_URL") or login.url
        token = os.environ.get("TAOS_TOKEN") or login.token
        if not url or not token:
            out.note("no server or token: run `taos login`, or set TAOS_URL and TAOS_TOKEN")
            return USAGE
        with Client(url, token, retry=_policy(args)) as client:
            return COMMANDS[args.command](client, args, out)
    except TaosError as error:
        _report(error, out)
        return exit_status(error)
    except httpx.InvalidURL as error:
        out.note(f"error: the server URL is not valid: {error}")
        return USAGE
    except KeyboardInterrupt:
        out.note("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
