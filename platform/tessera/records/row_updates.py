"""Writing some columns of many rows at once, each row its own ``UPDATE … WHERE pk``.

Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` expression per record and
field and resolves each in Python: 2.3 ms a record measured (a publish migrating 10,000
customers took 23 s in it). One parameterised ``UPDATE`` sent with ``executemany`` (psycopg
pipelines the statements) gives the same rows for a fraction of that. Records use it, and
so do the layers above them for their own models (campaign entries, say).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.db.models import Model


def update_rows(instances: Sequence[Model], fields: Sequence[str]) -> None:
    """Store ``fields`` (model field names) of ``instances`` (of one model) as they are.

    Like ``bulk_update``: no ``save()``, no signals, ``auto_now`` fields written as set.
    """
    if not instances:
        return
    meta = type(instances[0])._meta
    chosen = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in chosen)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    rows = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in chosen]
        + [row.pk]
        for row in instances
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
