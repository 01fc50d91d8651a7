"""Background jobs of the agents app, run by Django's Tasks API (`manage.py db_worker`)."""

from __future__ import annotations

from typing import Any

from django_tasks import TaskContext, task


@task(takes_context=True)
def deploy_agent(context: TaskContext, deploy_task_id: int, attempt: int) -> dict[str, Any]:
    """Run attempt `attempt` of DeployTask `deploy_task_id` (ids only: no secret in the queue)."""
    from agents.deploy_services import deploy_run

    return deploy_run(deploy_task_id=deploy_task_id, attempt=attempt,
                      result_id=context.task_result.id)
