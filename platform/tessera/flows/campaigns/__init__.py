"""Campaigns: marketing flows per customer, built on the flow runtime (``tessera.flows``).

A campaign definition compiles to a ``Flow`` (``kind``) whose nodes are the built-in node
types and the campaign ones (``nodes``, ``sending``), registered in the same registry; its
runs are ordinary runs, woken by the same timers. Around them: triggers (``triggers``,
``events``, ``dates``, ``broadcasts``) let customers in through ``entering``; channels
(``channels``, plugins in ``plugins/``) send through the outbox (``message_action``);
``limits`` spans all campaigns; ``goals``, ``control`` (pause/resume/archive), ``metrics``
and ``engagement`` (opens, clicks, unsubscribes) complete it. ``service`` is the facade.
"""

from __future__ import annotations


def register() -> None:
    """Install the campaign kind, node and trigger types, action, timers, observer, tick step.

    Called once from ``FlowsConfig.ready``; built-ins go in through the plugin API, marked
    as built-ins.
    """
    from tessera import plugins
    from tessera.definitions.kinds import kinds
    from tessera.records.observers import observers
    from tessera.timers.handlers import TimerHandler, handlers
    from tessera.timers.tasks import tick_steps

    from ..graph import flow_kinds
    from . import admin, models, sending, tasks  # noqa: F401 (models, admin, tasks register)
    from .kind import CAMPAIGN_FLOW, CAMPAIGN_KIND
    from .observer import OBSERVER

    if "campaign_send" not in plugins.node_types:
        plugins._install(register_builtins, "builtin", plugins.registries)
    if CAMPAIGN_KIND.type not in kinds:
        kinds.register(CAMPAIGN_KIND)
    if CAMPAIGN_FLOW.type not in flow_kinds:
        flow_kinds.register(CAMPAIGN_FLOW)
    if OBSERVER.type not in observers:
        observers.register(OBSERVER)
    if sending.RETRY not in handlers:
        handlers.register(TimerHandler(type=sending.RETRY, fire=sending.retry))
    if tasks.tick_step not in tick_steps:
        tick_steps.append(tasks.tick_step)


def register_builtins(registries) -> None:
    """Campaign node types, trigger types and the ``campaign_message`` action, as a plugin would."""
    from .message_action import CampaignMessage
    from .nodes import CampaignAction, CampaignBranch, CampaignSplit, CampaignWait, Holdout
    from .sending import CampaignSend
    from .triggers import BUILTIN_TRIGGERS

    for node_type in (
        CampaignWait(),
        CampaignBranch(),
        CampaignSplit(),
        Holdout(),
        CampaignAction(),
        CampaignSend(),
    ):
        registries.node_types.register(node_type)
    for trigger in BUILTIN_TRIGGERS:
        registries.triggers.register(trigger)
    registries.actions.register(CampaignMessage())
