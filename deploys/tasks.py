"""Background jobs of the deploys app, run by Django's Tasks API (`manage.py db_worker`)."""

from __future__ import annotations

from typing import Any

from django_tasks import TaskContext, task

from deploys.jobs import deploy_run


@task(takes_context=True)
def deploy_agent(context: TaskContext, deploy_task_id: int, attempt: int) -> dict[str, Any]:
    """Run attempt `attempt` of DeployTask `deploy_task_id` (ids only: no secret in the queue)."""
    return deploy_run(deploy_task_id=deploy_task_id, attempt=attempt,
                      result_id=context.task_result.id)
