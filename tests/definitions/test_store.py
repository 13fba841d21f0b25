"""The definitions store: meta-schema errors with paths, versions, publish and diff."""

from __future__ import annotations

import pytest

from tessera.definitions import service
from tessera.definitions.errors import ValidationFailed
from tessera.definitions.models import Definition, DefinitionsRevision, ImmutableVersion

pytestmark = pytest.mark.django_db


def errors_of(kind, key, body):
    with pytest.raises(ValidationFailed) as info:
        service.save_draft(kind, key, body)
    return {(e.path, e.code) for e in info.value.errors}, info.value.errors


def test_meta_schema_errors_name_the_json_path(customer_body):
    customer_body["properties"]["email"]["x-unique"] = "yes"
    customer_body["properties"]["Bad Name"] = {"x-type": "string"}
    customer_body["properties"]["city"]["x-label"] = {"fr": "Ville"}
    found, errors = errors_of("object", "customer", customer_body)
    assert ("$.properties.email['x-unique']", "type") in found
    assert ("$.properties.city['x-label']", "additionalProperties") in found
    assert ("$.properties['Bad Name']", "property_name") in found
    assert all(e.message for e in errors)
    assert not Definition.objects.exists()


def test_semantic_errors_name_the_json_path(customer_body):
    customer_body["properties"]["colour"] = {"x-type": "no_such_type"}
    customer_body["properties"]["tags"]["x-index"] = True
    customer_body["properties"]["owner"] = {"x-type": "relation", "x-relation": {"object": "staff"}}
    customer_body["required"].append("nickname")
    found, errors = errors_of("object", "customer", customer_body)
    assert found >= {
        ("$.properties.colour['x-type']", "unknown_type"),
        ("$.properties.tags['x-index']", "not_indexable"),
        ("$.properties.owner['x-relation'].object", "unknown_object"),
        ("$.required[1]", "unknown_field"),
    }
    unknown = next(e for e in errors if e.code == "unknown_type")
    assert "email" in unknown.message  # lists the known types


def test_other_kinds_are_checked_by_their_meta_schema():
    found, _ = errors_of("segment", "vip", {"object": "customer", "condition": {"all": "x"}})
    assert ("$.condition.all", "type") in found
    found, _ = errors_of("workflow", "ticket", {"object": "ticket", "states": {}, "initial": "new"})
    assert ("$.states", "minProperties") in found
    found, _ = errors_of("screen", "home", {"blocks": [{"type": "carousel"}]})
    assert ("$.blocks[0].type", "enum") in found


def test_publish_makes_immutable_versions_and_bumps_the_revision(customer_body):
    start = DefinitionsRevision.current()
    v1 = service.save_and_publish("object", "customer", customer_body)
    assert (v1.version, v1.status) == (1, "published")
    assert DefinitionsRevision.current() == start + 1

    v1.body = {"properties": {}}
    with pytest.raises(ImmutableVersion):
        v1.save()

    customer_body["properties"]["nickname"] = {"x-type": "string"}
    draft = service.save_draft("object", "customer", customer_body, comment="add nickname")
    assert draft.version == 2
    assert service.current("object", "customer").version == 1  # the draft is not live
    v2 = service.publish("object", "customer")
    assert v2.version == 2
    assert DefinitionsRevision.current() == start + 2
    statuses = [(d.version, d.status) for d in service.versions("object", "customer")]
    assert statuses == [(1, "archived"), (2, "published")]
    # an earlier version stays readable
    old = Definition.objects.get(kind="object", key="customer", version=1)
    assert "nickname" not in old.body["properties"]


def test_a_second_save_replaces_the_draft(customer_body):
    service.save_draft("object", "customer", customer_body)
    customer_body["description"] = "People who buy"
    service.save_draft("object", "customer", customer_body)
    assert Definition.objects.filter(kind="object", key="customer").count() == 1


def test_diff_between_draft_and_published_is_readable(customer_body):
    service.save_and_publish("object", "customer", customer_body)
    customer_body["properties"]["level"]["enum"].append("diamond")
    del customer_body["properties"]["vip"]
    customer_body["properties"]["nickname"] = {"x-type": "string"}
    service.save_draft("object", "customer", customer_body)
    changes = service.compare("object", "customer")
    as_text = [str(c) for c in changes]
    assert '+ $.properties.nickname: {"x-type": "string"}' in as_text
    assert '- $.properties.vip: {"x-type": "boolean"}' in as_text
    assert any(c.path == "$.properties.level.enum" and c.op == "changed" for c in changes)


def test_publish_without_a_draft_is_an_error():
    with pytest.raises(ValidationFailed) as info:
        service.publish("object", "nothing")
    assert info.value.errors[0].code == "no_draft"


def test_bad_keys_are_refused(customer_body):
    for key in ["", "Customer", "a b", "x" * 65, "-x"]:
        with pytest.raises(ValidationFailed) as info:
            service.save_draft("object", key, customer_body)
        assert info.value.errors[0].path == "$.key"


def test_archive_keeps_versions(customer_body):
    service.save_and_publish("object", "customer", customer_body)
    service.archive("object", "customer")
    assert service.current("object", "customer") is None
    assert Definition.objects.get(kind="object", key="customer").status == "archived"
