"""Deploy jobs through real `manage.py db_worker` processes against the test database."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from django_tasks_db.models import DBTaskResult

from agents.models import Agent
from deploys.jobs import deploy_mark_stale
from deploys.models import DeployTask
from deploys.services import deploy_create, deploy_retry
from deploys.tasks import deploy_agent
from harness.processes import pid_alive, wait_until
from tests.support.deploy_command import DeployCommand
from tests.support.task_workers import TaskWorker

pytestmark = [pytest.mark.live]


@pytest.fixture
def task_workers(transactional_db, tmp_path) -> Iterator[Callable[..., TaskWorker]]:
    workers: list[TaskWorker] = []

    def start(*args: str, **env: str) -> TaskWorker:
        worker = TaskWorker(env=env, args=args,
                            log_path=tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()


def test_two_workers_run_each_of_20_doubly_enqueued_deploys_exactly_once(
    task_workers, tmp_path, settings
):
    recorder = DeployCommand(tmp_path / "deploys.jsonl")
    command = recorder.command(sleep=0.3)
    settings.DEPLOY_BACKEND, settings.DEPLOY_COMMAND = "command", command
    tasks = [deploy_create(display_name=f"Agent {n}", framework="f", model="m")
             for n in range(20)]  # each commits and enqueues its job
    for task in tasks:  # and a duplicate of every job: the queue must not matter
        deploy_agent.enqueue(deploy_task_id=task.pk, attempt=1)
    assert DBTaskResult.objects.count() == 40

    env = {"DEPLOY_BACKEND": "command", "DEPLOY_COMMAND": command}
    workers = [task_workers("--batch", **env), task_workers("--batch", **env)]
    for worker in workers:
        assert worker.wait(timeout=180) == 0, worker.log()

    starts = recorder.starts()
    assert Counter(int(s["task"]) for s in starts) == {task.pk: 1 for task in tasks}
    assert len(recorder.ends()) == 20
    # Both workers ran deploys (each command's parent is the worker that ran it).
    assert {s["ppid"] for s in starts} == {worker.pid for worker in workers}
    assert set(DeployTask.objects.values_list("state", flat=True)) == {"succeeded"}
    assert set(Agent.objects.values_list("status", flat=True)) == {"running"}
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}
    claimed = Counter(r.return_value["claimed"] for r in DBTaskResult.objects.all())
    assert claimed == {True: 20, False: 20}
    # The workers never logged a token.
    for worker in workers:
        log = worker.log()
        assert not any(s["token"] in log for s in starts)


def test_worker_killed_mid_deploy_fails_after_stale_timeout_then_retry_runs_once(
    task_workers, tmp_path, settings
):
    recorder = DeployCommand(tmp_path / "deploys.jsonl")
    slow, quick = recorder.command(sleep=120), recorder.command(sleep=0)
    settings.DEPLOY_BACKEND, settings.DEPLOY_COMMAND = "command", slow
    settings.DEPLOY_STALE_SECONDS = 3
    task = deploy_create(display_name="Research Bot", framework="f", model="m")

    timing = {"DEPLOY_HEARTBEAT_SECONDS": "1", "DEPLOY_STALE_SECONDS": "3"}
    worker = task_workers(DEPLOY_BACKEND="command", DEPLOY_COMMAND=slow, **timing)
    [start] = wait_until(recorder.starts, timeout=60, what="the deploy command to start")
    assert DeployTask.objects.get(pk=task.pk).state == "running"
    worker.kill()  # SIGKILL: no cleanup runs in the worker

    # The kernel kills the worker's deploy command with it (PR_SET_PDEATHSIG).
    wait_until(lambda: not pid_alive(start["pid"]), timeout=10, what="the command to die")
    wait_until(lambda: deploy_mark_stale() == 1, timeout=30, interval=0.5,
               what="the task to go stale")
    task.refresh_from_db()
    assert task.state == "failed"
    assert "no heartbeat for more than 3 s (DEPLOY_STALE_SECONDS)" in task.error
    assert task.agent.status == Agent.Status.FAILED

    settings.DEPLOY_COMMAND = quick
    deploy_retry(task=task)
    retry_worker = task_workers("--batch", DEPLOY_BACKEND="command", DEPLOY_COMMAND=quick,
                                **timing)
    assert retry_worker.wait(timeout=120) == 0, retry_worker.log()

    task.refresh_from_db()
    assert (task.state, task.attempts) == ("succeeded", 2)
    assert task.agent.status == Agent.Status.RUNNING
    assert [(s["attempt"]) for s in recorder.starts()] == ["1", "2"]
    assert [(e["attempt"]) for e in recorder.ends()] == ["2"]
