"""Definitions and records written to hurt: each is refused by path, and nothing is fetched.

A remote ``$ref`` must never make the server fetch anything: a real HTTP server on
127.0.0.1 counts the requests it gets (zero), and ``urlopen``, sockets and ``open`` are
watched for the whole test. A catastrophic pattern is accepted because it runs on RE2,
which is linear: ``re`` is watched to prove the pattern never reaches it. Sizes and depths
are refused before any validator walks the document.
"""

from __future__ import annotations

import builtins
import copy
import http.server
import io
import re
import socket
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from tessera.definitions import service
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.models import Definition, Status
from tessera.records import service as records

pytestmark = pytest.mark.django_db

CATASTROPHIC = "^(a+)+$"

OBJECT: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"x-type": "string"},
        "notes": {"x-type": "text"},
        "tags": {"x-type": "list", "items": {"x-type": "string"}, "uniqueItems": True},
    },
}


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self):
        self.hits.append(self.path)
        body = b'{"type": "object"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/schema+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_HEAD = do_GET

    def log_message(self, *args):  # keep the test output quiet
        pass


@pytest.fixture
def schema_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 that serves a schema and counts every request."""
    hits: list[str] = []
    handler = type("Handler", (_Counter,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def outside(monkeypatch) -> list[str]:
    """Every attempt to reach outside the process: URLs, sockets, files under /etc."""
    attempts: list[str] = []
    real_open = builtins.open

    def urlopen(url, *args, **kwargs):
        attempts.append(f"urlopen {getattr(url, 'full_url', url)}")
        raise OSError("tests forbid fetching")

    def create_connection(address, *args, **kwargs):
        attempts.append(f"connect {address}")
        raise OSError("tests forbid connecting")

    def watched_open(file, *args, **kwargs):
        if str(file).startswith(("/etc", "file:")):
            attempts.append(f"open {file}")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(builtins, "open", watched_open)
    monkeypatch.setattr(io, "open", watched_open)
    return attempts


def refusal(write, *args, **kwargs) -> list[tuple[str, str]]:
    """(path, code) of every error of a write that must be refused; it stores nothing."""
    before = list(Definition.objects.order_by("pk").values())
    with pytest.raises(ValidationFailed) as refused, transaction.atomic():
        write(*args, **kwargs)
    assert list(Definition.objects.order_by("pk").values()) == before
    errors = [(e.path, e.code) for e in refused.value.errors]
    assert errors and all(path.startswith("$") for path, _ in errors)
    return errors


def with_field(**field: Any) -> dict[str, Any]:
    body = copy.deepcopy(OBJECT)
    body["properties"]["hostile"] = {"x-type": "string", **field}
    return body


def nested(levels: int, leaf: Any = "x") -> Any:
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


def remote_bodies(base: str) -> list[tuple[dict[str, Any], str, str]]:
    """(body, JSON path of the reference, code) for each place a remote ref could hide."""
    url = f"{base}/x.json"
    top = copy.deepcopy(OBJECT)
    top["$ref"] = url
    items = copy.deepcopy(OBJECT)
    items["properties"]["tags"]["items"] = {"$ref": url}
    dynamic = copy.deepcopy(OBJECT)
    dynamic["properties"]["name"]["$dynamicRef"] = url
    in_options = copy.deepcopy(OBJECT)
    in_options["properties"]["name"]["x-options"] = {"schema": {"$ref": url}}
    return [
        (top, "$['$ref']", "remote_ref"),
        (with_field(**{"$ref": url}), "$.properties.hostile['$ref']", "remote_ref"),
        (items, "$.properties.tags.items['$ref']", "remote_ref"),
        (dynamic, "$.properties.name['$dynamicRef']", "remote_ref"),
        (in_options, "$.properties.name['x-options'].schema['$ref']", "remote_ref"),
        ({**copy.deepcopy(OBJECT), "$id": url}, "$['$id']", "ref_not_allowed"),
    ]


def test_a_remote_ref_is_refused_by_path_and_never_fetched(schema_server, outside):
    base, hits = schema_server
    for body, path, code in remote_bodies(base):
        assert refusal(service.save_draft, "object", "hostile", body) == [(path, code)]
    # $schema is not a reference but a URL too: only the draft 2020-12 one is accepted.
    schema_url = {**copy.deepcopy(OBJECT), "$schema": f"{base}/meta.json"}
    assert ("$['$schema']", "const") in refusal(service.save_draft, "object", "hostile", schema_url)
    assert hits == [] and outside == []


def test_a_draft_holding_a_remote_ref_is_refused_at_publish_too(schema_server, outside):
    """A draft that reached the table another way (an old version, a raw import)."""
    base, hits = schema_server
    for body, path, code in remote_bodies(base):
        with transaction.atomic():
            Definition.objects.create(kind="object", key="hostile", version=1, body=body)
            assert refusal(service.publish, "object", "hostile") == [(path, code)]
            assert Definition.objects.get(key="hostile").status == Status.DRAFT
            transaction.set_rollback(True)
    assert hits == [] and outside == []


@pytest.mark.parametrize(
    "target", ["file:///etc/passwd", "/etc/passwd", "../../etc/passwd", "urn:x:y", "//evil/x"]
)
def test_a_ref_to_a_file_or_another_scheme_is_refused_and_nothing_is_read(target, outside):
    errors = refusal(service.save_draft, "object", "hostile", with_field(**{"$ref": target}))
    assert errors == [("$.properties.hostile['$ref']", "remote_ref")]
    assert outside == []


@pytest.mark.parametrize("target", ["#", "#/properties/name", "#/$defs/loop"])
def test_a_local_ref_even_to_itself_is_refused(target, outside):
    body = copy.deepcopy(OBJECT)
    body["properties"]["loop"] = {"$ref": target}
    errors = refusal(service.save_draft, "object", "hostile", body)
    assert errors == [("$.properties.loop['$ref']", "ref_not_allowed")]
    top = {**copy.deepcopy(OBJECT), "$ref": "#"}
    assert refusal(service.save_draft, "object", "hostile", top) == [
        ("$['$ref']", "ref_not_allowed")
    ]
    assert outside == []


@pytest.fixture
def re_watch(monkeypatch) -> list[str]:
    """Patterns handed to Python's backtracking ``re`` during the test."""
    seen: list[str] = []
    for name in ("compile", "search", "match", "fullmatch", "findall", "finditer", "sub"):
        real = getattr(re, name)

        def watched(pattern, *args, _real=real, **kwargs):
            seen.append(getattr(pattern, "pattern", pattern))
            return _real(pattern, *args, **kwargs)

        monkeypatch.setattr(re, name, watched)
    return seen


