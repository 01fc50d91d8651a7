"""The deploy worker the gunicorn master forks (`make run`, TAOS_DEPLOY_WORKERS): live."""

from __future__ import annotations

import os
import signal

import pytest

from deploys.models import DeployTask
from deploys.services import deploy_create
from harness.processes import pid_alive, wait_until
from tests.support.deploy_command import DeployCommand

pytestmark = [pytest.mark.live]


@pytest.fixture
def recorder(tmp_path) -> DeployCommand:
    return DeployCommand(tmp_path / "deploys.jsonl")


@pytest.fixture
def server_with_deploy_worker(gunicorn_factory, recorder, settings):
    command = recorder.command()
    settings.DEPLOY_BACKEND, settings.DEPLOY_COMMAND = "command", command
    return gunicorn_factory(workers=2, TAOS_DEPLOY_WORKERS="1",
                            DEPLOY_BACKEND="command", DEPLOY_COMMAND=command)


def _deploy_runs_in(worker_pid: int, recorder: DeployCommand, name: str) -> None:
    task = deploy_create(display_name=name, framework="f", model="m")  # enqueues on commit
    wait_until(lambda: DeployTask.objects.get(pk=task.pk).state == "succeeded", timeout=60,
               interval=0.2, what=f"the deploy of {name} to succeed")
    [start] = [s for s in recorder.starts() if int(s["task"]) == task.pk]
    assert start["ppid"] == worker_pid  # the command's parent is the worker that ran it


def test_master_forks_exactly_one_deploy_worker_that_runs_a_deploy(
    server_with_deploy_worker, recorder
):
    server = server_with_deploy_worker
    [worker] = wait_until(server.deploy_worker_pids, timeout=30, what="the deploy worker")
    assert len(server.worker_pids()) == 2

    _deploy_runs_in(worker, recorder, "Research Bot")
    assert server.deploy_worker_pids() == [worker]


def test_a_killed_deploy_worker_is_restarted_and_the_new_one_runs_deploys(
    server_with_deploy_worker, recorder
):
    server = server_with_deploy_worker
    [first] = wait_until(server.deploy_worker_pids, timeout=30, what="the deploy worker")
    web_workers = sorted(server.worker_pids())
    os.kill(first, signal.SIGKILL)

    [second] = wait_until(lambda: [p for p in server.deploy_worker_pids() if p != first],
                          timeout=30, what="a new deploy worker")
    assert not pid_alive(first)
    assert server.deploy_worker_pids() == [second]
    assert sorted(server.worker_pids()) == web_workers  # the web workers were left alone
    _deploy_runs_in(second, recorder, "Second Bot")


def test_the_deploy_worker_stops_with_the_master(server_with_deploy_worker):
    server = server_with_deploy_worker
    [worker] = wait_until(server.deploy_worker_pids, timeout=30, what="the deploy worker")
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=30) == 0
    assert not pid_alive(worker)


def test_the_deploy_worker_stops_when_the_master_is_killed(server_with_deploy_worker):
    server = server_with_deploy_worker
    [worker] = wait_until(server.deploy_worker_pids, timeout=30, what="the deploy worker")
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    # PR_SET_PDEATHSIG: the kernel sends it SIGTERM, and it stops gracefully.
    wait_until(lambda: not pid_alive(worker), timeout=15, what="the deploy worker to stop")


def test_no_deploy_worker_with_the_setting_off(gunicorn_factory):
    server = gunicorn_factory(workers=2, TAOS_DEPLOY_WORKERS="0")
    assert server.deploy_worker_pids() == []
    assert len(server.worker_pids()) == 2


def test_a_misconfigured_deploy_worker_refuses_to_start_and_the_site_still_serves(
    gunicorn_factory
):
    server = gunicorn_factory(workers=2, TAOS_DEPLOY_WORKERS="1", DEPLOY_BACKEND="bogus")
    wait_until(lambda: "deploys.E001" in server.log_tail(200), timeout=30,
               what="the system check error in the log")
    # The child prints the error before it exits; the master logs the exit
    # when it reaps the child, a moment later, and schedules a restart.
    wait_until(lambda: "restarting in" in server.log_tail(200), timeout=15,
               what="the master to reap the deploy worker")
    assert "Deploy worker refused to start" in server.log_tail(200)
    assert len(server.worker_pids()) == 2


def test_without_preload_the_deploy_worker_sets_django_up_and_runs_a_deploy(
    gunicorn_factory, recorder, settings
):
    command = recorder.command()
    settings.DEPLOY_BACKEND, settings.DEPLOY_COMMAND = "command", command
    server = gunicorn_factory(workers=2, TAOS_DEPLOY_WORKERS="1", TAOS_PRELOAD_APP="0",
                              DEPLOY_BACKEND="command", DEPLOY_COMMAND=command)
    [worker] = wait_until(server.deploy_worker_pids, timeout=30, what="the deploy worker")
    _deploy_runs_in(worker, recorder, "Unpreloaded Bot")
