"""JSON paths as the store writes them (``$.properties['x y'][0].op``), read back into parts."""

from __future__ import annotations

import ast
import re

TOKEN = re.compile(
    r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")\]"
)


def parts(path: str) -> list[str | int]:
    """``$.properties['x-type'][2]`` → ``["properties", "x-type", 2]``, to the first odd part."""
    out: list[str | int] = []
    rest = path[1:] if path.startswith("$") else path
    position = 0
    while position < len(rest):
        match = TOKEN.match(rest, position)
        if match is None:
            break
        name, index, quoted = match.groups()
        if name is not None:
            out.append(name)
        elif index is not None:
            out.append(int(index))
        else:
            out.append(ast.literal_eval(quoted))
        position = match.end()
    return out
