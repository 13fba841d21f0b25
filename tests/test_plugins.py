"""Plugins: the registries, loading from entry points, and a real package installed with pip.

``tests/plugin_pkg`` is an ordinary plugin distribution (``tessera-test-plugin``). The
``colour_plugin`` fixture installs it into the running environment when it is missing or
out of date, the way a user would, then has this process load it; a fresh interpreter
checks that start-up discovery finds it on its own.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import logging
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from tessera import plugins
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.fields import FieldType
from tessera.definitions.fields import builtins as builtin_fields
from tessera.plugins import ENTRY_POINT_GROUP, Registries, Registry, UnknownType

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = ROOT / "tests" / "plugin_pkg"
PLUGIN_DIST = "tessera-test-plugin"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- the registry ------------------------------------------------------------------------------


class Thing:
    def __init__(self, type: str):
        self.type = type


def test_register_get_and_list():
    registry: Registry = Registry("thing")
    a, b = registry.register(Thing("b")), registry.register(Thing("a"))
    assert registry.get("b") is a and registry.get("a") is b
    assert "a" in registry and "c" not in registry
    assert registry.keys() == ["a", "b"]
    assert {t.type for t in registry} == {"a", "b"}


def test_a_slug_is_registered_once():
    registry: Registry = Registry("thing")
    first = registry.register(Thing("a"))
    registry.register(first)  # the same item again is harmless
    with pytest.raises(ValueError, match="thing 'a' is registered twice"):
        registry.register(Thing("a"))
    assert registry.get("a") is first


def test_unknown_type_names_the_registry_and_what_is_known():
    registry: Registry = Registry("field type")
    registry.register(Thing("string"))
    registry.register(Thing("email"))
    with pytest.raises(UnknownType) as missing:
        registry.get("colour")
    assert str(missing.value) == "unknown field type 'colour'; known: email, string"
    assert (missing.value.registry, missing.value.key) == ("field type", "colour")
    assert isinstance(missing.value, LookupError)


def test_register_temporarily_adds_then_removes():
    registry: Registry = Registry("thing")
    with registry.register_temporarily(Thing("a")) as item:
        assert registry.get("a") is item
    assert "a" not in registry


def test_register_temporarily_shadows_then_restores():
    registry: Registry = Registry("thing")
    original = registry.register(Thing("a"))
    with pytest.raises(RuntimeError), registry.register_temporarily(Thing("a")) as stand_in:
        assert registry.get("a") is stand_in
        raise RuntimeError("the block fails")
    assert registry.get("a") is original


def test_unregister_forgets_the_origin_too():
    target = Registries()
    plugins.load_plugins([builtin_fields.register], target)
    assert target.field_types.origin("email") == "builtin"
    target.field_types.unregister("email")
    assert "email" not in target.field_types and target.field_types.origin("email") is None


# --- loading from entry points --------------------------------------------------------------


class Stamp(FieldType):
    type = "stamp"

    def schema(self, prop):
        return {"type": "string"}


class Half(FieldType):
    type = "half"

    def schema(self, prop):
        return {"type": "string"}


def register_good(registries: Registries) -> None:
    registries.field_types.register(Stamp())


def register_then_fail(registries: Registries) -> None:
    registries.field_types.register(Half())
    raise RuntimeError("boom after registering one item")


class NotTheBuiltinString(Stamp):
    type = "string"


def register_a_taken_slug(registries: Registries) -> None:
    registries.field_types.register(Half())
    registries.field_types.register(NotTheBuiltinString())


def fake_entry_points(*specs: tuple[str, str]):
    eps = [EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in specs]

    def select(*, group: str, name: str | None = None):
        return [ep for ep in eps if ep.group == group and (name is None or ep.name == name)]

    return select


def test_a_broken_plugin_is_logged_and_skipped_with_nothing_half_registered(monkeypatch, caplog):
    monkeypatch.setattr(
        plugins,
        "entry_points",
        fake_entry_points(
            ("missing", "tessera_no_such_plugin:register"),
            ("fails", "tests.test_plugins:register_then_fail"),
            ("clashes", "tests.test_plugins:register_a_taken_slug"),
            ("good", "tests.test_plugins:register_good"),
        ),
    )
    target = Registries()

    with caplog.at_level(logging.ERROR, logger="tessera.plugins"):
        plugins.load_plugins([builtin_fields.register], target)

    assert "good" in target.loaded_plugins and target.field_types.get("stamp")
    for name in ("missing", "fails", "clashes"):
        assert name not in target.loaded_plugins
        assert any(f"plugin {name} " in r.getMessage() for r in caplog.records), name
    assert "boom after registering one item" in caplog.text
    assert "registered twice" in caplog.text
    # what the failing plugins registered before failing was taken back
    assert "half" not in target.field_types
    # the built-in that one of them tried to take is untouched
    assert target.field_types.get("string") is not None
    assert target.field_types.origin("string") == "builtin"


def test_load_plugin_by_name(monkeypatch):
    monkeypatch.setattr(
        plugins, "entry_points", fake_entry_points(("good", "tests.test_plugins:register_good"))
    )
    target = Registries()
    plugins.load_plugins([builtin_fields.register], target)
    target.field_types.unregister("stamp")
    del target.loaded_plugins["good"]

    assert plugins.load_plugin("good", target) is True
    assert plugins.load_plugin("good", target) is True  # already loaded: nothing happens
    assert target.field_types.get("stamp")
    with pytest.raises(LookupError, match=r"no installed package .* 'nothing'"):
        plugins.load_plugin("nothing", target)


# --- a real package, installed with pip --------------------------------------------------------


def _stale() -> bool:
    """Whether the installed copy of the test plugin is missing or differs from its source."""
    try:
        dist = importlib.metadata.distribution(PLUGIN_DIST)
    except importlib.metadata.PackageNotFoundError:
        return True
    for source in (PLUGIN_DIR / "tessera_test_plugin").glob("*.py"):
        installed = Path(str(dist.locate_file(f"tessera_test_plugin/{source.name}")))
        if not installed.is_file() or installed.read_bytes() != source.read_bytes():
            return True
    return dist.entry_points.select(group=ENTRY_POINT_GROUP, name="colour") == ()


def install_test_plugin() -> None:
    """``pip install`` the test plugin into this interpreter's environment, if needed.

    Offline first (``--no-build-isolation`` uses the build backend already installed, when
    it can build wheels); else pip fetches setuptools for an isolated build, as any user's
    install would.
    """
    if not _stale():
        return
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--force-reinstall",
        "--quiet",
        "--disable-pip-version-check",
        str(PLUGIN_DIR),
    ]
    done = subprocess.run([*command, "--no-build-isolation"], capture_output=True, text=True)
    if done.returncode != 0:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    importlib.invalidate_caches()
    assert not _stale()


@pytest.fixture(scope="session")
def installed_test_plugin() -> str:
    install_test_plugin()
    return importlib.metadata.distribution(PLUGIN_DIST).metadata["Name"]


@pytest.fixture
def colour_plugin(installed_test_plugin):
    """The test plugin, loaded into this process's registries as start-up would have."""
    assert plugins.load_plugin("colour")
    return plugins.field_types.get("colour")


