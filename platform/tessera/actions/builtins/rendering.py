"""Templates that authors write into actions (an e-mail's subject and body), rendered safely.

A business user writes ``Hello {{ record.name }}``; the template sees the subject record's
data and nothing else. The engine is Django's, stripped to the tags and filters of
``template_library`` (no ``load``, ``include``, ``debug``, ``url``…), with no loaders, no
context processors and no settings in its context. Django already refuses names that start
with an underscore; the data is frozen (mappings and tuples), so no method reached through
a variable can change anything. HTML is autoescaped and cannot be switched off.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Template

LIBRARY = "tessera.actions.builtins.template_library"


class _SandboxEngine(Engine):
    """An Engine whose builtins are only the ones given (Django always adds its defaults)."""

    default_builtins: list[str] = []


@functools.cache
def engine(html: bool) -> Engine:
    return _SandboxEngine(
        loaders=[],
        libraries={},
        builtins=[LIBRARY],
        autoescape=html,
        string_if_invalid="",
        debug=False,
    )


def compile_template(source: str, *, html: bool = False) -> Template:
    """The compiled template; TemplateSyntaxError names the first problem."""
    return engine(html).from_string(source)


def template_error(source: str, *, html: bool = False) -> str | None:
    """Why ``source`` does not compile, or None."""
    try:
        compile_template(source, html=html)
    except TemplateSyntaxError as exc:
        return str(exc)
    return None


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def template_context(data: dict[str, Any] | None, record_id: int | None) -> dict[str, Any]:
    """What a template can see: ``record`` (its fields and ``id``), frozen."""
    record = {**(data or {}), "id": record_id} if record_id is not None else dict(data or {})
    return {"record": _frozen(record)}


MAX_OUTPUT = 1024 * 1024  # characters: a mail body larger than this is a template's mistake


class TemplateTooLarge(ValueError):
    """A template rendered more than MAX_OUTPUT characters (loops over large lists)."""


def render(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    text = compile_template(source, html=html).render(Context(context, autoescape=html))
    if len(text) > MAX_OUTPUT:
        raise TemplateTooLarge(
            f"the template rendered {len(text)} characters; at most {MAX_OUTPUT}"
        )
    return text
