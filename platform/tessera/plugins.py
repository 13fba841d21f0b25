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

import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
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
        self._origins: dict[str, str] = {}

    def register(self, item: T) -> T:
        key = item.type
        if key in self._items and self._items[key] is not item:
            raise ValueError(f"{self.name} {key!r} is registered twice")
        self._items[key] = item
        return item

    def unregister(self, key: str) -> None:
        self._items.pop(key, None)
        self._origins.pop(key, None)

    def origin(self, key: str) -> str | None:
        """Who registered ``key``: ``"builtin"``, a plugin's distribution name, or None."""
        return self._origins.get(key)

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

    def all(self) -> list[Registry]:
        return [value for value in vars(self).values() if isinstance(value, Registry)]


registries = Registries()
field_types = registries.field_types
operators = registries.operators
actions = registries.actions
channels = registries.channels
triggers = registries.triggers
node_types = registries.node_types

PluginRegister = Callable[[Registries], None]


def _install(register: PluginRegister, origin: str, target: Registries) -> None:
    """Run one ``register`` function; on failure take back whatever it had registered.

    Every item it adds is marked with ``origin``, so the registry can say where it came from.
    """
    before = {id(registry): set(registry.keys()) for registry in target.all()}
    try:
        register(target)
    except BaseException:
        for registry in target.all():
            for key in set(registry.keys()) - before[id(registry)]:
                registry.unregister(key)
        raise
    for registry in target.all():
        for key in set(registry.keys()) - before[id(registry)]:
            registry._origins[key] = origin


def _load_entry_point(ep: EntryPoint, target: Registries) -> bool:
    """Load one plugin; a broken one is logged and left out, with nothing half-registered."""
    dist = ep.dist.name if ep.dist else "?"
    try:
        _install(ep.load(), dist, target)
    except Exception:
        # A broken plugin must not take the platform down.
        logger.exception("plugin %s (%s) failed to load and is left out", ep.name, ep.value)
        return False
    target.loaded_plugins[ep.name] = dist
    return True


def load_plugins(builtins: list[PluginRegister], target: Registries | None = None) -> None:
    """Fill the registries: the engine's built-ins first, then every installed plugin.

    ``target`` defaults to the process's registries, which are filled once.
    """
    target = registries if target is None else target
    if target.loaded_plugins:
        return
    for register in builtins:
        _install(register, "builtin", target)
        target.loaded_plugins[register.__module__] = "builtin"
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _load_entry_point(ep, target)


def load_plugin(name: str, target: Registries | None = None) -> bool:
    """Load the installed plugin whose entry point is ``name``, unless it is loaded already.

    For a process that was running when the plugin was installed (start-up loads the
    others). Returns whether it is loaded now; LookupError if no such entry point exists.
    """
    target = registries if target is None else target
    if name in target.loaded_plugins:
        return True
    importlib.invalidate_caches()  # a package installed after start-up becomes importable
    found = list(entry_points(group=ENTRY_POINT_GROUP, name=name))
    if not found:
        raise LookupError(f"no installed package has a {ENTRY_POINT_GROUP!r} entry point {name!r}")
    return _load_entry_point(found[0], target)
