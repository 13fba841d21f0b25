"""What every resolver of one request reads: who asks, with which rights, until when."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .errors import api_error, denied
from .permissions import Policy

TIMEOUT_MESSAGE = "the request took too long and was stopped"


@dataclass
class RequestContext:
    """The ``info.context`` of one GraphQL request."""

    user: Any
    policy: Policy
    scopes: frozenset[str] = frozenset({"read", "write", "definitions"})
    deadline: float = field(default_factory=lambda: time.monotonic() + 10)
    request: Any = None

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise api_error("scope", f"this token lacks the {scope!r} scope")

    def require(self, object_key: str, action: str) -> None:
        self.check_deadline()
        self.require_scope("read" if action == "read" else "write")
        if not self.policy.can(object_key, action):
            raise denied(f"{action} {object_key} records")

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise api_error("timeout", TIMEOUT_MESSAGE)
