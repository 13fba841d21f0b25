"""A pack's plugins: checked against the installed ``tessera.plugins`` entry points.

Two real packages, installed with pip: ``tests/plugin_pkg`` (the colour field type, into
this environment, as tests/test_plugins.py does) and a second one written here, installed
with ``pip install --target`` into a folder put on ``sys.path`` (so the test can show it
missing first, whatever other test runs installed into the shared environment).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from templates_lib import service
from templates_lib.requirements import plugins_used
from tessera import plugins
from tessera.records.models import Record
from tests.test_plugins import install_test_plugin

from .conftest import write_pack

SWATCH = {
    "properties": {
        "name": {"x-type": "string"},
        "colour": {"x-type": "colour", "x-index": True},
    }
}


def colour_pack(folder: Path, pip: str = "tessera-test-plugin>=0.1") -> Path:
    return write_pack(
        folder,
        {
            "key": "swatches",
            "version": "1.0.0",
            "plugins": [{"entry_point": "colour", "pip": pip}],
            "sample_data": [{"object": "swatch", "file": "sample/swatches.json"}],
        },
        {("object", "swatch"): SWATCH},
        {
            "sample/swatches.json": '[{"data": {"name": "sky", "colour": "#87ceeb"}},'
            ' {"data": {"name": "coral", "colour": "#ff7f50"}}]'
        },
    )


def test_a_pack_needing_the_test_plugin_installs_once_pip_installed_it(db, tmp_path):
    install_test_plugin()  # pip install tests/plugin_pkg, when this environment lacks it
    pack = colour_pack(tmp_path / "swatches")

    plan = service.plan(pack)
    assert plan.ok, plan.render()
    service.install(pack)

    assert sorted(r.data["colour"] for r in Record.objects.filter(object_key="swatch")) == [
        "#87ceeb",
        "#ff7f50",
    ]
    # exporting the object names the plugin it needs
    assert plugins_used([SWATCH]) == [
        {
            "entry_point": "colour",
            "pip": f"tessera-test-plugin>={importlib.metadata.version('tessera-test-plugin')}",
        }
    ]


def test_a_plugin_too_old_for_the_pack_names_the_upgrade(db, tmp_path):
    install_test_plugin()
    plan = service.plan(colour_pack(tmp_path / "swatches", pip="tessera-test-plugin>=99"))
    (problem,) = plan.problems
    assert (problem.file, problem.path, problem.code) == (
        "manifest.json",
        "$.plugins[0]",
        "plugin_version",
    )
    assert problem.message == (
        "tessera-test-plugin 0.1.0 is installed but the pack needs tessera-test-plugin>=99: "
        "pip install --upgrade 'tessera-test-plugin>=99'"
    )


PROBE_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "1.2.0"
requires-python = ">=3.11"

[project.entry-points."tessera.plugins"]
{entry} = "{module}:register"

[tool.setuptools]
packages = ["{module}"]
"""

PROBE_MODULE = '''
"""A field type holding a rating from one to five stars."""

from tessera.definitions.fields import FieldType


class Stars(FieldType):
    type = "{field}"

    def schema(self, prop):
        return {{"type": "integer", "minimum": 1, "maximum": 5}}


def register(registries):
    registries.field_types.register(Stars())
'''


@pytest.fixture
def probe_plugin(tmp_path):
    """A plugin package nobody has installed: its names are fresh for this test."""
    tag = uuid.uuid4().hex[:8]
    names = {
        "dist": f"tessera-pack-probe-{tag}",
        "entry": f"stars_{tag}",
        "module": f"tessera_pack_probe_{tag}",
        "field": f"stars_{tag}",
    }
    source = tmp_path / "probe-src"
    (source / names["module"]).mkdir(parents=True)
    (source / "pyproject.toml").write_text(PROBE_PYPROJECT.format(**names))
    (source / names["module"] / "__init__.py").write_text(PROBE_MODULE.format(**names))
    site = tmp_path / "site"
    yield names, source, site
    if str(site) in sys.path:
        sys.path.remove(str(site))
    plugins.field_types.unregister(names["field"])
    plugins.registries.loaded_plugins.pop(names["entry"], None)
    sys.modules.pop(names["module"], None)
    importlib.invalidate_caches()


