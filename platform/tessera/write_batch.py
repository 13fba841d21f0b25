"""Row writes that need no answer, sent to the database together in one round trip.

A transition writes five rows (the ticket, its history line, the run's step, its cancelled
timers, the run) and reads nothing back from any of them. Through the ORM that was five
query compilations and five round trips, most of a transition's time. Inside ``batch()``
those writes wait in a list and leave together: on PostgreSQL as one multi-statement
execute (psycopg binds parameters client-side, Django's default), elsewhere one by one but
without the ORM's compilation.

Nothing can read a stale row: any other statement sent on the connection inside the block
first sends what waits (a connection execute wrapper sees every statement), and the block
sends the rest when it ends, before its caller's transaction commits. An error in a waiting
write surfaces at that point, inside the same transaction, which then rolls back whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any

from django.db import connections, models

Statement = tuple[str, list[Any]]

# The statements waiting in the innermost open batch() (None: no batch, write at once).
_waiting: ContextVar[list[Statement] | None] = ContextVar("tessera_write_batch", default=None)


@contextmanager
def batch(using: str = "default") -> Iterator[None]:
    """Hold row writes made with ``insert``/``update``/``execute`` until the block ends.

    Open it inside the transaction whose writes it holds (nesting joins the outer batch).
    """
    if _waiting.get() is not None:
        yield
        return
    waiting: list[Statement] = []
    token = _waiting.set(waiting)
    connection = connections[using]

    def send_waiting_first(execute, sql, params, many, context):
        if waiting:
            flush(using)
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(send_waiting_first):
            yield
            flush(using)
    finally:
        _waiting.reset(token)


def holding() -> bool:
    """Whether writes made now wait for a batch (their row counts are then unknown)."""
    return _waiting.get() is not None


def flush(using: str = "default") -> None:
    """Send the waiting writes now (one round trip where the database allows)."""
    waiting = _waiting.get()
    if not waiting:
        return
    statements = list(waiting)
    waiting.clear()
    connection = connections[using]
    with connection.cursor() as cursor:
        if len(statements) > 1 and _accepts_several(connection):
            cursor.execute(
                "; ".join(sql for sql, _ in statements),
                [param for _, params in statements for param in params],
            )
        else:
            for sql, params in statements:
                cursor.execute(sql, params)


def _accepts_several(connection) -> bool:
    """PostgreSQL with client-side binding (Django's default) runs ``a; b; c`` in one call."""
    return connection.vendor == "postgresql" and not connection.settings_dict.get(
        "OPTIONS", {}
    ).get("server_side_binding")


def execute(sql: str, params: Sequence[Any] = (), using: str = "default") -> int | None:
    """Run a write; inside ``batch()`` it waits, and the affected row count is not known."""
    waiting = _waiting.get()
    if waiting is not None:
        waiting.append((sql, list(params)))
        return None
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


@cache
def _insert_sql(model: type[models.Model], vendor: str) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    connection = next(c for c in connections.all() if c.vendor == vendor)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({values})", fields


@cache
def _update_sql(
    model: type[models.Model], names: tuple[str, ...] | None, vendor: str
) -> tuple[str, tuple[models.Field, ...]]:
    meta = model._meta
    if names is None:
        fields = tuple(f for f in meta.concrete_fields if not f.primary_key)
    else:
        fields = tuple(meta.get_field(name) for name in names)
    connection = next(c for c in connections.all() if c.vendor == vendor)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    return (
        f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s",
        fields,
    )


def insert(obj: models.Model, using: str = "default") -> None:
    """INSERT a new row for ``obj`` (auto fields filled as ``save`` would; no signals).

    Inside ``batch()`` the row waits and ``obj.pk`` stays unset: only for rows nobody
    reads back by their id in the same step (history lines, steps).
    """
    connection = connections[using]
    sql, fields = _insert_sql(type(obj), connection.vendor)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    if _waiting.get() is not None:
        execute(sql, params, using)
        return
    with connection.cursor() as cursor:
        cursor.execute(sql + _returning_pk(obj, connection), params)
        obj.pk = cursor.fetchone()[0] if _returning_pk(obj, connection) else cursor.lastrowid
    obj._state.adding = False
    obj._state.db = using


def _returning_pk(obj: models.Model, connection) -> str:
    if connection.features.can_return_columns_from_insert:
        return f" RETURNING {connection.ops.quote_name(obj._meta.pk.column)}"
    return ""


def update(obj: models.Model, fields: Sequence[str] | None = None, using: str = "default") -> None:
    """UPDATE ``obj``'s row: ``fields``, or every column as ``save()`` does (no signals)."""
    connection = connections[using]
    sql, chosen = _update_sql(type(obj), tuple(fields) if fields else None, connection.vendor)
    params = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in chosen]
    execute(sql, [*params, obj.pk], using)
