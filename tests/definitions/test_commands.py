"""``manage.py definitions``: validate, load, publish, export, diff.

Most tests call the command in-process with ``call_command``; the exit codes are checked by
running ``manage.py`` in a subprocess against a copy of the test database.
"""

from __future__ import annotations

import copy
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from tessera.definitions import service
from tessera.definitions.management.definition_files import read
from tessera.definitions.models import Definition, Status
from tessera.records import service as records
from tests.conftest import CUSTOMER, ORDER

ROOT = Path(__file__).resolve().parents[2]


def write(directory: Path, name: str, document: Any) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


def definition_file(kind: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "key": key, "body": copy.deepcopy(body)}


def run(*args: str) -> tuple[str, str]:
    """Run the command in-process; return (stdout, stderr). CommandError propagates."""
    out, err = io.StringIO(), io.StringIO()
    call_command("definitions", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args: str) -> tuple[str, str]:
    """Run a command that must fail; return (the CommandError's message, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("definitions", *args, stdout=out, stderr=err)
    return str(failure.value), err.getvalue()


@pytest.fixture
def files(tmp_path) -> Path:
    """customer.json and order.json (which points at customer) in a directory."""
    directory = tmp_path / "definitions"
    write(directory, "customer.json", definition_file("object", "customer", CUSTOMER))
    write(directory, "order.json", definition_file("object", "order", ORDER))
    return directory


# --- validate -----------------------------------------------------------------------------


def test_validate_accepts_good_files(db, files):
    out, err = run("validate", str(files))
    assert out.strip() == "2 file(s) valid" and err == ""
    assert not Definition.objects.exists()  # validating writes nothing


def test_validate_prints_every_error_with_file_and_path(db, tmp_path):
    bad_body = copy.deepcopy(CUSTOMER)
    bad_body["properties"]["points"]["minimum"] = "zero"
    body_file = write(tmp_path, "a.json", definition_file("object", "customer", bad_body))
    unknown_type = copy.deepcopy(CUSTOMER)
    unknown_type["properties"]["city"]["x-type"] = "no_such_type"
    type_file = write(tmp_path, "a2.json", definition_file("object", "client", unknown_type))
    envelope = write(tmp_path, "b.json", {"kind": "thing", "key": "Not A Slug", "extra": 1})
    broken = write(tmp_path, "c.json", "{not json")

    message, err = refused("validate", str(body_file), str(type_file), str(envelope), str(broken))

    lines = err.splitlines()
    assert (
        f"{body_file}: $.body.properties.points.minimum: 'zero' is not of type 'number' [type]"
        in lines
    )
    assert any(
        line.startswith(f"{type_file}: $.body.properties.city['x-type']: unknown field type")
        and line.endswith("[unknown_type]")
        for line in lines
    )
    assert f"{envelope}: $.body: 'body' is missing: a file has kind, key, body [required]" in lines
    assert f"{envelope}: $.extra: a definition file has only kind, key and body [unknown]" in lines
    assert any(line.startswith(f"{envelope}: $.kind: unknown kind 'thing'") for line in lines)
    assert any(line.startswith(f"{envelope}: $.key: ") for line in lines)
    assert any(line.startswith(f"{broken}: $: not valid JSON: ") for line in lines)
    assert all(line.endswith("]") for line in lines)
    assert message == f"{len(lines)} error(s) in 4 file(s)"


def test_validate_knows_objects_of_the_same_batch_but_not_others(db, files):
    order_alone = str(files / "order.json")
    message, err = refused("validate", order_alone)
    assert "$.body.properties.customer['x-relation'].object" in err
    assert "[unknown_object]" in err
    assert message.startswith("1 error(s)")


def test_validate_refuses_the_same_definition_twice(db, files):
    write(files, "again/customer.json", definition_file("object", "customer", CUSTOMER))
    _, err = refused("validate", str(files))
    assert "[duplicate]" in err and "customer.json" in err


def test_no_files_is_an_error(db, tmp_path):
    _, err = refused("validate", str(tmp_path))
    assert "no definition files given [no_files]" in err


# --- load -----------------------------------------------------------------------------------


def test_load_saves_drafts(db, tmp_path):
    path = write(tmp_path, "customer.json", definition_file("object", "customer", CUSTOMER))
    out, _ = run("load", str(path))
    assert out.strip() == "saved draft object customer v1"
    assert service.draft("object", "customer").body == CUSTOMER
    assert service.current("object", "customer") is None


def test_load_without_publish_cannot_point_a_draft_at_a_draft(db, files):
    message, err = refused("load", str(files))
    assert "[unknown_object]" in err and "nothing was saved" in message
    assert not Definition.objects.exists()


def test_load_and_publish_in_dependency_order(db, files):
    # order.json named first: it is still published after the customer it points at
    out, _ = run("load", str(files / "order.json"), str(files / "customer.json"), "--publish")

    assert out.splitlines() == [
        "saved draft object customer v1",
        "published object customer v1",
        "saved draft object order v1",
        "published object order v1",
    ]
    customer = records.create("customer", {"name": "Ana"})
    records.create("order", {"customer": customer.pk, "total": 12.5})


def test_loading_the_same_files_again_changes_nothing(db, files):
    run("load", str(files), "--publish")
    out, _ = run("load", str(files), "--publish")
    assert out.splitlines() == [
        "unchanged object customer v1 (published)",
        "unchanged object order v1 (published)",
    ]
    assert Definition.objects.count() == 2


def test_load_is_all_or_nothing(db, files):
    bad_order = copy.deepcopy(ORDER)
    bad_order["x-title-field"] = "nope"
    write(files, "order.json", definition_file("object", "order", bad_order))
    _, err = refused("load", str(files), "--publish")
    assert "$.body['x-title-field']" in err and "[unknown_field]" in err
    assert not Definition.objects.exists()


def test_a_refused_publish_prints_the_report_and_saves_nothing(db, tmp_path):
    service.save_and_publish("object", "customer", copy.deepcopy(CUSTOMER))
    ana = records.create("customer", {"name": "Ana", "points": 10})
    changed = copy.deepcopy(CUSTOMER)
    changed["properties"]["points"] = {"x-type": "enum", "enum": ["low", "high"]}
    path = write(tmp_path, "customer.json", definition_file("object", "customer", changed))

    message, _ = refused("load", str(path), "--publish")

    assert message.startswith("object customer was not published: publishing customer v2")
    assert "1 of 1 stored record(s) of customer would break:" in message
    assert "  points: 1 record(s)" in message
    assert f"record #{ana.pk} at $.points = 10:" in message
    assert "convert 'points'" in message  # the suggested migration
    assert service.draft("object", "customer") is None  # the load saved nothing
    assert service.current("object", "customer").version == 1


def test_load_with_a_migration(db, tmp_path):
    service.save_and_publish("object", "customer", copy.deepcopy(CUSTOMER))
    ana = records.create("customer", {"name": "Ana", "city": "Hangzhou"})
    renamed = copy.deepcopy(CUSTOMER)
    renamed["properties"]["town"] = renamed["properties"].pop("city")
    path = write(tmp_path, "customer.json", definition_file("object", "customer", renamed))
    migration = write(tmp_path, "migration.json", {"rename": {"city": "town"}})

    out, _ = run("load", str(path), "--publish", "--migration", str(migration))

    assert "published object customer v2" in out
    ana.refresh_from_db()
    assert ana.data == {"name": "Ana", "town": "Hangzhou"}


def test_a_migration_goes_with_one_published_definition(db, files, tmp_path):
    migration = write(tmp_path / "m", "migration.json", {"drop": ["fax"]})
    message, _ = refused("load", str(files), "--publish", "--migration", str(migration))
    assert "--migration applies to one definition, but 2 were given" in message
    message, _ = refused("load", str(files / "customer.json"), "--migration", str(migration))
    assert "add --publish" in message
    broken = write(tmp_path / "m", "broken.json", "[1,")
    message, _ = refused("publish", "object", "customer", "--migration", str(broken))
    assert "broken.json: not valid JSON" in message


# --- publish ----------------------------------------------------------------------------------


def test_publish_a_draft(db):
    service.save_draft("object", "customer", copy.deepcopy(CUSTOMER))
    out, _ = run("publish", "object", "customer")
    assert out.strip() == "published object customer v1"
    assert service.current("object", "customer").status == Status.PUBLISHED


def test_publish_without_a_draft_is_an_error(db):
    message, err = refused("publish", "object", "customer")
    assert "object customer: $: object 'customer' has no draft to publish [no_draft]" in err
    assert message.startswith("object customer was not published")


def test_publish_with_a_migration_file(db, tmp_path):
    service.save_and_publish("object", "customer", copy.deepcopy(CUSTOMER))
    bo = records.create("customer", {"name": "Bo", "points": 7})
    changed = copy.deepcopy(CUSTOMER)
    changed["properties"]["points"] = {"x-type": "string"}
    service.save_draft("object", "customer", changed)

    message, _ = refused("publish", "object", "customer")
    assert f"record #{bo.pk} at $.points = 7" in message

    migration = write(tmp_path, "m.json", {"convert": {"points": {"on_error": "fail"}}})
    out, _ = run("publish", "object", "customer", "--migration", str(migration))
    assert out.strip() == "published object customer v2"
    bo.refresh_from_db()
    assert bo.data["points"] == "7"


def test_publishing_a_unique_field_over_clashing_values_prints_the_clashes(db):
    plain = copy.deepcopy(CUSTOMER)
    del plain["properties"]["email"]["x-unique"]
    service.save_and_publish("object", "customer", plain)
    a = records.create("customer", {"name": "A", "email": "same@example.com"})
    b = records.create("customer", {"name": "B", "email": "same@example.com"})
    service.save_draft("object", "customer", copy.deepcopy(CUSTOMER))

    message, _ = refused("publish", "object", "customer")

    assert "would make email unique" in message
    assert f'record #{a.pk} at $.email = "same@example.com"' in message
    assert f'record #{b.pk} at $.email = "same@example.com"' in message


# --- export ------------------------------------------------------------------------------------


def test_export_writes_what_load_reads(db, files, tmp_path):
    run("load", str(files), "--publish")
    service.save_draft("object", "customer", {"properties": {"name": {"x-type": "string"}}})
    target = tmp_path / "export"

    out, _ = run("export", str(target))

    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*.json")) == [
        "object/customer.json",
        "object/order.json",
    ]
    assert out.splitlines()[-1] == f"2 published definition(s) written to {target}"
    exported = json.loads((target / "object/customer.json").read_text(encoding="utf-8"))
    assert exported == {"kind": "object", "key": "customer", "body": CUSTOMER}  # not the draft
    assert "客户" in (target / "object/customer.json").read_text(encoding="utf-8")
    item, errors = read(target / "object/order.json")
    assert errors == [] and item.body == ORDER

    # loading the export back into the same store is a no-op for published ones
    service.save_draft("object", "customer", copy.deepcopy(CUSTOMER))
    Definition.objects.filter(status=Status.DRAFT).delete()
    out, _ = run("load", str(target), "--publish")
    assert all(line.startswith("unchanged") for line in out.splitlines())


def test_export_one_kind(db, files, tmp_path):
    run("load", str(files), "--publish")
    out, _ = run("export", str(tmp_path / "x"), "--kind", "segment")
    assert out.strip() == f"0 published definition(s) written to {tmp_path / 'x'}"
    run("export", str(tmp_path / "y"), "--kind", "object")
    assert len(list((tmp_path / "y").rglob("*.json"))) == 2


# --- diff ----------------------------------------------------------------------------------------


def test_diff_shows_the_draft_against_the_published_version(db):
    service.save_and_publish("object", "customer", copy.deepcopy(CUSTOMER))
    changed = copy.deepcopy(CUSTOMER)
    changed["properties"]["city"]["x-type"] = "text"
    del changed["properties"]["vip"]
    changed["properties"]["note"] = {"x-type": "text"}
    service.save_draft("object", "customer", changed)

    out, _ = run("diff", "object", "customer")

    assert out.splitlines() == [
        "--- object customer v1 (published)",
        "+++ object customer v2 (draft)",
        '~ $.properties.city[\'x-type\']: "string" -> "text"',
        '+ $.properties.note: {"x-type": "text"}',
        '- $.properties.vip: {"x-type": "boolean"}',
    ]


def test_diff_of_a_new_definition_and_of_one_without_a_draft(db):
    service.save_draft("object", "tag", {"properties": {"name": {"x-type": "string"}}})
    out, _ = run("diff", "object", "tag")
    assert out.splitlines()[0] == "--- object tag (nothing published)"
    assert '+ $.properties: {"name": {"x-type": "string"}}' in out

    service.publish("object", "tag")
    out, _ = run("diff", "object", "tag")
    assert out.strip() == "object tag v1 is published and has no draft: nothing to compare"

    message, _ = refused("diff", "object", "nothing")
    assert message == "there is no object 'nothing'"


# --- the real command line: exit codes -------------------------------------------------------


@pytest.fixture(scope="module")
def cli_database(django_db_setup, django_db_blocker, tmp_path_factory) -> dict[str, str]:
    """Environment variables that point a ``manage.py`` subprocess at the migrated test
    database: PostgreSQL's by name; SQLite's lives in memory, so at a copy of it, taken
    before any test opens its transaction (a backup would wait for that forever)."""
    env: dict[str, str] = {}
    with django_db_blocker.unblock():
        settings = connection.settings_dict
        if connection.vendor == "postgresql":
            user, host, port = settings["USER"], settings["HOST"] or "127.0.0.1", settings["PORT"]
            password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
            env["DATABASE_URL"] = (
                f"postgres://{user}{password}@{host}:{port or 5432}/{settings['NAME']}"
            )
        else:
            var = tmp_path_factory.mktemp("cli-var")
            connection.ensure_connection()
            copy_to = sqlite3.connect(var / "tessera.sqlite3")
            connection.connection.backup(copy_to)
            copy_to.close()
            env["TESSERA_VAR_DIR"] = str(var)
    return env


@pytest.fixture
def cli_env(db, cli_database, tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["TESSERA_VAR_DIR"] = str(tmp_path / "var")
    env.update(cli_database)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "definitions", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=180,
    )


def test_exit_codes_of_the_command_line(cli_env, files, tmp_path):
    good = manage(cli_env, "validate", str(files))
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "2 file(s) valid"

    bad = write(
        tmp_path, "bad.json", {"kind": "object", "key": "x", "body": {"properties": {"a": {}}}}
    )
    failed = manage(cli_env, "validate", str(bad))
    assert failed.returncode == 1
    assert (
        f"{bad}: $.body.properties.a: 'x-type' is a required property [required]" in failed.stderr
    )
    assert "CommandError: 1 error(s) in 1 file(s)" in failed.stderr

    missing = manage(cli_env, "publish", "object", "nothing")
    assert missing.returncode == 1 and "has no draft to publish [no_draft]" in missing.stderr
