"""Types shared by every build: page info, filters per field kind, timeline, payloads."""

from __future__ import annotations

import graphene

from ..errors import FieldErrorType
from ..scalars import JSON, Decimal


class PageInfoType(graphene.ObjectType):
    """Where a page sits in its connection (Relay)."""

    class Meta:
        name = "PageInfo"

    has_next_page = graphene.Boolean(required=True)
    has_previous_page = graphene.Boolean(required=True)
    start_cursor = graphene.String()
    end_cursor = graphene.String()


class TextFilter(graphene.InputObjectType):
    """Conditions on a text field; several keys all have to hold."""

    eq = graphene.String()
    ne = graphene.String()
    in_ = graphene.List(graphene.NonNull(graphene.String), name="in")
    not_in = graphene.List(graphene.NonNull(graphene.String))
    contains = graphene.String()
    starts_with = graphene.String()
    ends_with = graphene.String()
    is_empty = graphene.Boolean()


class NumberFilter(graphene.InputObjectType):
    """Conditions on a number field (integers, decimals, money, relation ids)."""

    eq = Decimal()
    ne = Decimal()
    lt = Decimal()
    lte = Decimal()
    gt = Decimal()
    gte = Decimal()
    between = graphene.List(graphene.NonNull(Decimal))
    in_ = graphene.List(graphene.NonNull(Decimal), name="in")
    not_in = graphene.List(graphene.NonNull(Decimal))
    is_empty = graphene.Boolean()


class BooleanFilter(graphene.InputObjectType):
    eq = graphene.Boolean()
    ne = graphene.Boolean()
    is_empty = graphene.Boolean()


class WithinInput(graphene.InputObjectType):
    """A window around now: ``{last: "P30D"}`` or ``{next: "P7D"}`` (ISO 8601 durations)."""

    last = graphene.String()
    next = graphene.String()


class DateFilter(graphene.InputObjectType):
    """Conditions on a date or datetime: ISO values, ``today`` or ``now``."""

    eq = graphene.String()
    ne = graphene.String()
    lt = graphene.String()
    lte = graphene.String()
    gt = graphene.String()
    gte = graphene.String()
    before = graphene.String()
    after = graphene.String()
    between = graphene.List(graphene.NonNull(graphene.String))
    within = graphene.Field(WithinInput)
    anniversary_within = graphene.String(description="a duration: birthdays in the next P7D")
    is_empty = graphene.Boolean()


class ListFilter(graphene.InputObjectType):
    """Conditions on a list field (tags, multiple choice)."""

    contains = graphene.String()
    has_any = graphene.List(graphene.NonNull(graphene.String))
    has_all = graphene.List(graphene.NonNull(graphene.String))
    is_empty = graphene.Boolean()


class CountFilter(graphene.InputObjectType):
    eq = graphene.Int()
    ne = graphene.Int()
    lt = graphene.Int()
    lte = graphene.Int()
    gt = graphene.Int()
    gte = graphene.Int()


class DateBucket(graphene.Enum):
    """How aggregates group a date or datetime field."""

    DAY = 10
    MONTH = 7
    YEAR = 4


class TimelineEntry(graphene.ObjectType):
    """One thing in a record's life: a change (who, which fields), an event, a flow run."""

    at = graphene.String(required=True)
    kind = graphene.String(required=True, description="change, event or run")
    type = graphene.String(required=True)
    version = graphene.Int()
    actor = graphene.String()
    changes = JSON(description="{field: [old, new]}, only the fields you may read")
    payload = JSON()


class DeletePayload(graphene.ObjectType):
    ok = graphene.Boolean(required=True)
    errors = graphene.List(graphene.NonNull(FieldErrorType), required=True)


OPS = {
    "eq": "eq",
    "ne": "ne",
    "lt": "lt",
    "lte": "lte",
    "gt": "gt",
    "gte": "gte",
    "before": "before",
    "after": "after",
    "between": "between",
    "in_": "in",
    "not_in": "not_in",
    "contains": "contains",
    "starts_with": "starts_with",
    "ends_with": "ends_with",
    "within": "within",
    "anniversary_within": "anniversary_within",
    "has_any": "has_any",
    "has_all": "has_all",
}
