"""The static part of the schema: the person asking, definitions, segments, tokens.

It does not depend on what is published, so it is committed as ``schema.graphql`` (with
the extensions' fields) and CI compares it with what this code generates.
"""

from __future__ import annotations

from typing import Any

import graphene
from django.db.models import Q

from tessera.conditions.compiler import matching
from tessera.conditions.tree import parse
from tessera.definitions import service as definitions
from tessera.definitions.errors import FieldError, ValidationFailed
from tessera.definitions.models import Definition, Kind, Status

from .. import tokens
from ..errors import FieldErrorType, api_error, denied, field_errors
from ..scalars import JSON


class UserType(graphene.ObjectType):
    class Meta:
        name = "User"

    id = graphene.ID(required=True)
    username = graphene.String(required=True)
    email = graphene.String()
    roles = graphene.List(graphene.NonNull(graphene.String), required=True)
    scopes = graphene.List(graphene.NonNull(graphene.String), required=True)

    @staticmethod
    def resolve_username(root, info):
        return root.get_username()

    @staticmethod
    def resolve_roles(root, info):
        return sorted(root.groups.values_list("name", flat=True))

    @staticmethod
    def resolve_scopes(root, info):
        return sorted(info.context.scopes)


class DefinitionType(graphene.ObjectType):
    class Meta:
        name = "Definition"

    kind = graphene.String(required=True)
    key = graphene.String(required=True)
    version = graphene.Int(required=True)
    status = graphene.String(required=True)
    body = JSON(required=True)
    comment = graphene.String(required=True)
    published_at = graphene.String()

    @staticmethod
    def resolve_published_at(root, info):
        return root.published_at.isoformat() if root.published_at else None


class DefinitionChange(graphene.ObjectType):
    path = graphene.String(required=True)
    op = graphene.String(required=True)
    old = JSON()
    new = JSON()


class DefinitionPayload(graphene.ObjectType):
    definition = graphene.Field(DefinitionType)
    errors = graphene.List(graphene.NonNull(FieldErrorType), required=True)
    report = JSON(description="what a refused publish would break, and where")


class ValidationPayload(graphene.ObjectType):
    ok = graphene.Boolean(required=True)
    errors = graphene.List(graphene.NonNull(FieldErrorType), required=True)


class SegmentPreview(graphene.ObjectType):
    count = graphene.Int()
    sample = graphene.List(graphene.NonNull(graphene.ID))
    errors = graphene.List(graphene.NonNull(FieldErrorType), required=True)


class TokenPayload(graphene.ObjectType):
    token = graphene.String(description="shown once; only its hash is kept")
    id = graphene.ID()
    errors = graphene.List(graphene.NonNull(FieldErrorType), required=True)


KindEnum = graphene.Enum("DefinitionKind", [(k.upper(), k) for k in Kind.values])


def _can_definitions(ctx, write: bool) -> None:
    if write:
        ctx.require_scope("definitions")
    perm = "definitions.change_definition" if write else "definitions.view_definition"
    if ctx.user is None or not ctx.user.has_perm(perm):
        raise denied(("change" if write else "read") + " definitions")


def _kind(value: Any) -> str:
    return value.value if hasattr(value, "value") else value


class StaticQuery:
    """Query fields that exist whatever is published."""

    @staticmethod
    def fields() -> dict[str, graphene.Field]:
        return {
            "me": graphene.Field(UserType, resolver=lambda root, info: info.context.user),
            "definitions": graphene.List(
                graphene.NonNull(DefinitionType),
                required=True,
                kind=graphene.Argument(KindEnum),
                status=graphene.String(default_value=Status.PUBLISHED),
                resolver=_definitions,
            ),
            "definition": graphene.Field(
                DefinitionType,
                kind=graphene.Argument(KindEnum, required=True),
                key=graphene.String(required=True),
                version=graphene.Int(),
                resolver=_definition,
            ),
            "definition_diff": graphene.List(
                graphene.NonNull(DefinitionChange),
                required=True,
                kind=graphene.Argument(KindEnum, required=True),
                key=graphene.String(required=True),
                old_version=graphene.Int(),
                new_version=graphene.Int(),
                resolver=_diff,
            ),
            "segment_count": graphene.Int(
                key=graphene.String(required=True), resolver=_segment_count
            ),
            "segment_preview": graphene.Field(
                SegmentPreview,
                required=True,
                object=graphene.String(required=True),
                condition=JSON(required=True),
                sample=graphene.Int(default_value=0),
                resolver=_segment_preview,
            ),
        }


def _definitions(root, info, kind=None, status=Status.PUBLISHED):
    _can_definitions(info.context, write=False)
    qs = Definition.objects.filter(status=status)
    if kind is not None:
        qs = qs.filter(kind=_kind(kind))
    return list(qs.order_by("kind", "key")[:1000])


def _definition(root, info, kind, key, version=None):
    _can_definitions(info.context, write=False)
    qs = Definition.objects.filter(kind=_kind(kind), key=key)
    qs = qs.filter(version=version) if version else qs.filter(status=Status.PUBLISHED)
    return qs.first()


