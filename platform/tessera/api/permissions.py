"""Who may do what with which records and fields: the one check every surface calls.

Roles are Django groups; each has an ``ObjectPermission`` per object it may touch (no row,
no rights). Fields are an allow-list per role, narrowed by the object definition's own
``x-permissions`` (``{"read": [roles], "write": [roles]}`` on a field keeps it for those roles);
rights and fields of several roles add up.
Rows are narrowed by each role's scope (all / own / team) and condition, in the condition
language; a record is visible when any role that grants the action lets it through.
Superusers hold every right. GraphQL uses this module; so can the admin, exports and
segment counts: ``Policy.for_user(user).rows("customer", queryset)``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from tessera.conditions.compiler import compile_condition
from tessera.conditions.objects import object_info
from tessera.conditions.tree import EventLeaf, FieldLeaf, Group, MetricLeaf, Node, Not, SegmentLeaf
from tessera.conditions.tree import parse as parse_condition
from tessera.definitions.errors import ValidationFailed

from .models import ObjectPermission, RowScope

logger = logging.getLogger(__name__)
ACTIONS = ("read", "create", "update", "delete")
ALL_FIELDS = "*"


@dataclass
class RoleRule:
    """One role's grant on one object, as loaded."""

    actions: frozenset[str]
    read_fields: frozenset[str]
    write_fields: frozenset[str]
    rows: str
    condition: Any
    role: str = ""


@dataclass
class ObjectRights:
    """The merged rights of a person on one object."""

    actions: frozenset[str] = frozenset()
    read_fields: frozenset[str] = frozenset()
    write_fields: frozenset[str] = frozenset()
    rules: list[RoleRule] = field(default_factory=list)
    everything: bool = False

    def can_read_field(self, name: str) -> bool:
        return self.everything or ALL_FIELDS in self.read_fields or name in self.read_fields

    def can_write_field(self, name: str) -> bool:
        return self.everything or ALL_FIELDS in self.write_fields or name in self.write_fields


