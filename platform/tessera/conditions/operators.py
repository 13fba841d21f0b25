"""The built-in operators. Each one holds both faces side by side: its SQL and its Python.

An operator says which field kinds it applies to (text, number, boolean, date, datetime,
list) and what values it takes; a condition that breaks either is refused when saved.
A missing value (SQL NULL) never matches, except for ``is_empty``; both faces agree on it.
Plugins add operators with ``registries.operators.register(MyOperator())``.
"""

from __future__ import annotations

import datetime as dt
import numbers
from typing import Any, ClassVar

from tessera.definitions.durations import is_duration
from tessera.plugins import Registries

from .context import Clock, SqlContext

TEXT, NUMBER, BOOLEAN, DATE, DATETIME, LIST = (
    "text",
    "number",
    "boolean",
    "date",
    "datetime",
    "list",
)
SCALARS = frozenset({TEXT, NUMBER, BOOLEAN, DATE, DATETIME})
ORDERED = frozenset({NUMBER, DATE, DATETIME})


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value == value


def is_date_value(value: Any) -> bool:
    """An ISO date/datetime text, ``now``/``today``, or ``{"ago"|"from_now": duration}``."""
    if isinstance(value, dict):
        return len(value) == 1 and any(is_duration(value.get(k)) for k in ("ago", "from_now"))
    if value in ("now", "today"):
        return True
    if not isinstance(value, str):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def scalar_ok(value: Any, kind: str) -> bool:
    if kind == TEXT:
        return isinstance(value, str) and len(value) <= 1000
    if kind == NUMBER:
        return is_number(value) and abs(value) < 1e15
    if kind == BOOLEAN:
        return isinstance(value, bool)
    if kind in (DATE, DATETIME):
        return is_date_value(value)
    return False


class Operator:
    """Base of all operators: ``sql`` and ``test`` must select the same records."""

    type: ClassVar[str]
    kinds: ClassVar[frozenset[str]]
    label: ClassVar[dict[str, str]] = {}

    def value_problem(self, value: Any, kind: str) -> str | None:
        """Why ``value`` cannot be used with this operator on a ``kind`` field, or None."""
        return (
            None
            if scalar_ok(value, kind)
            else f"{self.type} on a {kind} field needs a {kind} value"
        )

    def prepare(self, value: Any, kind: str, clock: Clock) -> Any:
        """Turn the authored value into what is compared (relative dates resolved)."""
        if kind in (DATE, DATETIME):
            return clock.date_value(value, kind)
        return value

    def sql(self, expr: str, value: Any, kind: str, ctx: SqlContext) -> str:
        raise NotImplementedError

    def test(self, actual: Any, value: Any, kind: str) -> bool:
        raise NotImplementedError


class Comparison(Operator):
    symbol: ClassVar[str]

    def sql(self, expr, value, kind, ctx):
        return f"{expr} {self.symbol} {ctx.param(value, kind)}"


class Eq(Comparison):
    type, symbol, kinds = "eq", "=", SCALARS
    label = {"en": "is", "zh": "等于"}

    def test(self, actual, value, kind):
        return actual is not None and actual == value and not _bool_mixup(actual, value)


class Ne(Comparison):
    type, symbol, kinds = "ne", "<>", SCALARS
    label = {"en": "is not", "zh": "不等于"}

    def test(self, actual, value, kind):
        return actual is not None and (actual != value or _bool_mixup(actual, value))


def _bool_mixup(actual: Any, value: Any) -> bool:
    return isinstance(actual, bool) != isinstance(value, bool)


class Lt(Comparison):
    type, symbol, kinds = "lt", "<", ORDERED
    label = {"en": "less than", "zh": "小于"}

    def test(self, actual, value, kind):
        return actual is not None and actual < value


class Lte(Comparison):
    type, symbol, kinds = "lte", "<=", ORDERED
    label = {"en": "at most", "zh": "小于等于"}

    def test(self, actual, value, kind):
        return actual is not None and actual <= value


class Gt(Comparison):
    type, symbol, kinds = "gt", ">", ORDERED
    label = {"en": "more than", "zh": "大于"}

    def test(self, actual, value, kind):
        return actual is not None and actual > value


class Gte(Comparison):
    type, symbol, kinds = "gte", ">=", ORDERED
    label = {"en": "at least", "zh": "大于等于"}

    def test(self, actual, value, kind):
        return actual is not None and actual >= value


class Before(Lt):
    type, kinds = "before", frozenset({DATE, DATETIME})
    label = {"en": "before", "zh": "早于"}


class After(Gt):
    type, kinds = "after", frozenset({DATE, DATETIME})
    label = {"en": "after", "zh": "晚于"}


