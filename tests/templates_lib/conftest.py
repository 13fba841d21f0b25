"""Fixtures for the template pack tests: the example packs, and packs written on the fly."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "templates_lib" / "examples"
HELLO_SHOP = EXAMPLES / "hello-shop"
HELLO_VIP = EXAMPLES / "hello-vip"


def scratch_env(database: Path, var: Path) -> dict[str, str]:
    """The environment of a manage.py process on its own SQLite database (not the tests')."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        TESSERA_VAR_DIR=str(var),
        DJANGO_SETTINGS_MODULE="tessera.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
    )
    return env


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """An empty, migrated SQLite database made once: each migrate from nothing costs ~30 s,
    and the tests that need a second instance copy this file instead."""
    folder = tmp_path_factory.mktemp("migrated")
    database = folder / "empty.sqlite3"
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        capture_output=True, text=True, env=scratch_env(database, folder / "var"), cwd=ROOT,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return database


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_pack(
    folder: Path,
    manifest: dict[str, Any],
    definitions: dict[tuple[str, str], Any],
    files: dict[str, str | bytes] | None = None,
) -> Path:
    """Write a pack folder: the manifest lists the definitions given unless it says otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = copy.deepcopy(manifest)
    if "definitions" not in manifest:
        listed: dict[str, list[str]] = {}
        for kind, key in definitions:
            listed.setdefault(kind, []).append(key)
        manifest["definitions"] = listed
    manifest.setdefault("name", {"en": manifest["key"], "zh": manifest["key"]})
    manifest.setdefault("tessera", ">=0.1")
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    for (kind, key), body in definitions.items():
        path = folder / "definitions" / kind / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        path.write_text(text)
    for name, content in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return folder


@pytest.fixture
def make_pack(tmp_path) -> Callable[..., Path]:
    def make(name: str, manifest: dict[str, Any], definitions, files=None, under=None) -> Path:
        return write_pack((under or tmp_path) / name, manifest, definitions, files)

    return make


@pytest.fixture
def shop_copy(tmp_path) -> Callable[[str], Path]:
    """A copy of the hello-shop example in ``tmp_path/<name>``, to edit into a new version."""

    def copy_to(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(HELLO_SHOP, target)
        return target

    return copy_to


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    """Change a JSON file in place: ``change`` mutates the document (its result is ignored)."""
    document = read_json(path)
    change(document)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2))


def database_state() -> dict[str, Any]:
    """Every table's rows (sorted, as text) and the records table's indexes: the whole state.

    Comparing two of these says table by table whether anything at all was written.
    """
    from django.db import connection

    state: dict[str, Any] = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            state[table] = sorted(repr(row) for row in cursor.fetchall())
        constraints = connection.introspection.get_constraints(cursor, "records_record")
    state["records_record indexes"] = sorted(constraints)
    return state


def assert_same_state(before: dict[str, Any], after: dict[str, Any]) -> None:
    changed = [table for table in before if before[table] != after.get(table)]
    added = [table for table in after if table not in before]
    assert not changed and not added, f"tables written: {changed + added}"
