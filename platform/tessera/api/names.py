"""GraphQL names for what business users name: object keys, fields and enum options.

Keys may hold dashes and start with a digit, options may be any text; GraphQL names are
``[_A-Za-z][_0-9A-Za-z]*``. The mapping is deterministic, so a schema built in one process
names things exactly as one built in another.
"""

from __future__ import annotations

import re

NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
# GraphQL's literals, and what Python's Enum refuses as a member name ("mro", "_sunder_")
RESERVED_VALUES = {"true", "false", "null", "mro"}
# names a record type carries itself; a data field of the same name gets a trailing "_"
SYSTEM_FIELDS = {"id", "version", "createdAt", "updatedAt", "timeline"}


def pascal(key: str) -> str:
    """``after-sales_ticket`` → ``AfterSalesTicket``; a leading digit gets an ``O`` prefix."""
    parts = [p for p in re.split(r"[-_]", key) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "Object"
    return name if NAME.fullmatch(name) else "O" + name


def camel(key: str) -> str:
    name = pascal(key)
    name = name[:1].lower() + name[1:]
    return name if NAME.fullmatch(name) else "o" + name


def field_name(prop_name: str) -> str:
    """A data field keeps its definition name (``total_spent``), as conditions write it."""
    return prop_name + "_" if prop_name in SYSTEM_FIELDS else prop_name


def enum_values(options: list[str]) -> dict[str, str]:
    """GraphQL enum value name → stored option; options that are not names become ``V<i>``."""
    out: dict[str, str] = {}
    for i, option in enumerate(options):
        usable = NAME.fullmatch(option) and not option.startswith("_")
        name = option if usable and option not in RESERVED_VALUES else f"V{i}"
        while name in out:
            name = f"{name}_{i}"
        out[name] = option
    return out
