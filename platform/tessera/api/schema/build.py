"""One ``graphene.Schema`` per definitions revision: built once, then picked per request.

A build reads the published objects, makes their types (``objects.ObjectTypes``), adds the
static fields and the registered extensions' fields, and returns the schema. The cache is
a ``RevisionCache``: the revision lives in the database, so a publish in any process makes
every process build anew on its next request.
"""

from __future__ import annotations

import logging
from typing import Any

import graphene

from tessera.conditions.objects import object_info
from tessera.definitions.cache import RevisionCache
from tessera.definitions.models import Definition, Status

from .. import names
from ..errors import FieldErrorType
from ..extensions import extensions
from ..scalars import JSON
from . import flows, queries, record_mutations
from .objects import ObjectTypes
from .specs import ObjectSpec, object_spec, type_names
from .static import StaticMutation, StaticQuery

logger = logging.getLogger(__name__)

RESERVED_TYPES = {
    "Query", "Mutation", "User", "Definition", "DefinitionChange", "DefinitionPayload",
    "ValidationPayload", "SegmentPreview", "TokenPayload", "DefinitionKind", "FieldError",
    "PageInfo", "TimelineEntry", "DeletePayload", "DateBucket", "JSON", "Decimal", "BigInt",
    "Date", "DateTime", "TextFilter", "NumberFilter", "BooleanFilter", "DateFilter",
    "ListFilter", "CountFilter", "WithinInput", "Run", "RunPayload", "AvailableTransition",
}  # fmt: skip


class Build:
    """The types of one schema build; extensions receive it to reach generated types."""

    json = JSON
    field_error = FieldErrorType

    def __init__(self, published: list[Definition]):
        self.objects: dict[str, ObjectSpec] = {}
        self.types: dict[str, ObjectTypes] = {}
        taken = set(RESERVED_TYPES)
        for definition in sorted(published, key=lambda d: d.key):
            info = object_info(definition.key)
            if info is None:
                continue
            name = names.pascal(definition.key)
            while type_names(name, info) & taken:
                name += "Record"
            taken |= type_names(name, info)
            self.objects[definition.key] = object_spec(info, definition.body, name)
        for key, spec in self.objects.items():
            self.types[key] = ObjectTypes(self, spec)

    def schema(self) -> graphene.Schema:
        query: dict[str, Any] = {**StaticQuery.fields(), **flows.query_fields()}
        mutation: dict[str, Any] = {**StaticMutation.fields(), **flows.mutation_fields()}
        for key, spec in self.objects.items():
            types = self.types[key]
            base = names.camel(key)
            _add(query, base, queries.record_field(self, spec, types))
            _add(query, base + "s", queries.connection_field(self, spec, types))
            _add(query, base + "Aggregate", queries.aggregate_field(self, spec, types))
            _add(
                mutation,
                "create" + spec.type_name,
                record_mutations.create_field(self, spec, types),
            )
            _add(
                mutation,
                "update" + spec.type_name,
                record_mutations.update_field(self, spec, types),
            )
            _add(
                mutation,
                "delete" + spec.type_name,
                record_mutations.delete_field(self, spec, types),
            )
        for extension in extensions:
            query.update(extension.query_fields(self))
            mutation.update(extension.mutation_fields(self))
        query_type = type("Query", (graphene.ObjectType,), query)
        mutation_type = type("Mutation", (graphene.ObjectType,), mutation)
        return graphene.Schema(query=query_type, mutation=mutation_type)


def _add(fields: dict[str, Any], name: str, field: graphene.Field) -> None:
    """Generated names never replace a static one; a clash gets a ``Record`` suffix."""
    while name in fields:
        name += "Record"
    field.name = name
    fields[name] = field


_schemas = RevisionCache()


def build_schema() -> graphene.Schema:
    """The schema of every published object; an object whose types cannot be built is left
    out (and logged) rather than taking the whole API down with it."""
    published = list(Definition.objects.filter(kind="object", status=Status.PUBLISHED))
    try:
        return _built(Build(published).schema())
    except Exception:
        logger.exception("the GraphQL schema failed to build; finding the objects at fault")
    kept = []
    for definition in published:
        try:
            _built(Build([*kept, definition]).schema())
        except Exception:
            logger.exception("object %s is left out of the GraphQL schema", definition.key)
        else:
            kept.append(definition)
    return _built(Build(kept).schema())


def _built(schema: graphene.Schema) -> graphene.Schema:
    schema.graphql_schema.type_map  # noqa: B018 — type errors surface here, not per request
    return schema


def static_schema() -> graphene.Schema:
    """The schema with no object published: what ``schema.graphql`` holds."""
    return Build([]).schema()


def current_schema() -> graphene.Schema:
    """The schema of the current definitions revision (one indexed read when cached)."""
    return _schemas.get("schema", build_schema)