def test_a_catastrophic_pattern_runs_on_re2_in_linear_time(publish_object, re_watch):
    """``^(a+)+$`` against 10 kB of 'a' and a '!' takes Python's ``re`` longer than the
    age of the universe; RE2 answers at once. The test would hang if ``re`` ran it."""
    body = copy.deepcopy(OBJECT)
    body["properties"]["notes"]["pattern"] = CATASTROPHIC
    publish_object("hostile", body)
    attack = "a" * 10_000 + "!"
    with pytest.raises(ValidationFailed) as refused:
        records.create("hostile", {"name": "x", "notes": attack})
    assert [(e.path, e.code) for e in refused.value.errors] == [("$.notes", "pattern")]
    assert CATASTROPHIC in refused.value.errors[0].message
    record = records.create("hostile", {"name": "x", "notes": "a" * 10_000})
    assert record.pk
    assert CATASTROPHIC not in re_watch


@pytest.mark.parametrize(
    "pattern, why",
    [
        (r"(a)\1", "backreference"),
        (r"(?<=a)b", "lookbehind"),
        (r"(?=a)", "lookahead"),
        ("[", "not a pattern"),
        ("a" * 1001, "too long"),
    ],
)
def test_a_pattern_re2_cannot_run_is_refused_at_save(pattern, why, outside):
    errors = refusal(service.save_draft, "object", "hostile", with_field(pattern=pattern))
    assert ("$.properties.hostile.pattern", "pattern") in errors or (
        "$.properties.hostile.pattern",
        "maxLength",
    ) in errors, why


def test_a_body_over_64_kb_is_refused():
    body = copy.deepcopy(OBJECT)
    body["description"] = "x" * 1000
    body["properties"].update(
        {f"f{i}": {"x-type": "string", "description": "y" * 1000} for i in range(70)}
    )
    assert refusal(service.save_draft, "object", "hostile", body) == [("$", "too_large")]


@pytest.mark.parametrize("levels", [40, 1000])
def test_a_deep_body_is_refused(levels):
    body = copy.deepcopy(OBJECT)
    body["properties"]["name"]["x-options"] = nested(levels)
    errors = refusal(service.save_draft, "object", "hostile", body)
    # definitions.service serialises the body (to measure it) before checking its depth,
    # so at 1,000 levels json.dumps gives up first and the answer is not_json.
    assert errors in ([("$", "too_deep")], [("$", "not_json")])


def test_a_1000_deep_body_is_reported_as_too_deep():
    body = copy.deepcopy(OBJECT)
    body["properties"]["name"]["x-options"] = nested(1000)
    assert refusal(service.save_draft, "object", "hostile", body) == [("$", "too_deep")]


def deep_list(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "data, code",
    [
        ({"name": "x", "notes": "n" * 1_000_000}, "too_large"),
        ({"name": "x", "unknown": "u" * 1_000_000}, "too_large"),
        ({"name": "x", "tags": ["t" * 200] * 6000}, "too_large"),
        ({"name": "x", "tags": deep_list(1000)}, "too_deep"),
        ({"name": "x", "tags": [deep_list(1000), deep_list(1000)]}, "too_deep"),
        ({"name": "x", "unknown": nested(1000)}, "too_deep"),
    ],
    ids=["1MB-text", "1MB-unknown", "1MB-list", "deep-list", "deep-items", "deep-unknown"],
)
def test_a_1mb_or_1000_deep_record_is_refused_by_create_and_update(publish_object, data, code):
    publish_object("hostile", OBJECT)
    record = records.create("hostile", {"name": "kept"})
    for write, args in (
        (records.create, ("hostile", data)),
        (records.update, ("hostile", record.pk, data)),
    ):
        kwargs = {"version": record.version} if write is records.update else {}
        with pytest.raises(ValidationFailed) as refused:
            write(*args, **kwargs)
        assert [(e.path, e.code) for e in refused.value.errors] == [("$", code)]
    record.refresh_from_db()
    assert record.version == 1 and record.data == {"name": "kept"}
