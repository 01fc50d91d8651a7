from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.db import connection
from django.test import Client
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from harness.gunicorn import GunicornServer
from tests.support.http_auth import PASSWORD
from tests.support.live_env import live_database_env, live_env
from tests.support.private_servers import PrivatePgBouncer

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Property tests check behaviour, not speed: no per-example deadline, which a
# shared or loaded machine (CI beside live gunicorn servers) would trip at random.
hypothesis_settings.register_profile("taos", deadline=None)
hypothesis_settings.load_profile("taos")


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings) -> None:
    # The real hasher costs ~0.4 s of CPU a login; tests only need it to work.
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _no_basic_checks_budget(settings) -> None:
    # Tests send many Basic requests a second from one address; the budget's
    # own tests (access_tests/test_hasher_budget.py) turn it on.
    settings.TAOS_BASIC_AUTH_CHECKS_PER_SECOND = 0


@pytest.fixture(autouse=True)
def _plain_static_storage(settings) -> None:
    # The manifest storage needs `collectstatic` first; in-process tests render
    # admin pages without it. Live gunicorn servers use the real storage.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _clear_test_cache() -> None:
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")  # django-redis: only this KEY_PREFIX's keys
    else:
        try:
            cache.clear()
        except Exception:  # the database cache has no table outside db tests
            pass


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    yield
    _clear_test_cache()


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    def make(username: str = "operator", *, perms: tuple[str, ...] = (),
             superuser: bool = False) -> User:
        if superuser:
            return User.objects.create_superuser(username, "", PASSWORD)
        user = User.objects.create_user(username, "", PASSWORD)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        return user
    return make


@pytest.fixture
def operator(make_user) -> User:
    """A user with every permission on agents, their tokens and deploys, but not a superuser."""
    return make_user("operator", perms=(
        "agents.view_agent", "agents.add_agent", "agents.change_agent", "agents.delete_agent",
        "tokens.view_agenttoken", "tokens.add_agenttoken", "tokens.change_agenttoken",
        "deploys.view_deploytask", "deploys.add_deploytask", "deploys.change_deploytask",
    ))


@pytest.fixture
def api(operator) -> APIClient:
    client = APIClient()
    client.force_authenticate(operator)
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def root(make_user) -> User:
    """A superuser, for admin pages."""
    return make_user("root", superuser=True)


@pytest.fixture
def browser(root) -> Client:
    """A Django test client logged in to the admin as `root`."""
    client = Client()
    client.force_login(root)
    return client


@pytest.fixture
def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory) -> str:
    """Run `collectstatic` once a session, so live servers serve a styled admin."""
    import os
    import subprocess
    import sys

    from harness.processes import ROOT

    root = str(tmp_path_factory.mktemp("static"))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env={**os.environ, "TAOS_STATIC_ROOT": root}, check=True, timeout=300,
    )
    return root


@pytest.fixture(scope="session")
def live_pgbouncer() -> Iterator[PrivatePgBouncer | None]:
    """With TAOS_TEST_DB_POOLER=pgbouncer, a private PgBouncer the live servers go through.

    Transaction pooling, TAOS_TEST_PGBOUNCER_POOL_SIZE (4) server connections
    for all the workers of every master; None otherwise.
    """
    pooler = os.environ.get("TAOS_TEST_DB_POOLER", "")
    if not pooler:
        yield None
        return
    db = django_settings.DATABASES["default"]
    if pooler != "pgbouncer" or db["ENGINE"] != "django.db.backends.postgresql":
        raise pytest.UsageError("TAOS_TEST_DB_POOLER=pgbouncer needs a postgres:// DATABASE_URL")
    bouncer = PrivatePgBouncer(
        server_host=db.get("HOST") or "127.0.0.1", server_port=int(db.get("PORT") or 5432),
        pool_size=int(os.environ.get("TAOS_TEST_PGBOUNCER_POOL_SIZE", "4")),
    ).start()
    yield bouncer
    bouncer.stop()


@pytest.fixture
def gunicorn_factory(transactional_db, tmp_path, collected_static,
                     live_pgbouncer) -> Iterator[Callable[..., GunicornServer]]:
    """Start real gunicorn masters against the test database; stop them after.

    `start(workers=4, **env)` starts one master ("host"); call it twice for two
    hosts sharing the database. Servers run with harness.live_settings;
    through `live_pgbouncer` when there is one, unless `env` names its own
    DATABASE_URL.
    """
    servers: list[GunicornServer] = []
    # The servers count failed logins and the like in the shared cache; on the
    # database cache that is a table of the test database, which `_clean_cache`
    # cannot reach after the database fixture's teardown: cleared here, before
    # and after, so no live test inherits another's lockout.
    _clear_test_cache()
    base_env = {"DJANGO_SETTINGS_MODULE": "harness.live_settings",
                "TAOS_STATIC_ROOT": collected_static}

    def start(workers: int = 4, timeout: int = 30, **env: str) -> GunicornServer:
        if live_pgbouncer is not None and "DATABASE_URL" not in env:
            env = {**live_pgbouncer.database_env(live_database_env()["DATABASE_URL"]), **env}
        server = GunicornServer(env=live_env({**base_env, **env}), workers=workers,
                                timeout=timeout, log_path=tmp_path / f"gunicorn-{len(servers)}.log")
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
    _clear_test_cache()
    connection.close()


@pytest.fixture
def gunicorn_server(gunicorn_factory) -> GunicornServer:
    """One gunicorn master with 4 workers."""
    return gunicorn_factory(workers=4)
