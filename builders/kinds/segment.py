"""The segment builder: the object, the names, and the condition builder with a live count
and a sample of the records that match now."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, QueryDict
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from tessera.definitions.errors import ValidationFailed

from .. import choices
from ..conditions import catalog, edit, read, row_of, rows
from ..messages import Message
from .base import Builder


class SegmentBuilder(Builder):
    type = "segment"
    template = "builders/kinds/segment.html"

    def new_body(self) -> dict[str, Any]:
        objects = choices.objects()
        return {
            "object": objects[0][0] if objects else "customer",
            "x-label": {"en": "", "zh": ""},
            "condition": {"all": []},
        }

    def context(self, request: HttpRequest, key: str, body: dict[str, Any]) -> dict[str, Any]:
        cat = catalog(body.get("object", ""), get_language() or "en")
        label = body.get("x-label") or {}
        segments = [(k, v) for k, v in choices.segments() if k != key]
        return {
            "objects": choices.objects(),
            "object": body.get("object", ""),
            "label_en": label.get("en", ""),
            "label_zh": label.get("zh", ""),
            "mode_value": body.get("mode", "dynamic"),
            "tree": rows(body.get("condition", {"all": []}), cat),
            "catalog": cat,
            "segments": segments,
        }

    def apply(self, body: dict[str, Any], post: QueryDict) -> dict[str, Any]:
        if "s-object" not in post:
            return body
        out = dict(body)
        object_key = post.get("s-object", body.get("object", ""))
        cat = catalog(object_key, get_language() or "en")
        tree = read(post, cat) if "c0.kind" in post else body.get("condition", {"all": []})
        if object_key != body.get("object"):
            tree = {"all": []}  # another object's fields mean nothing here
        out["object"] = object_key
        out["condition"] = edit(tree, post.get("op", ""), cat)
        label = {k: post.get(f"s-label_{k}", "").strip() for k in ("en", "zh")}
        label = {k: v for k, v in label.items() if v}
        if label:
            out["x-label"] = label
        else:
            out.pop("x-label", None)
        if post.get("s-mode") in ("dynamic", "static"):
            if post["s-mode"] == "dynamic" and "mode" not in body:
                out.pop("mode", None)
            else:
                out["mode"] = post["s-mode"]
        return out

    def slot(self, message: Message) -> str | None:
        return row_of(message.path)

    def preview(self, request: HttpRequest, key: str, body: dict[str, Any]) -> dict[str, Any]:
        from tessera.api.permissions import Policy
        from tessera.conditions.tree import parse
        from tessera.segments import service

        policy = Policy.for_user(request.user)
        object_key = body.get("object", "")
        if not policy.sees_every_row(object_key):
            return {"kind": "segment", "error": _("Counting needs the right to read every record.")}
        try:
            problems = policy.condition_problems(
                parse(body.get("condition"), object_key), object_key
            )
        except ValidationFailed:
            problems = []
        if problems:
            return {
                "kind": "segment",
                "error": _("You may not read: %(p)s") % {"p": ", ".join(problems)},
            }
        try:
            found = service.preview(
                body.get("object", ""), body.get("condition"), sample=5, segment_key=key or None
            )
        except ValidationFailed as exc:
            return {"kind": "segment", "error": "; ".join(e.message for e in exc.errors[:3])}
        body_of_object = choices.body_of("object", body.get("object", "")) or {}
        title = body_of_object.get("x-title-field")
        if title and policy.denied_fields(object_key, [title]):
            title = None
        sample = [
            str(r.data.get(title) or f"#{r.pk}") if title else f"#{r.pk}" for r in found.sample
        ]
        return {"kind": "segment", "count": found.count, "sample": sample}
