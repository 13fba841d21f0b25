"""SQL expressions of stored values, for one table alias, on PostgreSQL and SQLite.

These are the expressions ``records.indexes`` builds its indexes on; the planner matches
them, so a condition on an ``x-index`` field uses the index.
"""

from __future__ import annotations

from tessera.definitions.fields.base import SqlType
from tessera.records.indexes import field_expression


def value_expr(alias: str, field: str, sql_type: SqlType, vendor: str) -> str:
    """A scalar field of the record at ``alias`` (text, numeric or boolean)."""
    return field_expression(field, sql_type, vendor).replace("data", f"{alias}.data", 1)


def json_expr(alias: str, field: str, vendor: str) -> str:
    """A JSON value (a list) of the record at ``alias``, for the JSON table functions."""
    if vendor == "postgresql":
        return f"{alias}.data -> '{field}'"
    return f"{alias}.data, '$.{field}'"


def list_elements(alias: str, field: str, vendor: str) -> str:
    """A table of the list's elements with one column ``v``."""
    if vendor == "postgresql":
        return f"jsonb_array_elements_text({json_expr(alias, field, vendor)}) AS e(v)"
    return f"(SELECT value AS v FROM json_each({json_expr(alias, field, vendor)}))"


def list_length(alias: str, field: str, vendor: str) -> str:
    if vendor == "postgresql":
        return f"COALESCE(jsonb_array_length({json_expr(alias, field, vendor)}), 0)"
    return f"COALESCE(json_array_length({json_expr(alias, field, vendor)}), 0)"
