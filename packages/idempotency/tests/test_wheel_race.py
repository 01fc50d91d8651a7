"""The built wheel, alone in a fresh virtualenv, keeps its promise in a project of its own.

Builds the wheel (`pip wheel --no-deps packages/idempotency`, from a clean
copy of it), checks that it
holds the `idempotency` package only, installs it with Django, Django REST
framework, gunicorn and psycopg (nothing else) into a fresh virtualenv,
migrates the minimal project beside this file (one model, one view with
`@idempotent`), serves it with gunicorn (4 sync workers) and sends 16
concurrent POSTs with one Idempotency-Key: one note is made, and the 16
answers are identical (one first run, 15 replays).

The race runs on SQLite when DATABASE_URL is unset and on PostgreSQL (a
database of its own, made and dropped here) when it names PostgreSQL; on
another engine the wheel is still checked. The virtualenv is kept under
.cache/ (not var/: the site keeps var/ private, 0600 files, no executables),
keyed by the wheel's content, so the runs of one CI build it once.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PROJECT_DIR = Path(__file__).resolve().parent / "minimal_project"
REPO_ROOT = PACKAGE_DIR.parents[1]
VENV_CACHE = REPO_ROOT / ".cache" / "idempotency-wheel-venv"
# The versions installed beside the wheel: the repository's own pins.
PINNED = ("Django", "djangorestframework", "gunicorn", "psycopg[binary]")

REQUESTS = 16
WORKERS = 4
VIEW_SECONDS = 1.5  # the first request holds its key this long: the others arrive meanwhile
USER, PASSWORD = "racer", "racer-password"


# --- The wheel ----------------------------------------------------------------

@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # From a clean copy: a build/ left in the tree could carry modules deleted since.
    source = shutil.copytree(PACKAGE_DIR, out / "source", ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__", "tests"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    str(source), "-w", str(out)], check=True, timeout=600,
                   env={**os.environ, "SOURCE_DATE_EPOCH": "1767225600"})
    [built] = out.glob("django_idempotency_reservation-*.whl")
    return built


def wheel_modules(wheel: Path) -> list[str]:
    """Return the top-level names of the wheel's entries, its .dist-info aside."""
    with zipfile.ZipFile(wheel) as archive:
        return sorted({name.split("/", 1)[0] for name in archive.namelist()
                       if not name.split("/", 1)[0].endswith(".dist-info")})


def test_the_wheel_holds_the_package_only(wheel):
    assert wheel_modules(wheel) == ["idempotency"]
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "idempotency/migrations/0002_binary_key_on_mariadb.py" in names
    assert "idempotency/templates/admin/idempotency/change_form.html" in names
    assert "idempotency/engines/postgresql.py" in names


# --- A fresh virtualenv with the wheel -------------------------------------------

def content_key(wheel: Path) -> str:
    """Return a digest of the wheel's members (names and bytes), not of its zip timestamps."""
    digest = hashlib.sha256()
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            digest.update(name.encode() + b"\0" + archive.read(name) + b"\0")
    return digest.hexdigest()[:16]


def pins() -> list[str]:
    """Return the repository's pins (requirements.txt) of the packages installed beside the wheel."""
    text = (REPO_ROOT / "requirements.txt").read_text()
    found = []
    for name in PINNED:
        match = re.search(rf"^{re.escape(name)}==(\S+)$", text, re.MULTILINE | re.IGNORECASE)
        found.append(f"{name}=={match.group(1)}" if match else name)
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path) -> Path:
    """Return a virtualenv holding the wheel, Django, DRF, gunicorn and psycopg only."""
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    key = content_key(wheel)
    target = VENV_CACHE / key
    with open(VENV_CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run may be building it
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)  # a build that did not finish
            # Built where it will live: a virtualenv's scripts name their own path.
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=300)
            subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
                            str(wheel), *pins()], check=True, timeout=900, env=clean_env())
            (target / ".complete").write_text(wheel.name)
        for old in VENV_CACHE.iterdir():  # venvs of earlier wheels
            if old.is_dir() and old != target:
                shutil.rmtree(old, ignore_errors=True)
    return target


