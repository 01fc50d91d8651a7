"""Take over DeployTask from the agents app, with its table, rows and permissions.

agents/migrations/0003 renamed the table `agents_deploytask` to
`deploys_deploytask`; this migration only adds the model to this app's state.
The content type moves too, so that permissions granted on deploy tasks
(`view_deploytask`, `change_deploytask`, ...) keep their holders, and jobs
queued before the move (django_tasks_db rows naming `agents.tasks`) still run.
"""

import django.db.models.deletion
from django.db import migrations, models

OLD_TASK_PATH = 'agents.tasks.deploy_agent'
NEW_TASK_PATH = 'deploys.tasks.deploy_agent'


def _relabel(apps, *, old_app, new_app, old_path, new_path):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    # A deploys.deploytask content type exists only if post_migrate ran in between.
    if not ContentType.objects.filter(app_label=new_app, model='deploytask').exists():
        ContentType.objects.filter(app_label=old_app, model='deploytask').update(
            app_label=new_app)
    DBTaskResult = apps.get_model('django_tasks_database', 'DBTaskResult')
    DBTaskResult.objects.filter(task_path=old_path).update(task_path=new_path)


def forwards(apps, schema_editor):
    _relabel(apps, old_app='agents', new_app='deploys',
             old_path=OLD_TASK_PATH, new_path=NEW_TASK_PATH)


def backwards(apps, schema_editor):
    _relabel(apps, old_app='deploys', new_app='agents',
             old_path=NEW_TASK_PATH, new_path=OLD_TASK_PATH)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('agents', '0003_deploytask_moved_to_deploys'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('django_tasks_database', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='DeployTask',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('failed', 'Failed'), ('skipped', 'Skipped')], db_index=True, default='queued', max_length=16)),
                        ('backend', models.CharField(blank=True, default='', help_text='The deploy backend that ran (or was to run) this task; empty: none configured.', max_length=32)),
                        ('attempts', models.PositiveIntegerField(default=0, help_text='How many times a job has claimed this task.')),
                        ('result_id', models.CharField(blank=True, default='', help_text='The id of the Tasks API result (django_tasks_db) of the current attempt.', max_length=64, verbose_name='task result id')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('queued_at', models.DateTimeField(blank=True, help_text='When the current attempt was queued.', null=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('heartbeat_at', models.DateTimeField(blank=True, help_text="The running job's last sign of life.", null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('log_tail', models.TextField(blank=True, default='')),
                        ('error', models.TextField(blank=True, default='', help_text='Why the deploy failed or was skipped.')),
                        ('agent', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deploy_tasks', to='agents.agent')),
                    ],
                    options={
                        'ordering': ['-created_at', '-id'],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('state__in', ['queued', 'running'])), fields=('agent',), name='uniq_agent_active_deploy')],
                    },
                ),
            ],
        ),
        migrations.RunPython(forwards, backwards),
    ]
