"""Writing some columns of many records at once, each row its own ``UPDATE … WHERE id``.

Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` expression per record and
field and resolves each in Python: 2.3 ms a record measured (a publish migrating 10,000
customers took 23 s in it). One parameterised ``UPDATE`` sent with ``executemany`` (psycopg
pipelines the statements) gives the same rows for a fraction of that.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from .models import Record


def update_records(records: Sequence[Record], fields: Sequence[str]) -> None:
    """Store ``fields`` (model field names) of ``records`` as they are on the instances.

    Like ``bulk_update``: no ``save()``, no signals, ``auto_now`` fields written as set.
    """
    if not records:
        return
    chosen = [Record._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in chosen)
    sql = f"UPDATE {quote(Record._meta.db_table)} SET {assignments} WHERE {quote('id')} = %s"
    rows = [
        [field.get_db_prep_save(getattr(record, field.attname), connection) for field in chosen]
        + [record.pk]
        for record in records
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