def clean_env(**extra: str) -> dict[str, str]:
    """Return this process's environment without anything that points at this repository."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE", "VIRTUAL_ENV")}
    return {**env, **extra}


def test_the_venv_has_no_module_of_this_project(venv):
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.util as u; print([m for m in ('tinyagentos_site', 'agents', "
         "'tokens', 'deploys', 'access', 'api', 'console', 'drf_spectacular') "
         "if u.find_spec(m)])"],
        cwd=PROJECT_DIR, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


# --- The minimal project, served ---------------------------------------------------

@contextlib.contextmanager
def database(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Yield the minimal project's database settings for this run's engine."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        yield {"MINISITE_DB_ENGINE": "sqlite", "MINISITE_DB_NAME": str(tmp_path / "race.sqlite3")}
        return
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("postgres", "postgresql"):
        pytest.skip("the wheel's race runs on SQLite and PostgreSQL")
    import psycopg

    name = f"test_{parsed.path.lstrip('/')}_pkg_race"
    conninfo = {"host": parsed.hostname or "127.0.0.1", "port": parsed.port or 5432,
                "user": urllib.parse.unquote(parsed.username or ""),
                "password": urllib.parse.unquote(parsed.password or ""), "dbname": "postgres"}
    with psycopg.connect(**conninfo, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"MINISITE_DB_ENGINE": "postgresql", "MINISITE_DB_NAME": name,
               "MINISITE_DB_HOST": conninfo["host"], "MINISITE_DB_PORT": str(conninfo["port"]),
               "MINISITE_DB_USER": conninfo["user"], "MINISITE_DB_PASSWORD": conninfo["password"]}
    finally:
        with psycopg.connect(**conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def site_env(venv: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Yield the environment of the migrated and checked minimal project, with its one user."""
    with database(tmp_path) as settings:
        env = clean_env(**settings, DJANGO_SETTINGS_MODULE="minisite.settings",
                        MINISITE_VIEW_SECONDS=str(VIEW_SECONDS))
        manage = [str(venv / "bin" / "python"), "manage.py"]
        for command in (["migrate", "--noinput", "-v", "0"], ["check", "--fail-level", "WARNING"],
                        ["makemigrations", "--check", "--dry-run"],
                        ["shell", "-c", "from django.contrib.auth.models import User; "
                                        f"User.objects.create_user({USER!r}, password={PASSWORD!r})"]):
            result = subprocess.run([*manage, *command], cwd=PROJECT_DIR, env=env,
                                    capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, result.stdout + result.stderr
        yield env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


@contextlib.contextmanager
def gunicorn(venv: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """Serve the minimal project with WORKERS sync workers; yield its URL; stop it by PID."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        master = subprocess.Popen(
            [str(venv / "bin" / "gunicorn"), "minisite.wsgi:application", "--bind",
             f"127.0.0.1:{port}", "--workers", str(WORKERS), "--worker-class", "sync",
             "--timeout", "60"],
            cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert master.poll() is None, log.read_text()
            workers = children(master.pid)
            if len(workers) == WORKERS and answers(url):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"gunicorn did not come up:\n{log.read_text()}")
        yield url
    finally:
        master.send_signal(signal.SIGTERM)
        try:
            master.wait(timeout=15)
        except subprocess.TimeoutExpired:
            master.kill()
            master.wait(timeout=5)
        for pid in workers:  # a worker that outlived its master
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# Loopback only: no proxy from the environment.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def answers(url: str) -> bool:
    try:
        OPENER.open(f"{url}/notes/", timeout=2)
    except urllib.error.HTTPError:
        return True  # 401: Django answers
    except OSError:
        return False
    return True


def call(url: str, method: str, *, key: str | None = None,
         body: dict | None = None) -> tuple[int, bytes, dict[str, str]]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{url}/notes/", data=data, headers=headers, method=method)
    try:
        with OPENER.open(request, timeout=90) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


def test_16_concurrent_posts_with_one_key_make_one_note_and_16_identical_answers(
        venv, site_env, tmp_path):
    log = tmp_path / "gunicorn.log"
    with gunicorn(venv, site_env, log) as url:
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            answers_ = list(pool.map(lambda _: call(url, "POST", key="one-key",
                                                    body={"text": "hello"}),
                                     range(REQUESTS)))
        status, counted, _ = call(url, "GET")
    details = log.read_text()[-3000:]
    assert [code for code, _, _ in answers_] == [201] * REQUESTS, (answers_, details)
    assert len({body for _, body, _ in answers_}) == 1, answers_
    assert sorted(headers["Idempotent-Replayed"] for _, _, headers in answers_) == (
        ["false"] + ["true"] * (REQUESTS - 1))
    assert (status, json.loads(counted)) == (200, {"count": 1})
