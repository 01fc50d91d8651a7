"""Compare Idempotency-Keys and principals byte for byte on MariaDB/MySQL.

MariaDB's default collations ignore case (and trailing spaces): `abc` and
`ABC` would be one key there, and one request would replay another's
response. PostgreSQL and SQLite compare bytes already. The column types are
Django's own for these fields; only the collation changes.
"""

from django.db import migrations

COLUMNS = {"key": 255, "principal": 64}


def binary_collation(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    qn = schema_editor.quote_name
    changes = ", ".join(
        f"MODIFY {qn(name)} varchar({length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
        for name, length in COLUMNS.items()
    )
    schema_editor.execute(f"ALTER TABLE {qn('idempotency_record')} {changes}")


class Migration(migrations.Migration):

    # MariaDB cannot roll DDL back, and Django refuses DDL in a transaction there.
    atomic = False

    dependencies = [("idempotency", "0001_initial")]

    operations = [migrations.RunPython(binary_collation, migrations.RunPython.noop, elidable=False)]