class Between(Operator):
    type, kinds = "between", ORDERED
    label = {"en": "between", "zh": "介于"}

    def value_problem(self, value, kind):
        if not (
            isinstance(value, list) and len(value) == 2 and all(scalar_ok(v, kind) for v in value)
        ):
            return f"between takes [low, high] of {kind} values"
        return None

    def prepare(self, value, kind, clock):
        return [super(Between, self).prepare(v, kind, clock) for v in value]

    def sql(self, expr, value, kind, ctx):
        return f"{expr} BETWEEN {ctx.param(value[0], kind)} AND {ctx.param(value[1], kind)}"

    def test(self, actual, value, kind):
        return actual is not None and value[0] <= actual <= value[1]


class In(Operator):
    type, kinds = "in", frozenset({TEXT, NUMBER})
    label = {"en": "is one of", "zh": "属于"}
    negate: ClassVar[bool] = False

    def value_problem(self, value, kind):
        if not (
            isinstance(value, list)
            and 0 < len(value) <= 1000
            and all(scalar_ok(v, kind) for v in value)
        ):
            return f"{self.type} takes a list of 1 to 1000 {kind} values"
        return None

    def sql(self, expr, value, kind, ctx):
        marks = ", ".join(ctx.param(v, kind) for v in value)
        return f"{expr} {'NOT IN' if self.negate else 'IN'} ({marks})"

    def test(self, actual, value, kind):
        return actual is not None and ((actual in value) != self.negate)


class NotIn(In):
    type, negate = "not_in", True
    label = {"en": "is none of", "zh": "不属于"}


class TextOperator(Operator):
    kinds = frozenset({TEXT})

    def value_problem(self, value, kind):
        if not (isinstance(value, str) and 0 < len(value) <= 1000):
            return f"{self.type} takes a non-empty text of at most 1000 characters"
        return None


class Contains(TextOperator):
    """Case-sensitive substring on text; membership on lists."""

    type, kinds = "contains", frozenset({TEXT, LIST})
    label = {"en": "contains", "zh": "包含"}

    def value_problem(self, value, kind):
        if kind == LIST:
            return (
                None
                if isinstance(value, (str, int)) and not isinstance(value, bool)
                else ("contains on a list takes one text or integer element")
            )
        return super().value_problem(value, kind)

    def sql(self, expr, value, kind, ctx):
        if kind == LIST:
            return HasAny().sql(expr, [value], kind, ctx)
        fn = "strpos" if ctx.postgres else "instr"
        return f"{fn}({expr}, {ctx.param(value)}) > 0"

    def test(self, actual, value, kind):
        if kind == LIST:
            return HasAny().test(actual, [value], kind)
        return isinstance(actual, str) and value in actual


class StartsWith(TextOperator):
    type = "starts_with"
    label = {"en": "starts with", "zh": "开头是"}

    def sql(self, expr, value, kind, ctx):
        return f"substr({expr}, 1, {ctx.param(len(value))}) = {ctx.param(value)}"

    def test(self, actual, value, kind):
        return isinstance(actual, str) and actual.startswith(value)


class EndsWith(TextOperator):
    type = "ends_with"
    label = {"en": "ends with", "zh": "结尾是"}

    def sql(self, expr, value, kind, ctx):
        if ctx.postgres:
            return f"right({expr}, {ctx.param(len(value))}) = {ctx.param(value)}"
        return f"substr({expr}, -{ctx.param(len(value))}) = {ctx.param(value)}"

    def test(self, actual, value, kind):
        return isinstance(actual, str) and actual.endswith(value)


class IsEmpty(Operator):
    """No value: missing, null, an empty text or an empty list. Takes no value."""

    type, kinds = "is_empty", SCALARS | {LIST}
    label = {"en": "is empty", "zh": "为空"}
    negate: ClassVar[bool] = False

    def value_problem(self, value, kind):
        return None if value is None else f"{self.type} takes no value"

    def prepare(self, value, kind, clock):
        return None

    def sql(self, expr, value, kind, ctx):
        if kind == LIST:
            from .sql import list_length

            alias, field = expr.split("|")
            empty = f"{list_length(alias, field, ctx.vendor)} = 0"
        elif kind == TEXT:
            empty = f"({expr} IS NULL OR {expr} = '')"
        else:
            empty = f"{expr} IS NULL"
        return f"NOT ({empty})" if self.negate else empty

    def test(self, actual, value, kind):
        empty = actual is None or actual == "" or actual == []
        return empty != self.negate


class IsSet(IsEmpty):
    type, negate = "is_set", True
    label = {"en": "is set", "zh": "不为空"}