class Policy:
    """The rights of one person, loaded once per request (one query)."""

    def __init__(self, user, rules: dict[str, list[RoleRule]] | None = None, *, superuser=False):
        self.user = user
        self.superuser = superuser
        self._rules = rules or {}
        self._rights: dict[str, ObjectRights] = {}

    @classmethod
    def for_user(cls, user) -> Policy:
        if user is None or not user.is_authenticated or not user.is_active:
            return cls(None)
        if user.is_superuser:
            return cls(user, superuser=True)
        rules: dict[str, list[RoleRule]] = {}
        for perm in ObjectPermission.objects.filter(group__user=user).select_related("group"):
            actions = {
                a for a in ACTIONS if getattr(perm, f"can_{a}") and (a == "read" or perm.can_read)
            }
            rules.setdefault(perm.object_key, []).append(
                RoleRule(
                    frozenset(actions),
                    frozenset(_names(perm.read_fields)),
                    frozenset(_names(perm.write_fields)),
                    perm.rows,
                    perm.condition,
                    perm.group.name,
                )
            )
        return cls(user, rules)

    def rights(self, object_key: str) -> ObjectRights:
        if self.superuser:
            return ObjectRights(frozenset(ACTIONS), everything=True)
        if object_key not in self._rights:
            rules = self._rules.get(object_key, [])
            declared = _declared(object_key) if rules else {}
            self._rights[object_key] = ObjectRights(
                frozenset().union(*(r.actions for r in rules)),
                frozenset().union(
                    *(
                        _granted(r.read_fields, r.role, "read", declared)
                        for r in rules
                        if "read" in r.actions
                    )
                ),
                frozenset().union(
                    *(
                        _granted(r.write_fields, r.role, "write", declared)
                        for r in rules
                        if r.actions - {"read"}
                    )
                ),
                rules,
            )
        return self._rights[object_key]

    def can(self, object_key: str, action: str) -> bool:
        return action in self.rights(object_key).actions

    def sees_every_row(self, object_key: str) -> bool:
        """Does one of this person's roles read every record of the object (no row rule)?"""
        if self.superuser:
            return True
        return any(
            "read" in r.actions and r.rows == RowScope.ALL and not r.condition
            for r in self.rights(object_key).rules
        )

    def denied_fields(self, object_key: str, names: list[str]) -> set[str]:
        """Which of ``names`` this person may not read."""
        rights = self.rights(object_key)
        if rights.everything or ALL_FIELDS in rights.read_fields:
            return set()
        return {n for n in names if n not in rights.read_fields}

    def unwritable(self, object_key: str, names: list[str]) -> list[str]:
        rights = self.rights(object_key)
        return [n for n in names if not rights.can_write_field(n)]

    def rows(self, object_key: str, queryset: QuerySet, action: str = "read") -> QuerySet:
        """``queryset`` narrowed to the records this person may ``action``; none if no right."""
        if self.superuser:
            return queryset
        rules = [r for r in self.rights(object_key).rules if action in r.actions]
        if not rules:
            return queryset.none()
        allowed = Q(pk__in=[])
        for rule in rules:
            condition = self._rule_q(object_key, rule)
            if condition is None:
                return queryset  # one role sees every row
            allowed |= condition
        return queryset.filter(allowed)

    def _rule_q(self, object_key: str, rule: RoleRule) -> Q | None:
        parts: list[Q] = []
        if rule.rows == RowScope.OWN:
            parts.append(Q(created_by_id=self.user.pk))
        elif rule.rows == RowScope.TEAM:
            users = get_user_model().objects.filter(groups__in=self.user.groups.all())
            parts.append(Q(created_by_id__in=users.values("pk")) | Q(created_by_id=self.user.pk))
        if rule.condition:
            try:
                node = parse_condition(self._substituted(rule.condition), object_key)
            except ValidationFailed as exc:  # a broken rule grants nothing, loudly
                logger.error("row rule on %s is invalid and grants no row: %s", object_key, exc)
                return Q(pk__in=[])
            compiled = compile_condition(node, object_key)
            parts.append(Q(RawSQL(compiled.sql, compiled.params, output_field=BooleanField())))
        if not parts:
            return None
        out = parts[0]
        for part in parts[1:]:
            out &= part
        return out

    def _substituted(self, condition: Any) -> Any:
        values = {
            "$user.id": self.user.pk,
            "$user.username": self.user.get_username(),
            "$user.email": getattr(self.user, "email", ""),
        }
        text = json.dumps(condition)
        for name, value in values.items():
            text = text.replace(json.dumps(name), json.dumps(value))
        return json.loads(text)

    def condition_problems(self, node: Node, object_key: str) -> list[str]:
        """Fields or objects a parsed condition reads that this person may not read.

        A filter, a segment or an aggregate's grouping must not tell anything about a field
        the person cannot see, so every leaf is checked, through relations too.
        """
        if self.superuser:
            return []
        out: list[str] = []
        self._walk(node, object_key, out)
        return out

    def _walk(self, node: Node, object_key: str, out: list[str]) -> None:
        if not self.can(object_key, "read"):
            out.append(f"{object_key} records")
            return
        if isinstance(node, Group):
            for child in node.children:
                self._walk(child, object_key, out)
        elif isinstance(node, Not):
            self._walk(node.child, object_key, out)
        elif isinstance(node, SegmentLeaf):
            if node.condition is not None:
                self._walk(node.condition, object_key, out)
            else:
                self._walk_stored_segment(node.key, object_key, out)
        elif isinstance(node, FieldLeaf):
            if node.via is not None:
                self._field(object_key, node.via.name, out)
                if node.via_object and self._related(node.via_object, out):
                    self._field(node.via_object, node.field.name, out)
            else:
                self._field(object_key, node.field.name, out)
        elif isinstance(node, MetricLeaf):
            source = node.incoming.source
            if not self._related(source, out):
                return
            self._field(source, node.incoming.field, out)
            for used in (node.field, node.time_field):
                if used is not None:
                    self._field(source, used.name, out)
            if node.where is not None:
                self._walk(node.where, source, out)
        elif isinstance(node, EventLeaf):
            return

    def _related(self, object_key: str, out: list[str]) -> bool:
        """A condition may look into related records only where every row is visible: the
        compiled SQL does not narrow them by row rules, so it would tell about hidden ones."""
        if not self.can(object_key, "read"):
            out.append(f"{object_key} records")
            return False
        if not self.sees_every_row(object_key):
            out.append(f"{object_key} records beyond your rows")
            return False
        return True

    def _walk_stored_segment(self, key: str, object_key: str, out: list[str]) -> None:
        from tessera.definitions.cache import published

        definition = published("segment", key)
        if definition is None:
            return
        try:
            inner = parse_condition(definition.body["condition"], object_key)
        except (ValidationFailed, KeyError):
            out.append(f"segment {key}")
            return
        self._walk(inner, object_key, out)

    def _field(self, object_key: str, name: str, out: list[str]) -> None:
        if self.denied_fields(object_key, [name]):
            out.append(f"{object_key}.{name}")


def _declared(object_key: str) -> dict[str, dict[str, Any]]:
    """The fields of an object, each with the ``x-permissions`` its definition declares."""
    info = object_info(object_key)
    if info is None:
        return {}
    return {name: f.prop.get("x-permissions") or {} for name, f in info.fields.items()}


def _granted(
    listed: frozenset[str], role: str, kind: str, declared: dict[str, dict[str, Any]]
) -> frozenset[str]:
    """The fields a role's allow-list grants, narrowed by the definition's ``x-permissions``:
    a field that names the roles that may read (or write) it is kept for those roles only."""
    if not any(kind in rules for rules in declared.values()):
        return listed
    names = set(declared) if ALL_FIELDS in listed else set(listed)
    return frozenset(
        n
        for n in names
        if not isinstance(declared.get(n, {}).get(kind), list) or role in declared[n][kind]
    )


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
