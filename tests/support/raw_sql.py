"""Write rows with hand-written SQL, past the ORM, to test what the database itself refuses."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model


def raw_insert(model: type[Model], **columns: Any) -> None:
    """INSERT one row of `model` with these column values (Python values, adapted here)."""
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(name) for name in columns)
    fields = {f.column: f for f in model._meta.concrete_fields}
    values = [fields[name].get_db_prep_value(value, connection) for name, value in columns.items()]
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", values)


def raw_update(model: type[Model], pk: int, **columns: Any) -> None:
    """UPDATE the row `pk` of `model` with these column values."""
    table = connection.ops.quote_name(model._meta.db_table)
    fields = {f.column: f for f in model._meta.concrete_fields}
    sets = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in columns)
    values = [fields[name].get_db_prep_value(value, connection) for name, value in columns.items()]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {sets} WHERE id = %s", [*values, pk])
