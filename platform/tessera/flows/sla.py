"""SLA clocks of workflow states: armed on entry, settled when met, reminded and breached by timers.

A rule counts ``within`` from the moment the run enters the state, in the business hours of
the workflow's calendar unless ``business_hours`` is false. It is met when the run leaves the
state, or, with ``until``, when it reaches one of those states (a resolve SLA spanning several
states). Its state lives in ``run.data["sla"][name]``; its two timers belong to the owner
``run:<id>:sla:<name>``, so settling cancels exactly them. A breach is written where screens
and segments see it: an ``sla_breached`` event on the record and, with ``flag_field``, a field.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from tessera.definitions.durations import iso_datetime, parse_duration
from tessera.records.models import Record
from tessera.records.service import add_event, update

from .models import Run, RunStatus, StepKind

if TYPE_CHECKING:
    from tessera.timers.models import Timer

    from .runtime import Visit

REMIND, BREACH = "flow.sla_remind", "flow.sla_breach"


def owner(run: Run, name: str) -> str:
    return f"{run.timer_owner}:sla:{name}"


def deadlines(rule: dict[str, Any], start: dt.datetime, calendar: str | None):
    """When the rule is breached, and when to remind (None without ``remind_before``).

    The reminder comes when ``remind_before`` of *working* time is left before the breach.
    """
    from tessera.timers.calendars import calendar_for

    business = rule.get("business_hours", True) and calendar is not None
    cal = calendar_for(calendar if business else None)
    due = cal.add(start, rule["within"])
    remind = None
    if rule.get("remind_before"):
        before = parse_duration(rule["remind_before"])
        left = cal.working_time(start, due) - (start + before - start)
        remind = cal.add(start, max(left, dt.timedelta(0)))
    return due, remind


def arm(visit: Visit, rules: list[dict[str, Any]]) -> None:
    from tessera.timers import service as timers

    run = visit.run
    clocks = run.data.setdefault("sla", {})
    for rule in rules:
        name = rule["name"]
        if name in clocks:  # re-entering the state restarts its clock
            timers.cancel(owner(run, name))
        due, remind = deadlines(rule, visit.now, visit.flow.options.get("calendar"))
        payload = {"run": run.pk, "sla": name, "visit": visit.number, "state": visit.node.id}
        timers.schedule(BREACH, due, owner=owner(run, name), payload=payload)
        if remind is not None and remind > visit.now:
            timers.schedule(REMIND, remind, owner=owner(run, name), payload=payload)
        clocks[name] = {
            "state": visit.node.id,
            "visit": visit.number,
            "started": iso_datetime(visit.now),
            "due": iso_datetime(due),
            "until": rule.get("until"),
            "status": "running",
        }


def settle(run: Run, entering: str, *, now: dt.datetime) -> None:
    """Stop the clocks that entering ``entering`` meets (a breached one stays breached)."""
    from tessera.timers import service as timers

    for name, clock in (run.data or {}).get("sla", {}).items():
        if clock["status"] not in ("running", "breached") or clock.get("settled"):
            continue
        until = clock.get("until")
        met = entering in until if until else entering != clock["state"]
        if met:
            timers.cancel(owner(run, name))
            clock["settled"] = iso_datetime(now)
            if clock["status"] == "running":
                clock["status"] = "met"


def _locked_run(timer: Timer) -> tuple[Run, dict[str, Any], dict[str, Any]] | None:
    """The run and clock a timer belongs to, or None when it has moved on since."""
    from .graph import load

    payload = timer.payload
    run = Run.objects.select_for_update().filter(pk=payload.get("run")).first()
    if run is None or run.status != RunStatus.ACTIVE:
        return None
    clock = (run.data or {}).get("sla", {}).get(payload["sla"])
    if not clock or clock["visit"] != payload["visit"] or clock.get("settled"):
        return None
    flow = load(run.flow_kind, run.flow_key, run.flow_version)
    rules = flow.nodes[clock["state"]].config.get("sla", [])
    rule = next((r for r in rules if r["name"] == payload["sla"]), None)
    return (run, clock, rule) if rule else None


def remind(timer: Timer) -> None:
    from .runtime import record_step, run_actions

    found = _locked_run(timer)
    if found is None:
        return
    run, clock, rule = found
    from .graph import load

    flow = load(run.flow_kind, run.flow_key, run.flow_version)
    name = rule["name"]
    record = Record.objects.get(pk=run.subject_id)
    add_event(record, "sla_reminder", {"workflow": run.flow_key, "sla": name, "due": clock["due"]})
    run_actions(run, flow, rule.get("on_remind", []), key=f"{clock['visit']}:sla:{name}:remind")
    record_step(
        run,
        StepKind.SLA,
        from_node=run.node,
        to_node=run.node,
        data={"sla": name, "event": "reminder", "due": clock["due"]},
    )


def breach(timer: Timer) -> None:
    from .graph import load
    from .runtime import record_step, run_actions

    found = _locked_run(timer)
    if found is None:
        return
    run, clock, rule = found
    flow = load(run.flow_kind, run.flow_key, run.flow_version)
    name = rule["name"]
    now = timezone.now()
    clock["status"] = "breached"
    clock["breached"] = iso_datetime(now)
    run.save(update_fields=["data", "updated_at"])
    record = Record.objects.select_for_update().get(pk=run.subject_id)
    add_event(
        record,
        "sla_breached",
        {"workflow": run.flow_key, "sla": name, "due": clock["due"], "state": clock["state"]},
    )
    if rule.get("flag_field") and record.data.get(rule["flag_field"]) is not True:
        update(
            record.object_key,
            record.pk,
            {rule["flag_field"]: True},
            version=record.version,
            comment=f"SLA {name} breached",
        )
    run_actions(run, flow, rule.get("on_breach", []), key=f"{clock['visit']}:sla:{name}:breach")
    record_step(
        run,
        StepKind.SLA,
        from_node=run.node,
        to_node=run.node,
        data={"sla": name, "event": "breach", "due": clock["due"]},
    )