def pip_install_to(source: Path, site: Path) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
        "--disable-pip-version-check", "--target", str(site), str(source),
    ]  # fmt: skip
    done = subprocess.run([*command, "--no-build-isolation"], capture_output=True, text=True)
    if done.returncode != 0:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_missing_plugin_fails_the_plan_with_the_pip_package_then_installs(
    db, tmp_path, probe_plugin
):
    names, source, site = probe_plugin
    pack = write_pack(
        tmp_path / "reviews",
        {
            "key": "reviews",
            "version": "1.0.0",
            "plugins": [{"entry_point": names["entry"], "pip": f"{names['dist']}>=1.2"}],
            "sample_data": [{"object": "review", "file": "sample/reviews.jsonl"}],
        },
        {
            ("object", "review"): {
                "properties": {"text": {"x-type": "string"}, "stars": {"x-type": names["field"]}}
            }
        },
        {"sample/reviews.jsonl": '{"data": {"text": "good", "stars": 5}}\n'},
    )

    plan = service.plan(pack)
    (problem,) = plan.problems
    assert (problem.pack, problem.file, problem.path, problem.code) == (
        "reviews",
        "manifest.json",
        "$.plugins[0]",
        "missing_plugin",
    )
    assert problem.message == (
        f"the plugin {names['entry']!r} is not installed: pip install '{names['dist']}>=1.2', "
        "then restart the web server and the workers"
    )
    assert "reviews/manifest.json: $.plugins[0]" in plan.render()

    pip_install_to(source, site)
    sys.path.insert(0, str(site))  # what a restart would see in the environment

    plan = service.plan(pack)
    assert plan.ok, plan.render()
    service.install(pack)
    (review,) = Record.objects.filter(object_key="review")
    assert review.data == {"text": "good", "stars": 5}
    assert plugins.field_types.origin(names["field"]) == names["dist"]


def test_a_pack_uses_the_plugins_field_type_and_action_in_a_workflow(db, tmp_path):
    """tests/plugin_pkg brings a field type and an action; a pack's workflow uses both."""
    install_test_plugin()
    from tessera.flows import service as flows
    from tessera.flows.models import Run

    member = {
        "properties": {
            "name": {"x-type": "string"},
            "colour": {"x-type": "colour"},
            "points": {"x-type": "integer", "minimum": 0},
            "status": {"x-type": "enum", "enum": ["new", "welcomed"]},
        }
    }
    welcome = {
        "object": "member",
        "initial": "new",
        "state_field": "status",
        "start": "on_create",
        "states": {
            "new": {},
            "welcomed": {
                "final": True,
                "on_enter": [{"type": "award_points", "params": {"points": 100}}],
            },
        },
        "transitions": {"welcome": {"from": ["new"], "to": "welcomed"}},
    }
    pack = write_pack(
        tmp_path / "loyalty",
        {
            "key": "loyalty",
            "version": "1.0.0",
            "plugins": [{"entry_point": "colour", "pip": "tessera-test-plugin>=0.1"}],
        },
        {("workflow", "welcome"): welcome, ("object", "member"): member},
    )
    plan = service.plan(pack)
    assert plan.ok, plan.render()
    service.install(pack)

    from tessera.records import service as records

    record = records.create("member", {"name": "Li Lei", "colour": "#1e90ff", "points": 5})
    run = Run.objects.get(subject=record)
    flows.transition(run.pk, "welcome", version=run.version)
    record.refresh_from_db()
    assert record.data["status"] == "welcomed" and record.data["points"] == 105
    used = plugins_used([member, welcome])
    assert [p["entry_point"] for p in used] == ["colour"]  # one package, both types
