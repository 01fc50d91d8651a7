"""gunicorn settings for the control plane; every value can come from the environment."""

import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path

# The project's modules (request_context.logs below), however gunicorn was started.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from request_context.logs import ACCESS_FORMAT, logging_config  # noqa: E402
from tinyagentos_site.env import env_bool  # noqa: E402

wsgi_app = "tinyagentos_site.wsgi:application"
# The deploy worker the master forks sets Django up from this, with or without preload_app.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinyagentos_site.settings")
# Metrics of every process of this master, the deploy workers too
# (docs/operations.md): prometheus_client's multiprocess mode, where each
# process writes its values to files in PROMETHEUS_MULTIPROC_DIR and a scrape
# adds them up. prometheus_client reads the variable when it is first
# imported, so it is set here, before the app is (pre)loaded. One directory
# per master: a new private one unless the environment names one, which is
# emptied here (a dead master's files would count again); a dead worker's
# files are marked by `child_exit`. A directory it made is removed at exit,
# or by the next master to start when this one was killed (its PID is in the
# name).
_metrics = env_bool("TAOS_METRICS", True)  # read as the settings read it
_made_metrics_dir = None


def _remove_dead_masters_metrics_dirs():
    for directory in Path(tempfile.gettempdir()).glob("taos-metrics-*-*"):
        pid = directory.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(directory, ignore_errors=True)


if _metrics:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        for _stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
            _stale.unlink()
    else:
        _remove_dead_masters_metrics_dirs()
        _made_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
            prefix=f"taos-metrics-{os.getpid()}-")
bind = os.environ.get("TAOS_BIND", "127.0.0.1:8000").split(",")
# Sync workers: a worker killed (SIGKILL, OOM, or `timeout` below) takes one
# request with it, never its neighbours, and a stuck request is killed at
# `timeout`. gthread (TAOS_WORKER_CLASS=gthread, TAOS_THREADS) costs less
# memory a request in flight but loses both (docs/idempotency.md, "Fair
# waiting"). cores + 2 (at least 4): more than the 3 requests one key may
# hold at once, and ~30 MB of PSS a worker with preload_app (bench/memory.py;
# on 2 cores a fifth one takes `make run` from ~165 to ~184 MB).
worker_class = os.environ.get("TAOS_WORKER_CLASS", "sync")
workers = int(os.environ.get("TAOS_WORKERS") or max(4, multiprocessing.cpu_count() + 2))
# gthread only: gunicorn turns a `sync` worker with threads > 1 into gthread.
threads = int(os.environ.get("TAOS_THREADS") or (4 if worker_class == "gthread" else 1))
# Import the site once in the master, so that workers share its code pages.
# Django opens database and cache connections lazily, on a request's first
# use; `when_ready` makes sure the master holds none before it forks.
preload_app = os.environ.get("TAOS_PRELOAD_APP", "1") not in ("0", "false", "no", "off")
# A request that runs longer than this has its worker killed and restarted; an
# idempotent request's reservation rolls back with its connection.
timeout = int(os.environ.get("TAOS_WORKER_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("TAOS_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Recycle workers now and then so that a slow leak cannot grow without bound.
max_requests = int(os.environ.get("TAOS_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("TAOS_GUNICORN_LOG_LEVEL", "info")
# The access line ends with the request's ID (its X-Request-ID response header).
access_log_format = ACCESS_FORMAT
# TAOS_LOG_FORMAT=json: the master, the workers, the access log and the deploy
# worker log one JSON object a line, as the site does (docs/logging.md), and
# Python's warnings go through logging too. text: gunicorn's own lines.
if os.environ.get("TAOS_LOG_FORMAT", "text") == "json":
    logconfig_dict = logging_config(log_format="json", level=os.environ.get("LOG_LEVEL", "INFO"),
                                    gunicorn_level=loglevel)
    logging.captureWarnings(True)
forwarded_allow_ips = os.environ.get("TAOS_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proc_name = "tinyagentos"
# gunicorn's control socket defaults to one path per user, which several
# masters on one machine (tests, "two hosts") would take from each other.
if os.environ.get("TAOS_GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["TAOS_GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
pidfile = os.environ.get("TAOS_PIDFILE") or None
# Deploy workers (`manage.py db_worker`) forked from this master after preload,
# so that they share its pages; restarted if they die, stopped with the master
# (deploys/worker_process.py). 0 on hosts that run them elsewhere
# (`make worker`).
deploy_workers = int(os.environ.get("TAOS_DEPLOY_WORKERS") or 1)


def on_starting(server):
    """Before binding and serving: refuse a taken address, then run the startup checks."""
    _refuse_taken_address(server)
    _run_startup_checks(server)


def _refuse_taken_address(server):
    """A taken address fails at once, naming the setting that moves it.

    gunicorn alone retries for five seconds and says only "Connection in use".
    """
    import errno
    import socket

    for address in bind:
        host, _, port = address.rpartition(":")
        if not port.isdigit() or address.startswith("unix:"):
            continue
        host = host.strip("[]") or "0.0.0.0"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, int(port)))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                server.log.error(
                    "%s is already in use by another program. Set TAOS_BIND to another "
                    "address, e.g. TAOS_BIND=127.0.0.1:8001 make run", address)
                raise SystemExit(1) from None


def child_exit(server, worker):
    """A worker died: drop its live gauges (its counters stay in the sum)."""
    mark_metrics_process_dead(worker.pid)


def mark_metrics_process_dead(pid):
    if _metrics:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def on_exit(server):
    """The master stops: remove the metrics directory it made."""
    if _made_metrics_dir:
        shutil.rmtree(_made_metrics_dir, ignore_errors=True)


def when_ready(server):
    """Before the first fork: close the master's database connections, freeze its objects.

    `gc.freeze()` moves everything the master imported out of the collector's
    reach, so a worker's collections never write to (and so never copy) the
    pages it shares with the master. The URLconf (views, serializers, DRF's
    generic views, drf-spectacular: ~50 modules) is imported here too, or else
    every worker would import its own copy on its first request. Then let the
    arbiter keep the deploy workers with its own (they start right after the
    web workers).
    """
    if preload_app:
        import gc

        from django.db import connections
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018  (imports the URLconf)
        connections.close_all()
        gc.collect()
        gc.freeze()
    if deploy_workers:
        from deploys.worker_process import DeployWorkers

        DeployWorkers(server, count=deploy_workers,
                      on_exit=mark_metrics_process_dead).attach()


def _run_startup_checks(server):
    """Run the system checks tagged "startup" before serving: an Error stops the start.

    Those are the errors that must keep the site from serving at all (a
    tokens pepper that is not the one of the stored tokens); `make run` runs
    every check at `migrate`, and a deploy worker checks its own settings
    (deploys/worker_process.py) while the site serves. The connections the
    checks opened are closed before any fork.
    """
    import io
    import sys

    import django
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.db import connections

    django.setup()
    output = io.StringIO()  # through gunicorn's log, a JSON line with TAOS_LOG_FORMAT=json
    try:
        call_command("check", tags=["startup"], stdout=output, stderr=output)
        if text := output.getvalue().strip():
            server.log.info("%s", text)
    except SystemCheckError as exc:
        server.log.error("Not starting: %s", exc)
        if server.pidfile is not None:
            server.pidfile.unlink()
        sys.exit(1)
    finally:
        connections.close_all()
