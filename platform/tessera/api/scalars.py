"""Scalars for stored JSON values: they pass through as stored, and check what comes in."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from typing import Any

import graphene
from graphql import Undefined
from graphql.language import ast


class Decimal(graphene.Scalar):
    """A decimal number (money, amounts): a JSON number out; a number or numeric text in."""

    @staticmethod
    def serialize(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value

    @staticmethod
    def parse_value(value: Any) -> Any:
        if isinstance(value, bool):
            return Undefined
        if isinstance(value, (int, float)):
            return value
        try:
            number = decimal.Decimal(str(value).strip())
        except (decimal.InvalidOperation, ValueError):
            return Undefined
        if not number.is_finite():
            return Undefined
        return int(number) if number == number.to_integral_value() else float(number)

    @classmethod
    def parse_literal(cls, node: Any, _variables: Any = None) -> Any:
        if isinstance(node, (ast.IntValueNode, ast.FloatValueNode, ast.StringValueNode)):
            return cls.parse_value(node.value)
        return Undefined


class BigInt(graphene.Scalar):
    """A whole number beyond GraphQL's 32-bit Int (records hold up to 2**53 - 1)."""

    @staticmethod
    def serialize(value: Any) -> Any:
        return value

    @staticmethod
    def parse_value(value: Any) -> Any:
        if isinstance(value, bool):
            return Undefined
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        return Undefined

    @classmethod
    def parse_literal(cls, node: Any, _variables: Any = None) -> Any:
        if isinstance(node, (ast.IntValueNode, ast.StringValueNode)):
            return cls.parse_value(node.value)
        return Undefined


class _Iso(graphene.Scalar):
    """Base of the date scalars: stored ISO text goes out as is; input must parse."""

    @staticmethod
    def serialize(value: Any) -> Any:
        return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value

    @classmethod
    def parse_literal(cls, node: Any, _variables: Any = None) -> Any:
        if isinstance(node, ast.StringValueNode):
            return cls.parse_value(node.value)
        return Undefined


class Date(_Iso):
    """A calendar date, ``2024-05-01``."""

    @staticmethod
    def parse_value(value: Any) -> Any:
        try:
            return dt.date.fromisoformat(value).isoformat() if isinstance(value, str) else Undefined
        except ValueError:
            return Undefined


class DateTime(_Iso):
    """An instant in ISO 8601 with an offset, ``2024-05-01T09:30:00+08:00``; stored in UTC."""

    @staticmethod
    def parse_value(value: Any) -> Any:
        if not isinstance(value, str):
            return Undefined
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return Undefined
        return value


class JSON(graphene.Scalar):
    """Any JSON value: definition bodies, condition trees, diffs, event payloads."""

    @staticmethod
    def serialize(value: Any) -> Any:
        return value

    @staticmethod
    def parse_value(value: Any) -> Any:
        return value

    @classmethod
    def parse_literal(cls, node: Any, _variables: Any = None) -> Any:
        return _literal(node, _variables)


def _literal(node: Any, variables: Any) -> Any:
    if isinstance(node, ast.ObjectValueNode):
        return {f.name.value: _literal(f.value, variables) for f in node.fields}
    if isinstance(node, ast.ListValueNode):
        return [_literal(v, variables) for v in node.values]
    if isinstance(node, ast.IntValueNode):
        return int(node.value)
    if isinstance(node, ast.FloatValueNode):
        return json.loads(node.value)
    if isinstance(node, (ast.StringValueNode, ast.BooleanValueNode, ast.EnumValueNode)):
        return node.value
    if isinstance(node, ast.NullValueNode):
        return None
    if isinstance(node, ast.VariableNode):
        return (variables or {}).get(node.name.value)
    return Undefined
