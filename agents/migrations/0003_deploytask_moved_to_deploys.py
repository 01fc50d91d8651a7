"""DeployTask moved to the deploys app: rename its table, drop it from this app's state.

The rows stay; deploys/migrations/0001_initial.py takes the model over.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('agents', '0002_deploytask'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name='DeployTask', table='deploys_deploytask'),
            ],
            state_operations=[
                migrations.DeleteModel(name='DeployTask'),
            ],
        ),
    ]