class Within(Operator):
    """Inside a window around now: ``{"last": "P30D"}`` or ``{"next": "P7D"}``."""

    type, kinds = "within", frozenset({DATE, DATETIME})
    label = {"en": "within", "zh": "在…之内"}

    def value_problem(self, value, kind):
        if isinstance(value, dict) and len(value) == 1:
            ((direction, duration),) = value.items()
            if direction in ("last", "next") and is_duration(duration):
                return None
        return 'within takes {"last": "P30D"} or {"next": "P7D"}'

    def prepare(self, value, kind, clock):
        ((direction, duration),) = value.items()
        if direction == "last":
            return [clock.date_value({"ago": duration}, kind), clock.date_value("now", kind)]
        return [clock.date_value("now", kind), clock.date_value({"from_now": duration}, kind)]

    def sql(self, expr, value, kind, ctx):
        return Between().sql(expr, value, kind, ctx)

    def test(self, actual, value, kind):
        return Between().test(actual, value, kind)


class AnniversaryWithin(Operator):
    """The month and day fall in the next N days, any year: birthdays, sign-up anniversaries."""

    type, kinds = "anniversary_within", frozenset({DATE})
    label = {"en": "anniversary within", "zh": "周年日在…之内"}

    def value_problem(self, value, kind):
        if isinstance(value, dict) and set(value) == {"next"} and is_duration(value["next"]):
            return None
        return 'anniversary_within takes {"next": "P7D"}'

    def prepare(self, value, kind, clock):
        start = clock.today
        end = clock.shifted(value["next"], +1).astimezone(dt.UTC).date()
        if (end - start).days >= 365:
            return None  # every day of the year
        return [start.isoformat()[5:], end.isoformat()[5:]]

    def sql(self, expr, value, kind, ctx):
        if value is None:
            return f"{expr} IS NOT NULL"
        month_day = f"substr({expr}, 6, 5)"
        low, high = ctx.param(value[0]), ctx.param(value[1])
        if value[0] <= value[1]:
            return f"{month_day} BETWEEN {low} AND {high}"
        return f"({month_day} >= {low} OR {month_day} <= {high})"

    def test(self, actual, value, kind):
        if not isinstance(actual, str):
            return False
        if value is None:
            return True
        month_day = actual[5:10]
        if value[0] <= value[1]:
            return value[0] <= month_day <= value[1]
        return month_day >= value[0] or month_day <= value[1]


class HasAny(Operator):
    """A list holds at least one of the values."""

    type, kinds = "has_any", frozenset({LIST})
    label = {"en": "has any of", "zh": "包含任一"}

    def value_problem(self, value, kind):
        ok = (
            isinstance(value, list)
            and 0 < len(value) <= 100
            and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value)
        )
        return None if ok else f"{self.type} takes a list of 1 to 100 texts or integers"

    def prepare(self, value, kind, clock):
        return sorted({str(v) for v in value})

    def sql(self, expr, value, kind, ctx):
        # a list field reaches its operators as "alias|field" (see compiler)
        alias, field = expr.split("|")
        from .sql import list_elements

        marks = ", ".join(ctx.param(str(v)) for v in value)
        cast = "" if ctx.postgres else "CAST(v AS TEXT)"
        column = "e.v" if ctx.postgres else cast
        elements = list_elements(alias, field, ctx.vendor)
        return f"EXISTS (SELECT 1 FROM {elements} WHERE {column} IN ({marks}))"

    def test(self, actual, value, kind):
        return isinstance(actual, list) and any(_text(a) in value for a in actual)


class HasAll(HasAny):
    """A list holds every one of the values."""

    type = "has_all"
    label = {"en": "has all of", "zh": "包含全部"}

    def sql(self, expr, value, kind, ctx):
        alias, field = expr.split("|")
        from .sql import list_elements

        marks = ", ".join(ctx.param(str(v)) for v in value)
        column = "e.v" if ctx.postgres else "CAST(v AS TEXT)"
        return (
            f"(SELECT COUNT(DISTINCT {column}) FROM {list_elements(alias, field, ctx.vendor)} "
            f"WHERE {column} IN ({marks})) = {ctx.param(len(value), 'number')}"
        )

    def test(self, actual, value, kind):
        return isinstance(actual, list) and set(value) <= {_text(a) for a in actual}


def _text(value: Any) -> str:
    return str(value)


BUILTIN_OPERATORS = [
    Eq(),
    Ne(),
    Lt(),
    Lte(),
    Gt(),
    Gte(),
    Before(),
    After(),
    Between(),
    In(),
    NotIn(),
    Contains(),
    StartsWith(),
    EndsWith(),
    IsEmpty(),
    IsSet(),
    Within(),
    AnniversaryWithin(),
    HasAny(),
    HasAll(),
]


def register(registries: Registries) -> None:
    for operator in BUILTIN_OPERATORS:
        registries.operators.register(operator)
