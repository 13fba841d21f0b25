"""Bad packs: each a clear refusal naming the pack file and JSON path, and nothing written.

Malformed manifests, stray or missing files, definitions that break their kind's schema,
huge and deeply nested JSON (the store's own size and depth bounds), zip entries that try
to leave the pack (``../``, absolute paths, links), zip bombs, a key another pack owns.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from templates_lib import service
from templates_lib.models import InstalledPack
from templates_lib.pack import read_pack
from templates_lib.problems import PackRefused

from .conftest import HELLO_SHOP, assert_same_state, database_state, edit_json, write_pack

GOOD = {"key": "good", "version": "1.0.0", "name": {"en": "Good", "zh": "好"}, "tessera": ">=0.1"}
THING = {("object", "thing"): {"properties": {"name": {"x-type": "string"}}}}


def refused(location) -> list[tuple[str, str, str]]:
    with pytest.raises(PackRefused) as caught:
        read_pack(location)
    return [(p.file, p.path, p.code) for p in caught.value.problems]


def refused_everywhere(location) -> list[tuple[str, str, str]]:
    """The plan and the install refuse it the same way, and nothing is written."""
    before = database_state()
    plan = service.plan(location)
    with pytest.raises(PackRefused) as caught:
        service.install(location)
    assert [str(p) for p in caught.value.problems] == [str(p) for p in plan.problems]
    assert_same_state(before, database_state())
    return [(p.file, p.path, p.code) for p in plan.problems]


# --- manifests ------------------------------------------------------------------------------

MANIFEST_CASES = {
    "key missing": (lambda m: m.pop("key"), "$", "required"),
    "key not a slug": (lambda m: m.update(key="Hello Shop"), "$.key", "pattern"),
    "version not semantic": (lambda m: m.update(version="1.0"), "$.version", "pattern"),
    "name without zh": (lambda m: m.update(name={"en": "x"}), "$.name", "required"),
    "tessera not a range": (lambda m: m.update(tessera="soon"), "$.tessera", "invalid_range"),
    "dependency range": (
        lambda m: m.update(depends={"hello-shop": "~~1"}),
        "$.depends['hello-shop']",
        "invalid_range",
    ),
    "depends on itself": (
        lambda m: m.update(depends={"good": ">=1"}),
        "$.depends.good",
        "self_dependency",
    ),
    "pip requirement": (
        lambda m: m.update(plugins=[{"entry_point": "x", "pip": "not a requirement!"}]),
        "$.plugins[0].pip",
        "invalid_requirement",
    ),
    "plugin without pip": (
        lambda m: m.update(plugins=[{"entry_point": "x"}]),
        "$.plugins[0]",
        "required",
    ),
    "unknown top-level key": (lambda m: m.update(colour="red"), "$", "additionalProperties"),
    "unknown kind": (
        lambda m: m["definitions"].update(widget=["w"]),
        "$.definitions.widget",
        "enum",
    ),
    "definition key not a slug": (
        lambda m: m["definitions"].update(object=["Thing!"]),
        "$.definitions.object[0]",
        "pattern",
    ),
    "migration for a definition not in the pack": (
        lambda m: m.update(
            migrations=[{"kind": "object", "key": "nope", "from": "<1", "migration": {}}]
        ),
        "$.migrations[0].key",
        "unknown_definition",
    ),
    "sample entry of neither shape": (
        lambda m: m.update(sample_data=[{"object": "thing"}]),
        "$.sample_data[0]",
        "required",
    ),
    "doc path leaving the pack": (
        lambda m: m.update(docs=["../../etc/passwd"]),
        "$.docs[0]",
        "pattern",
    ),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_CASES))
def test_a_malformed_manifest_is_refused_by_path(db, tmp_path, case):
    change, path, code = MANIFEST_CASES[case]
    folder = write_pack(tmp_path / "p", GOOD, THING)
    edit_json(folder / "manifest.json", change)
    assert refused_everywhere(folder) == [("manifest.json", path, code)]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (b"", "not_json"),
        (b'{"key": "good",}', "not_json"),
        (b"[1, 2]", "type"),
        (b'{"key": "a", "key": "b"}', "not_json"),
        (b"\xff\xfe{}", "not_utf8"),
        (b"[" * 30_000 + b"]" * 30_000, "too_deep"),
        (b'{"description": {"en": "' + b"x" * 70_000 + b'"}}', "too_large"),
    ],
    ids=["empty", "trailing comma", "array", "duplicate key", "not utf-8", "deep", "huge"],
)
def test_a_manifest_that_is_not_a_json_object_is_refused(tmp_path, text, code):
    folder = write_pack(tmp_path / "p", GOOD, THING)
    (folder / "manifest.json").write_bytes(text)
    assert refused(folder) == [("manifest.json", "$", code)]


def test_a_pack_without_a_manifest(tmp_path):
    (tmp_path / "empty").mkdir()
    assert refused(tmp_path / "empty") == [("manifest.json", "$", "missing")]
    assert refused(tmp_path / "nowhere") == [("", "$", "not_found")]


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=20,
    )
    | st.fixed_dictionaries(
        {
            "key": st.text(max_size=10),
            "version": st.text(max_size=8),
            "name": st.dictionaries(st.text(max_size=3), st.text(max_size=3)),
            "tessera": st.text(max_size=8),
            "definitions": st.dictionaries(
                st.sampled_from(["object", "segment", "x"]),
                st.lists(st.text(max_size=6), max_size=3),
            ),
        }
    )
)
@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_manifest_is_read_or_refused_with_paths_never_a_crash(manifest):
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "manifest.json").write_text(json.dumps(manifest))
        try:
            read_pack(tmp)
        except PackRefused as exc:
            assert exc.problems and all(p.path.startswith("$") for p in exc.problems)


# --- the files of a pack ----------------------------------------------------------------------


def test_a_listed_definition_without_its_file_and_a_file_not_listed(db, tmp_path):
    folder = write_pack(
        tmp_path / "p", {**GOOD, "definitions": {"object": ["thing", "gone"]}}, THING
    )
    write_pack(
        folder,
        {**GOOD, "definitions": {"object": ["thing", "gone"]}},
        {
            ("segment", "stray"): {
                "object": "thing",
                "condition": {"field": "name", "op": "eq", "value": "x"},
            }
        },
    )
    (folder / "setup.py").write_text("import os; os.system('rm -rf /')")
    assert sorted(refused_everywhere(folder)) == [
        ("definitions/segment/stray.json", "$", "unlisted"),
        ("manifest.json", "$.definitions.object", "missing_file"),
        ("setup.py", "$", "unknown_file"),
    ]


def test_readme_license_and_docs_are_allowed(tmp_path):
    folder = write_pack(
        tmp_path / "p",
        {**GOOD, "docs": ["docs/guide.md"]},
        THING,
        {
            "README.md": "# Good",
            "LICENSE": "Apache-2.0",
            "docs/guide.md": "guide",
            "docs/img/schema.png": b"\x89PNG",
        },
    )
    pack = read_pack(folder)
    assert list(pack.definitions) == [("object", "thing")]


def test_a_doc_file_too_large(tmp_path, settings):
    settings.TESSERA_PACKS = {**settings.TESSERA_PACKS, "doc_bytes": 10}
    folder = write_pack(tmp_path / "p", GOOD, THING, {"docs/big.md": "x" * 11})
    assert refused(folder) == [("docs/big.md", "$", "too_large")]


@pytest.mark.parametrize(
    ("body", "path", "code"),
    [
        ({"object": "thing"}, "$", "required"),  # a segment without its condition
        (
            {"object": "thing", "condition": {"field": "name", "op": "eq"}, "colour": 1},
            "$",
            "additionalProperties",
        ),
        (
            {"object": "thing", "condition": {"$ref": "https://evil.example/x"}},
            "$.condition['$ref']",
            "remote_ref",
        ),
        ([], "$", "type"),
    ],
    ids=["missing", "extra", "remote ref", "array"],
)
def test_a_definition_breaking_its_kinds_schema_names_its_file_and_path(
    db, tmp_path, body, path, code
):
    folder = write_pack(tmp_path / "p", GOOD, {**THING, ("segment", "broken"): body})
    assert refused_everywhere(folder) == [("definitions/segment/broken.json", path, code)]


def test_huge_and_deeply_nested_definitions_are_refused_before_parsing(db, tmp_path):
    limits = settings.TESSERA_LIMITS
    deep = '{"properties": {"a": ' * 10 + '{"a": ' * 5000 + "{}" + "}" * 5000 + "}}" * 10
    huge = json.dumps(
        {
            "properties": {
                f"f{i}": {"x-type": "string", "x-help": {"en": "x" * 400}} for i in range(400)
            }
        }
    )
    assert len(huge) > limits["schema_bytes"]
    folder = write_pack(tmp_path / "p", GOOD, {("object", "deep"): deep, ("object", "huge"): huge})
    assert sorted(refused_everywhere(folder)) == [
        ("definitions/object/deep.json", "$", "too_deep"),
        ("definitions/object/huge.json", "$", "too_large"),
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"properties": {"a": {"x-type": "string"}}, "properties": {}}', "not_json"),
        ('{"properties": {"a": {"x-type": "integer", "minimum": NaN}}}', "not_json"),
        ('{"properties": {"a\\u0000": {"x-type": "string"}}}', "invalid_text"),
    ],
    ids=["duplicate key", "NaN", "NUL"],
)
def test_json_the_database_could_not_store_faithfully(tmp_path, text, code):
    folder = write_pack(tmp_path / "p", GOOD, {("object", "thing"): text})
    assert [c for _, _, c in refused(folder)] == [code]


def test_bad_sample_rows_are_named_by_file_and_line(db, tmp_path, settings):
    limit = settings.TESSERA_LIMITS["record_bytes"]
    rows = "\n".join(
        [
            '{"ref": "a", "data": {"name": "A"}}',
            '{"ref": "b"}',
            '{"data": {"name": "C"}, "events": [{"type": "x", "at": "yesterday"}]}',
            '{"data": {"name": "' + "x" * (limit + 70_000) + '"}}',
            '{"data": ' + "[" * 500 + "]" * 500 + "}",
            "not json",
        ]
    )
    folder = write_pack(
        tmp_path / "p",
        {**GOOD, "sample_data": [{"object": "thing", "file": "sample/things.jsonl"}]},
        THING,
        {"sample/things.jsonl": rows},
    )
    with pytest.raises(PackRefused) as caught:
        read_pack(folder)
    assert [(p.file, p.line, p.path, p.code) for p in caught.value.problems] == [
        ("sample/things.jsonl", 2, "$", "required"),
        ("sample/things.jsonl", 3, "$.events[0].at", "format"),
        ("sample/things.jsonl", 4, "$", "too_large"),
        ("sample/things.jsonl", 5, "$", "too_deep"),
        ("sample/things.jsonl", 6, "$", "not_json"),
    ]
    assert str(caught.value.problems[0]) == (
        "good/sample/things.jsonl, line 2: $: 'data' is a required property [required]"
    )


# --- zip files --------------------------------------------------------------------------------


def zip_pack(path: Path, entries: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def good_entries(prefix: str = "") -> dict[str, bytes]:
    return {
        prefix + "manifest.json": json.dumps(
            {**GOOD, "definitions": {"object": ["thing"]}}
        ).encode(),
        prefix + "definitions/object/thing.json": json.dumps(THING[("object", "thing")]).encode(),
    }


def test_a_zipped_pack_installs_with_or_without_a_top_folder(db, tmp_path):
    assert read_pack(zip_pack(tmp_path / "flat.zip", good_entries())).key == "good"
    service.install(zip_pack(tmp_path / "nested.zip", good_entries("good-1.0.0/")))
    assert InstalledPack.objects.get().key == "good"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../evil.json", "a path that leaves the pack folder"),
        ("docs/../../evil.json", "a path that leaves the pack folder"),
        ("/etc/cron.d/evil", "an absolute path"),
        ("C:/Windows/evil.dll", "an absolute path"),
        ("docs\\..\\..\\evil", "a backslash in a name (a Windows path)"),
        ("docs//evil.md", "a path that leaves the pack folder"),
    ],
)
def test_zip_entries_escaping_the_pack_are_refused_and_nothing_is_written(db, tmp_path, name, why):
    archive = zip_pack(tmp_path / "evil.zip", {**good_entries(), name: b"owned"})
    before = database_state()
    assert refused_everywhere(archive) == [(name, "$", "unsafe_path")]
    with pytest.raises(PackRefused) as caught:
        read_pack(archive)
    assert caught.value.problems[0].message == f"refused: {why}"
    assert_same_state(before, database_state())
    assert not (tmp_path.parent / "evil.json").exists() and not (tmp_path / "evil.json").exists()


def test_links_in_a_zip_or_a_folder_are_refused(db, tmp_path):
    archive = zip_pack(tmp_path / "link.zip", good_entries(), links={"docs/passwd": "/etc/passwd"})
    assert refused_everywhere(archive) == [("docs/passwd", "$", "symlink")]
    folder = write_pack(tmp_path / "p", GOOD, THING)
    (folder / "docs").mkdir()
    os.symlink("/etc/passwd", folder / "docs" / "passwd")
    os.symlink("/etc", folder / "docs" / "etc")
    assert sorted(refused(folder)) == [
        ("docs/etc", "$", "symlink"),
        ("docs/passwd", "$", "symlink"),
    ]


def test_a_zip_bomb_is_refused_by_its_ratio_without_inflating_it(tmp_path):
    archive = zip_pack(tmp_path / "bomb.zip", {**good_entries(), "docs/zeros.md": bytes(4 << 20)})
    assert refused(archive) == [("docs/zeros.md", "$", "zip_bomb")]


def test_zip_limits_on_size_and_count(tmp_path, settings):
    settings.TESSERA_PACKS = {**settings.TESSERA_PACKS, "max_bytes": 1000, "max_files": 3}
    big = zip_pack(tmp_path / "big.zip", {**good_entries(), "docs/a.md": b"x" * 1000})
    assert refused(big) == [("", "$", "too_large")]
    many = zip_pack(tmp_path / "many.zip", {**good_entries(), "docs/a.md": b"", "docs/b.md": b""})
    assert refused(many) == [("", "$", "too_many_files")]


def test_duplicate_and_encrypted_entries_and_non_zips(tmp_path):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate we make on purpose
        archive = zip_pack(tmp_path / "dup.zip", good_entries())
        with zipfile.ZipFile(archive, "a") as again:
            again.writestr("manifest.json", b"{}")
    assert ("manifest.json", "$", "duplicate") in refused(archive)
    (tmp_path / "fake.zip").write_bytes(b"PK not really")
    assert refused(tmp_path / "fake.zip") == [("", "$", "bad_zip")]


# --- ownership --------------------------------------------------------------------------------


def test_a_pack_defining_a_key_another_pack_owns_is_refused(db, tmp_path):
    service.install(HELLO_SHOP)
    thief = write_pack(
        tmp_path / "thief",
        {**GOOD, "key": "thief"},
        {("object", "customer"): {"properties": {"name": {"x-type": "string"}}}},
    )
    before = database_state()
    with pytest.raises(PackRefused) as caught:
        service.install(thief)
    (problem,) = caught.value.problems
    assert (problem.pack, problem.file, problem.code) == (
        "thief",
        "definitions/object/customer.json",
        "owned_by_other_pack",
    )
    assert problem.message == (
        "object 'customer' belongs to the pack hello-shop 1.0.0; a definition has one owner"
    )
    assert_same_state(before, database_state())


def test_a_damaged_zip_entry_is_refused_by_name_not_a_crash(tmp_path):
    name = "definitions/object/thing.json"
    archive = zip_pack(tmp_path / "damaged.zip", good_entries())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(name)
    data = bytearray(archive.read_bytes())
    local = info.header_offset
    name_length = int.from_bytes(data[local + 26 : local + 28], "little")
    extra_length = int.from_bytes(data[local + 28 : local + 30], "little")
    body = local + 30 + name_length + extra_length
    for i in range(body, body + info.compress_size):  # the deflated bytes, scrambled
        data[i] ^= 0x5A
    archive.write_bytes(bytes(data))
    assert refused(archive) == [(name, "$", "bad_zip")]
