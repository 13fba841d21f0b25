"""Which column goes into which field: a suggestion from names and labels, then checked.

A column matches a field when, compared without case, width, spaces or punctuation
(``squash``), its name is the field's key or one of its labels (``x-label``, zh and en).
Failing that, a column named like a field *type* ("Email", "手机", "电话") goes to the one
field of that type, when the object has exactly one. Each field takes one column at most.
"""

from __future__ import annotations

from typing import Any

from tessera.definitions.errors import FieldError
from tessera.plugins import field_types

from .convert import squash

ID = "id"  # a column of record ids: rows update those records

# Words people put over a column of a given field type, beside the type's own labels.
TYPE_WORDS: dict[str, list[str]] = {
    "phone": ["phone", "mobile", "mobile phone", "cell", "tel", "telephone", "手机", "手机号",
              "手机号码", "电话", "电话号码", "联系电话", "联系方式"],
    "email": ["email", "e-mail", "mail", "email address", "邮箱", "电子邮箱", "邮件", "电子邮件"],
    "date": ["date", "日期"],
    "datetime": ["time", "date time", "时间"],
}  # fmt: skip


def _names_of(key: str, prop: dict[str, Any]) -> list[str]:
    names = [key, key.replace("_", " ")]
    label = prop.get("x-label")
    if isinstance(label, dict):
        names += [v for v in label.values() if isinstance(v, str)]
    elif isinstance(label, str):
        names.append(label)
    return [squash(n) for n in names if squash(n)]


def suggest_mapping(header: list[str], body: dict[str, Any]) -> dict[str, str]:
    """{column: field} for the columns that look like a field; the rest are left out."""
    properties = body.get("properties", {})
    by_name: dict[str, str] = {}
    for key, prop in properties.items():
        for name in _names_of(key, prop):
            by_name.setdefault(name, key)
    by_type: dict[str, str] = {}
    types: dict[str, list[str]] = {}
    for key, prop in properties.items():
        types.setdefault(prop.get("x-type", ""), []).append(key)
    for kind, keys in types.items():
        if len(keys) != 1:
            continue
        words = list(TYPE_WORDS.get(kind, []))
        if kind in field_types:
            words += list(field_types.get(kind).label.values())
        for word in words:
            by_type.setdefault(squash(word), keys[0])
    out: dict[str, str] = {}
    taken: set[str] = set()
    for column in header:  # exact names and labels first, then type words
        target = by_name.get(squash(column))
        if column and target and target not in taken:
            out[column], _ = target, taken.add(target)
    for column in header:
        if column in out or not column:
            continue
        target = by_type.get(squash(column))
        if target and target not in taken:
            out[column], _ = target, taken.add(target)
    return {c: out[c] for c in header if c in out}


def check_mapping(
    mapping: Any, header: list[str], body: dict[str, Any], key_fields: Any = ()
) -> list[FieldError]:
    """Problems with a person's mapping and upsert key, by JSON path."""
    errors: list[FieldError] = []
    properties = body.get("properties", {})
    if not isinstance(mapping, dict) or not mapping:
        return [FieldError("$.mapping", "required", "map at least one column to a field")]
    seen: dict[str, str] = {}
    for column, target in mapping.items():
        path = f"$.mapping[{column!r}]"
        if column not in header:
            errors.append(FieldError(path, "unknown_column", f"the file has no column {column!r}"))
        if target == ID:  # the record's own id: only as the upsert key, alone
            if list(key_fields or []) != [ID]:
                errors.append(
                    FieldError(path, "id_not_key", "a column of ids needs --key id (alone)")
                )
            seen[ID] = column
            continue
        if not isinstance(target, str) or target not in properties:
            errors.append(FieldError(path, "unknown_field", f"no field {target!r} in the object"))
            continue
        if target in seen:
            errors.append(
                FieldError(path, "twice", f"{target!r} is mapped from {seen[target]!r} already")
            )
        seen[target] = column
    if not isinstance(key_fields, (list, tuple)) or not all(isinstance(k, str) for k in key_fields):
        return [*errors, FieldError("$.key", "invalid", "the upsert key is a list of fields")]
    if list(key_fields) == [ID]:
        if ID not in seen:
            errors.append(FieldError("$.key[0]", "unmapped", "no column is mapped to id"))
        return errors
    for i, name in enumerate(key_fields):
        path = f"$.key[{i}]"
        if name not in properties:
            errors.append(FieldError(path, "unknown_field", f"no field {name!r} in the object"))
        elif name not in seen:
            errors.append(FieldError(path, "unmapped", f"no column is mapped to {name!r}"))
    if key_fields and not is_unique_key(list(key_fields), body):
        errors.append(
            FieldError(
                "$.key",
                "not_unique",
                f"{', '.join(key_fields)} is not a unique field or x-unique-together group; "
                "an upsert key must be, or two records could match one row",
            )
        )
    return errors


def is_unique_key(fields: list[str], body: dict[str, Any]) -> bool:
    properties = body.get("properties", {})
    if len(fields) == 1 and properties.get(fields[0], {}).get("x-unique"):
        return True
    return any(sorted(g) == sorted(fields) for g in body.get("x-unique-together", []))
