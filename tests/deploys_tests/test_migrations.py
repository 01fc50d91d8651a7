"""Moving DeployTask from the agents app to deploys keeps every row, permission and queued job."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("agents", "0002_deploytask"), ("deploys", None)]
AFTER = [("agents", "0003_deploytask_moved_to_deploys"), ("deploys", "0001_initial")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor.migrate(targets).apps  # the state of every applied migration


@pytest.fixture
def migrator(transactional_db):
    """Run migrations back and forth; leave the schema at the latest state afterwards."""
    yield migrate
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())


def test_deploy_rows_permissions_and_queued_jobs_survive_the_move(migrator):
    old = migrator(BEFORE)
    Agent = old.get_model("agents", "Agent")
    OldTask = old.get_model("agents", "DeployTask")
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    User = old.get_model("auth", "User")
    DBTaskResult = old.get_model("django_tasks_database", "DBTaskResult")

    agent = Agent.objects.create(name="research-bot", display_name="Research Bot")
    task = OldTask.objects.create(agent=agent, state="failed", attempts=2, error="exit 2",
                                  log_tail="line")
    OldTask.objects.create(agent=agent, state="queued")
    old_type, _ = ContentType.objects.get_or_create(app_label="agents", model="deploytask")
    perm, _ = Permission.objects.get_or_create(content_type=old_type,
                                               codename="change_deploytask",
                                               defaults={"name": "Can change deploy task"})
    user = User.objects.create(username="deployer")
    user.user_permissions.add(perm)
    job = DBTaskResult.objects.create(task_path="agents.tasks.deploy_agent",
                                      args_kwargs={"args": [], "kwargs": {}},
                                      queue_name="default", backend_name="default",
                                      run_after=timezone.now())

    new = migrator(AFTER)
    NewTask = new.get_model("deploys", "DeployTask")
    assert NewTask._meta.db_table == "deploys_deploytask"
    moved = NewTask.objects.get(pk=task.pk)
    assert (moved.agent_id, moved.state, moved.attempts, moved.error, moved.log_tail) == (
        agent.pk, "failed", 2, "exit 2", "line")
    assert NewTask.objects.count() == 2
    new_type = new.get_model("contenttypes", "ContentType").objects.get(pk=old_type.pk)
    assert (new_type.app_label, new_type.model) == ("deploys", "deploytask")
    assert new.get_model("auth", "User").objects.get(pk=user.pk).user_permissions.filter(
        content_type__app_label="deploys", codename="change_deploytask").exists()
    assert new.get_model("django_tasks_database", "DBTaskResult").objects.get(
        pk=job.pk).task_path == "deploys.tasks.deploy_agent"


def test_the_one_active_deploy_constraint_still_holds_after_the_move(migrator):
    from django.db import IntegrityError, transaction

    migrator(BEFORE)
    # To the latest state: on MariaDB the constraint only exists since the
    # generated column of deploys 0002 (the conditional one was never created).
    new = migrator(MigrationExecutor(connection).loader.graph.leaf_nodes())
    Agent = new.get_model("agents", "Agent")
    Task = new.get_model("deploys", "DeployTask")
    agent = Agent.objects.create(name="solo", display_name="Solo")
    Task.objects.create(agent=agent, state="running")
    with pytest.raises(IntegrityError), transaction.atomic():
        Task.objects.create(agent=agent, state="queued")


def test_the_move_can_be_reversed(migrator):
    new = migrator(AFTER)
    Agent = new.get_model("agents", "Agent")
    agent = Agent.objects.create(name="back", display_name="Back")
    task = new.get_model("deploys", "DeployTask").objects.create(agent=agent, state="failed")
    old = migrator(BEFORE)
    assert old.get_model("agents", "DeployTask").objects.get(pk=task.pk).state == "failed"
