"""Create the database cache's table with `migrate`, where the settings use one.

The lockout counts failed logins in the default cache; on a deployment
without Redis that is the database cache, whose table Django makes only with
`createcachetable`. This runs that command for the database being migrated:
it makes the table of every configured database cache that is missing one
(with `createcachetable`'s own schema), and does nothing for other caches or
for a table that exists. A cache switched to the database later needs
`createcachetable` (the `taos.E030` check says so).
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = []
    operations = [
        migrations.RunPython(create_cache_tables, migrations.RunPython.noop, elidable=False),
    ]
