"""Background jobs of the deploys app, run by Django's Tasks API (`manage.py db_worker`)."""

from __future__ import annotations

from typing import Any

from django_tasks import TaskContext, task

from deploys.jobs import deploy_run
from request_context.ids import bound_request_id, valid_request_id


@task(takes_context=True)
def deploy_agent(context: TaskContext, deploy_task_id: int, attempt: int,
                 request_id: str = "") -> dict[str, Any]:
    """Run attempt `attempt` of DeployTask `deploy_task_id` (ids only: no secret in the queue).

    `request_id` is the ID of the request that queued the job: every line the
    job logs carries it (docs/logging.md). Jobs queued before it existed have none.
    """
    with bound_request_id(valid_request_id(request_id)):
        return deploy_run(deploy_task_id=deploy_task_id, attempt=attempt,
                          result_id=context.task_result.id)
