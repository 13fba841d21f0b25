"""What every block renderer gets and gives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString

from tessera.api.permissions import Policy

from ..labels import text
from ..query import BlockProblem


@dataclass
class BlockContext:
    """One block of one screen, rendered for one person (``preview``: the admin's preview)."""

    request: HttpRequest
    screen_key: str
    screen_body: dict[str, Any]
    index: int
    block: dict[str, Any]
    policy: Policy
    preview: bool = False

    def url(self, name: str, **extra: Any) -> str:
        return reverse(
            f"frontend:{name}", kwargs={"key": self.screen_key, "index": self.index, **extra}
        )

    @property
    def prefix(self) -> str:
        """Query parameters of this block are namespaced, so two tables keep their filters."""
        return f"b{self.index}."

    def param(self, name: str, source=None) -> str:
        source = self.request.GET if source is None else source
        return source.get(self.prefix + name, "")

    def record_url(self, object_key: str, record_id: int) -> str:
        """Where a row links: the screen's own record block for that object, else the
        record page."""
        for block in self.screen_body.get("blocks", []):
            if (
                isinstance(block, dict)
                and block.get("type") == "record"
                and block.get("object") == object_key
            ):
                return reverse("frontend:screen", args=[self.screen_key]) + f"?record={record_id}"
        return reverse("frontend:record", args=[object_key, record_id])


class BlockType:
    """Base of the block renderers: ``type`` is the block's ``type`` in the screen body."""

    type: ClassVar[str]
    template: ClassVar[str]

    def context(self, ctx: BlockContext) -> dict[str, Any]:
        raise NotImplementedError

    def title(self, ctx: BlockContext, default: str = "") -> str:
        return text(ctx.block.get("label"), default)

    def render(self, ctx: BlockContext) -> SafeString:
        try:
            data = self.context(ctx)
            template = self.template
        except BlockProblem as problem:
            data = {"problem": str(problem), "no_access": str(problem) == "no_access"}
            template = "frontend/blocks/problem.html"
        data.update({"ctx": ctx, "block": ctx.block, "index": ctx.index, "type": self.type})
        data.setdefault("title", self.title(ctx))
        return render_to_string(template, data, request=ctx.request)
