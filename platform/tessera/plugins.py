"""The extension points of Tessera, and the loading of plugins from entry points.

Every pluggable thing (field types, condition operators, actions, channels, triggers) lives
in one typed registry keyed by a slug. The engine registers its built-ins through the very
same calls a third-party plugin makes; third parties arrive through the ``tessera.plugins``
entry-point group, so ``pip install tessera-plugin-foo`` is all it takes::

    # pyproject.toml of a plugin
    [project.entry-points."tessera.plugins"]
    foo = "tessera_foo:register"

    # tessera_foo/__init__.py
    def register(registries):
        registries.field_types.register(ColourField())

Registries are filled once at start-up (``TesseraPluginsConfig.ready``) and read after that;
tests may add an item for the length of a ``with registry.register_temporarily(item):``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Generic, Protocol, TypeVar

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tessera.plugins"


class Typed(Protocol):
    """Anything a registry holds: it names itself with a slug."""

    type: str


T = TypeVar("T", bound=Typed)


class UnknownType(LookupError):
    """A definition names a type that no installed plugin provides."""

    def __init__(self, registry: str, key: str, known: list[str]):
        self.registry, self.key, self.known = registry, key, known
        super().__init__(f"unknown {registry} {key!r}; known: {', '.join(sorted(known))}")


class Registry(Generic[T]):
    """Items of one extension point, keyed by their ``type`` slug."""

    def __init__(self, name: str):
        self.name = name
        self._items: dict[str, T] = {}

    def register(self, item: T) -> T:
        key = item.type
        if key in self._items and self._items[key] is not item:
            raise ValueError(f"{self.name} {key!r} is registered twice")
        self._items[key] = item
        return item

    def unregister(self, key: str) -> None:
        self._items.pop(key, None)

    def get(self, key: str) -> T:
        try:
            return self._items[key]
        except KeyError:
            raise UnknownType(self.name, key, list(self._items)) from None

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def keys(self) -> list[str]:
        return sorted(self._items)

    @contextmanager
    def register_temporarily(self, item: T) -> Iterator[T]:
        """Register ``item`` inside a ``with`` block only: for tests."""
        previous = self._items.get(item.type)
        self._items[item.type] = item
        try:
            yield item
        finally:
            if previous is None:
                self._items.pop(item.type, None)
            else:
                self._items[item.type] = previous


@dataclass
class Registries:
    """All extension points, handed to every plugin's ``register`` function."""

    field_types: Registry = field(default_factory=lambda: Registry("field type"))
    operators: Registry = field(default_factory=lambda: Registry("operator"))
    actions: Registry = field(default_factory=lambda: Registry("action"))
    channels: Registry = field(default_factory=lambda: Registry("channel"))
    triggers: Registry = field(default_factory=lambda: Registry("trigger"))
    node_types: Registry = field(default_factory=lambda: Registry("node type"))
    loaded_plugins: dict[str, str] = field(default_factory=dict)


registries = Registries()
field_types = registries.field_types
operators = registries.operators
actions = registries.actions
channels = registries.channels
triggers = registries.triggers
node_types = registries.node_types

PluginRegister = Callable[[Registries], None]


def load_plugins(builtins: list[PluginRegister]) -> None:
    """Fill the registries: the engine's built-ins first, then every installed plugin."""
    if registries.loaded_plugins:
        return
    for register in builtins:
        register(registries)
        registries.loaded_plugins[register.__module__] = "builtin"
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            register = ep.load()
            register(registries)
        except Exception:
            # A broken plugin must not take the platform down; it is logged and left out.
            logger.exception("plugin %s (%s) failed to load", ep.name, ep.value)
            continue
        dist = ep.dist.name if ep.dist else "?"
        registries.loaded_plugins[ep.name] = dist