def _diff(root, info, kind, key, old_version=None, new_version=None):
    _can_definitions(info.context, write=False)
    changes = definitions.compare(
        _kind(kind), key, old_version=old_version, new_version=new_version
    )
    return [c.as_dict() for c in changes]


def _segment_count(root, info, key):
    from tessera.segments import service as segments

    ctx = info.context
    definition = _published_segment(key)
    object_key = definition.body["object"]
    _check_segment(ctx, definition.body["condition"], object_key)
    members = segments.members(key)
    return ctx.policy.rows(object_key, members).count()


def _published_segment(key: str):
    from tessera.definitions.cache import published

    definition = published("segment", key) if isinstance(key, str) else None
    if definition is None:
        raise api_error("not_found", f"{key!r} is not a published segment")
    return definition


def _check_segment(ctx, condition: Any, object_key: str) -> None:
    ctx.require(object_key, "read")
    try:
        node = parse(condition, object_key, path=["condition"])
    except ValidationFailed as exc:
        raise api_error("invalid_condition", str(exc)) from None
    problems = ctx.policy.condition_problems(node, object_key)
    if problems:
        raise denied("count on " + ", ".join(sorted(set(problems))))


def _segment_preview(root, info, object, condition, sample=0):
    ctx = info.context
    ctx.require(object, "read")
    if not 0 <= sample <= 100:
        return {"errors": field_errors([FieldError("$.sample", "invalid", "0 to 100")])}
    try:
        node = parse(condition, object, path=["condition"])
    except ValidationFailed as exc:
        return {"errors": exc.as_list()}
    problems = ctx.policy.condition_problems(node, object)
    if problems:
        raise denied("count on " + ", ".join(sorted(set(problems))))
    qs = ctx.policy.rows(object, matching(node, object))
    ids = list(qs.order_by("-id").values_list("id", flat=True)[:sample]) if sample else []
    return {"count": qs.count(), "sample": ids, "errors": []}


class StaticMutation:
    """Mutation fields that exist whatever is published."""

    @staticmethod
    def fields() -> dict[str, graphene.Field]:
        def kind_key(**more):
            return {
                "kind": graphene.Argument(KindEnum, required=True),
                "key": graphene.String(required=True),
                **more,
            }

        return {
            "save_definition_draft": graphene.Field(
                DefinitionPayload,
                required=True,
                resolver=_save_draft,
                **kind_key(body=JSON(required=True), comment=graphene.String(default_value="")),
            ),
            "validate_definition": graphene.Field(
                ValidationPayload,
                required=True,
                resolver=_validate,
                **kind_key(body=JSON(required=True)),
            ),
            "publish_definition": graphene.Field(
                DefinitionPayload,
                required=True,
                resolver=_publish,
                **kind_key(migration=JSON()),
            ),
            "create_access_token": graphene.Field(
                TokenPayload,
                required=True,
                name=graphene.String(required=True),
                scopes=graphene.List(graphene.NonNull(graphene.String), default_value=["read"]),
                resolver=_create_token,
            ),
            "revoke_access_token": graphene.Field(
                ValidationPayload,
                required=True,
                id=graphene.ID(required=True),
                resolver=_revoke_token,
            ),
        }


def _save_draft(root, info, kind, key, body, comment=""):
    ctx = info.context
    _can_definitions(ctx, write=True)
    try:
        saved = definitions.save_draft(_kind(kind), key, body, author=ctx.user, comment=comment)
    except ValidationFailed as exc:
        return {"definition": None, "errors": exc.as_list()}
    return {"definition": saved, "errors": []}


def _validate(root, info, kind, key, body):
    _can_definitions(info.context, write=False)
    errors = definitions.body_errors(_kind(kind), key, body)
    return {"ok": not errors, "errors": field_errors(errors)}


def _publish(root, info, kind, key, migration=None):
    ctx = info.context
    _can_definitions(ctx, write=True)
    try:
        published = definitions.publish(_kind(kind), key, author=ctx.user, migration=migration)
    except ValidationFailed as exc:
        return {"definition": None, "errors": exc.as_list()}
    except definitions.PublishRefused as exc:
        error = FieldError("$", "publish_refused", str(exc))
        return {"definition": None, "errors": field_errors([error]), "report": exc.report}
    return {"definition": published, "errors": []}


def _create_token(root, info, name, scopes=("read",)):
    ctx = info.context
    if ctx.request is None or getattr(ctx.request, "token", None) is not None:
        # a token cannot mint tokens: a leaked one must not outlive its revocation
        raise denied("create tokens with a token; sign in")
    try:
        raw, token = tokens.issue(ctx.user, name, list(scopes))
    except ValueError as exc:
        return {"errors": field_errors([FieldError("$.scopes", "invalid", str(exc))])}
    return {"token": raw, "id": token.pk, "errors": []}


def _revoke_token(root, info, id):
    from ..models import AccessToken

    ctx = info.context
    token = AccessToken.objects.filter(
        Q(pk=id) if str(id).isdigit() else Q(pk__in=[]), user=ctx.user
    ).first()
    if token is None:
        return {
            "ok": False,
            "errors": field_errors([FieldError("$.id", "not_found", "no such token")]),
        }
    tokens.revoke(token)
    return {"ok": True, "errors": []}