def test_the_test_plugin_is_a_plain_package():
    meta = tomllib.loads((PLUGIN_DIR / "pyproject.toml").read_text())
    assert meta["project"]["name"] == PLUGIN_DIST
    assert meta["project"]["entry-points"][ENTRY_POINT_GROUP] == {
        "colour": "tessera_test_plugin:register"
    }


def test_start_up_discovers_the_installed_plugin(installed_test_plugin, tmp_path):
    """A fresh interpreter, set up as the web server or a worker is, finds it unaided."""
    probe = (
        "import json, django\n"
        "django.setup()\n"
        "from tessera import plugins\n"
        "print(json.dumps({'loaded': plugins.registries.loaded_plugins,\n"
        "    'origin': plugins.field_types.origin('colour'),\n"
        "    'class': type(plugins.field_types.get('colour')).__module__}))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tessera.settings",
        "TESSERA_VAR_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert canonical(found["loaded"]["colour"]) == PLUGIN_DIST
    assert canonical(found["origin"]) == PLUGIN_DIST
    assert found["class"] == "tessera_test_plugin.colour"  # the installed copy, not the source


def test_the_registry_says_the_colour_type_comes_from_the_distribution(colour_plugin):
    assert canonical(plugins.field_types.origin("colour")) == PLUGIN_DIST
    assert canonical(plugins.registries.loaded_plugins["colour"]) == PLUGIN_DIST
    assert plugins.field_types.origin("string") == "builtin"
    assert "colour" in plugins.field_types.keys()  # noqa: SIM118 (keys() is the listing API)


LABEL = {
    "x-label": {"en": "Label", "zh": "标签"},
    "properties": {
        "name": {"x-type": "string"},
        "colour": {"x-type": "colour", "x-index": True, "x-label": {"en": "Colour", "zh": "颜色"}},
    },
}


def test_an_object_with_a_plugin_field_publishes_and_validates(colour_plugin, publish_object):
    from tessera.records import service as records
    from tessera.records.indexes import existing_index_names

    published = publish_object("label", LABEL)
    assert published.version == 1
    assert len(existing_index_names("label")) == 1  # x-index works on a plugin's type too

    saved = records.create("label", {"name": "urgent", "colour": "#FF0000"})
    assert saved.data["colour"] == "#FF0000"
    for bad in ("red", "#ff00", "#gg0000", 16711680):
        with pytest.raises(ValidationFailed) as refused:
            records.create("label", {"name": "x", "colour": bad})
        assert [e.path for e in refused.value.errors] == ["$.colour"], bad


def test_a_migration_converts_text_into_the_plugin_type(colour_plugin, publish_object):
    from tessera.records import service as records

    as_text = {"properties": {"name": {"x-type": "string"}, "colour": {"x-type": "string"}}}
    publish_object("label", as_text)
    short = records.create("label", {"name": "a", "colour": "ABC"})
    named = records.create("label", {"name": "b", "colour": "blue"})

    publish_object("label", LABEL, migration={"convert": {"colour": {"on_error": "clear"}}})

    short.refresh_from_db()
    named.refresh_from_db()
    assert short.data["colour"] == "#aabbcc"
    assert "colour" not in named.data


def test_a_definition_naming_an_uninstalled_type_is_refused(db):
    from tessera.definitions import service

    body = {"properties": {"mood": {"x-type": "no_such_type"}}}
    with pytest.raises(ValidationFailed) as refused:
        service.save_draft("object", "diary", body)
    (error,) = refused.value.errors
    assert (error.path, error.code) == ("$.properties.mood['x-type']", "unknown_type")
    assert "unknown field type 'no_such_type'; known:" in error.message
