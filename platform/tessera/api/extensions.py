"""Schema extensions: how code above the engine adds GraphQL fields without being imported.

A template-pack library, a plugin or a builder registers an item whose ``type`` is a slug
and whose ``query_fields`` / ``mutation_fields`` return graphene fields for one schema
build (they are called again for every build, so they may use the build's generated
types). The engine never names them; the static schema (``schema.graphql``) includes them,
so CI notices when one changes::

    # in the AppConfig.ready() of templates_lib
    from tessera.api.extensions import SchemaExtension, extensions

    class PackFields(SchemaExtension):
        type = "packs"

        def mutation_fields(self, build):
            return {"pack_install": graphene.Field(InstallPayload, key=graphene.String(), ...)}

    extensions.register(PackFields())

Resolvers receive ``info.context`` (a ``tessera.api.context.RequestContext``: ``user``,
``policy``, ``require_scope(...)``); they must check rights themselves.
"""

from __future__ import annotations

from typing import Any

import graphene

from tessera.plugins import Registry


class SchemaExtension:
    """Base of an extension; override what it contributes."""

    type: str = ""

    def query_fields(self, build: Any) -> dict[str, graphene.Field]:
        return {}

    def mutation_fields(self, build: Any) -> dict[str, graphene.Field]:
        return {}


extensions: Registry = Registry("schema extension")
