"""A process that takes transitions in a loop, for the PostgreSQL restart test to break.

Run as ``python -m tests.faults.transition_loop [COUNT]`` with DATABASE_URL (and the broker)
in the environment. It flips every active ``flip`` run between ``a`` and ``b``, round-robin,
one transaction per transition (the service's own), and says on stdout where each one is:

- ``begin <run> <transition> <visit>`` before a transition, ``ok <run> <transition> <n>`` after
  its commit;
- ``FAULT mid-transition ...`` and exit 3 when the database fails inside a transition;
- ``FAULT between ...`` and exit 4 when it fails outside one;
- ``done <n>`` and exit 0 after COUNT transitions (0: until the database goes).
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path

PLATFORM = Path(__file__).resolve().parents[2] / "platform"


def where(exc: BaseException) -> str:
    """The first database error of the chain, and the deepest Tessera line it went through."""
    chain = [exc]
    while chain[-1].__context__ is not None:
        chain.append(chain[-1].__context__)
    site = "?"
    for link in chain:  # the later in the chain, the closer to where the fault hit
        frames = [
            f"{Path(f.filename).relative_to(PLATFORM)}:{f.lineno}"
            for f in traceback.extract_tb(link.__traceback__)
            if f.filename.startswith(str(PLATFORM))
        ]
        site = frames[-1] if frames else site
    text = " ".join(str(chain[-1]).split())[:100]
    return f"{type(chain[-1]).__name__}: {text} (at {site})"


def main(count: int) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tessera.settings")
    import django

    django.setup()
    from django.db import Error as DatabaseError

    from tessera.flows import service as flows
    from tessera.flows.models import Run, RunStatus

    def say(line: str) -> None:
        print(line, flush=True)

    try:
        ids = sorted(
            Run.objects.filter(flow_key="flip", status=RunStatus.ACTIVE).values_list(
                "pk", flat=True
            )
        )
    except DatabaseError as exc:
        say(f"FAULT between transitions (loading runs): {type(exc).__name__}: {exc}")
        return 4
    say(f"runs {len(ids)}")
    done = 0
    while True:
        for pk in ids:
            if count and done >= count:
                say(f"done {done}")
                return 0
            try:
                run = Run.objects.get(pk=pk)
            except DatabaseError as exc:
                say(f"FAULT between transitions (reading run {pk}): {type(exc).__name__}: {exc}")
                return 4
            name = "go" if run.node == "a" else "back"
            say(f"begin {pk} {name} {run.visits + 1}")
            try:
                flows.transition(pk, name, version=run.version, comment="loop")
            except DatabaseError as exc:
                say(f"FAULT mid-transition run={pk} {name}: {where(exc)}")
                say(traceback.format_exc())
                return 3
            done += 1
            say(f"ok {pk} {name} {done}")


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
