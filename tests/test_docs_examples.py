"""The object docs hold: their example files load, publish and take records through the CLI.

docs/objects.md points at docs/examples/customer.json and order.json; this test loads them the
way the page says (``manage.py definitions load … --publish``), creates a customer and an
order, and checks that the page covers every built-in field type and its JSON parses.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from tessera.definitions import service
from tessera.definitions.errors import ValidationFailed
from tessera.plugins import field_types
from tessera.records import service as records
from tessera.records.indexes import existing_index_names, wanted_indexes

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = [DOCS / "examples" / "customer.json", DOCS / "examples" / "order.json"]


def definitions(*args: str) -> str:
    out = io.StringIO()
    call_command("definitions", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_examples_load_publish_and_take_records(db):
    assert definitions("validate", *map(str, EXAMPLES)).strip() == "2 file(s) valid"

    # order.json first on purpose: the CLI publishes the customer it points at before it
    out = definitions("load", str(EXAMPLES[1]), str(EXAMPLES[0]), "--publish")
    assert "published object customer v1" in out and "published object order v1" in out

    for path in EXAMPLES:
        document = json.loads(path.read_text(encoding="utf-8"))
        published = service.current("object", document["key"])
        assert published.body == document["body"]
        wanted = {spec.name for spec in wanted_indexes(document["key"], document["body"])}
        assert existing_index_names(document["key"]) == wanted

    referrer = records.create("customer", {"name": "Li Lei", "email": "lilei@example.com"})
    customer = records.create(
        "customer",
        {
            "name": "韩梅梅",
            "member_no": "M000042",
            "email": "meimei@example.com",
            "phone": "+86 138 0013 8000",
            "city": "Hangzhou",
            "birthday": "1995-04-12",
            "level": "gold",
            "interests": ["skincare", "fragrance"],
            "points": 1200,
            "total_spent": 3899.5,
            "newsletter": True,
            "homepage": "https://example.com/meimei",
            "notes": "Prefers delivery after 18:00.",
            "tags": ["vip", "skin: dry"],
            "referred_by": referrer.pk,
            "last_seen_at": "2024-05-01T09:30:00+08:00",
        },
    )
    assert customer.data["last_seen_at"] == "2024-05-01T01:30:00.000000Z"
    order = records.create(
        "order",
        {
            "order_no": "SO-2024-0001",
            "customer": customer.pk,
            "channel": "tmall",
            "external_id": "TM884422",
            "total": 399,
            "placed_at": "2024-05-02T12:00:00Z",
            "status": "paid",
            "gift_for": [referrer.pk],
        },
    )
    assert order.data["customer"] == customer.pk

    # what the page says is refused, is refused
    for data, path in [
        ({"name": "X", "member_no": "42"}, "$.member_no"),  # the RE2 pattern
        ({"name": "X", "email": "meimei@example.com"}, "$.email"),  # x-unique
        ({"name": "X", "referred_by": 999999}, "$.referred_by"),  # a missing record
    ]:
        with pytest.raises(ValidationFailed) as refused:
            records.create("customer", data)
        assert [e.path for e in refused.value.errors] == [path], data
    with pytest.raises(ValidationFailed) as refused:  # x-unique-together
        records.create(
            "order",
            {
                "order_no": "SO-2",
                "customer": customer.pk,
                "total": 1,
                "placed_at": "2024-05-03T00:00:00Z",
                "channel": "tmall",
                "external_id": "TM884422",
            },
        )
    assert [e.code for e in refused.value.errors] == ["unique"]


def fenced(markdown: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", markdown, re.M | re.S)


def test_the_page_covers_every_built_in_field_type():
    page = (DOCS / "objects.md").read_text(encoding="utf-8")
    builtin = [k for k in field_types.keys() if field_types.origin(k) == "builtin"]  # noqa: SIM118
    assert builtin, "the built-in field types are registered"
    missing = [key for key in builtin if f"| `{key}` |" not in page]
    assert missing == [], f"docs/objects.md does not describe {missing}"


def test_every_json_snippet_in_the_docs_parses():
    for name in ("objects.md", "plugins.md"):
        page = (DOCS / name).read_text(encoding="utf-8")
        for snippet in fenced(page, "json"):
            text = snippet.strip()
            if not text.startswith(("{", "[")):  # a field shown on its own: "name": {...}
                text = "{" + text + "}"
            json.loads(text)


def test_the_plugin_page_shows_the_real_example_package():
    page = (DOCS / "plugins.md").read_text(encoding="utf-8")
    package = DOCS.parent / "tests" / "plugin_pkg"
    colour = (package / "tessera_test_plugin" / "colour.py").read_text(encoding="utf-8")
    (shown,) = [s for s in fenced(page, "python") if "class ColourField" in s]
    for line in shown.splitlines():
        if line.strip() and not line.strip().startswith("#"):
            assert line in colour.splitlines(), (
                f"docs/plugins.md shows a line not in colour.py: {line}"
            )
    assert '[project.entry-points."tessera.plugins"]' in page
    assert 'colour = "tessera_test_plugin:register"' in page
