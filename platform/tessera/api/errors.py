"""Errors the API gives: GraphQL errors with a code, and field errors inside payloads."""

from __future__ import annotations

from collections.abc import Iterable

import graphene
from graphql import GraphQLError

from tessera.definitions.errors import FieldError


def api_error(code: str, message: str) -> GraphQLError:
    """A GraphQL error a program can switch on: ``extensions.code``."""
    return GraphQLError(message, extensions={"code": code})


def denied(what: str) -> GraphQLError:
    return api_error("permission_denied", f"you may not {what}")


class FieldErrorType(graphene.ObjectType):
    """One problem with the input of a mutation, at a JSON path such as ``$.email``."""

    class Meta:
        name = "FieldError"

    path = graphene.String(required=True)
    code = graphene.String(required=True)
    message = graphene.String(required=True)


def field_errors(errors: Iterable[FieldError]) -> list[dict[str, str]]:
    return [e.as_dict() for e in errors]
