"""Small lookups the campaign nodes share: a run's entry, whether its campaign is paused.

Entering a batch of customers already knows both, so it leaves them on the run object
(``remember``) and the nodes of that first walk do not query again.
"""

from __future__ import annotations

from ..models import Run
from .models import CampaignState, Entry

_ENTRY, _PAUSED = "_campaign_entry", "_campaign_paused"


def remember(run: Run, entry: Entry, paused: bool) -> None:
    setattr(run, _ENTRY, entry)
    setattr(run, _PAUSED, paused)


def entry_of(run: Run) -> Entry | None:
    found = getattr(run, _ENTRY, None)
    if found is None:
        found = Entry.objects.filter(run=run).first()
        setattr(run, _ENTRY, found)
    return found


def is_paused(run: Run) -> bool:
    known = getattr(run, _PAUSED, None)
    if known is None:
        known = CampaignState.objects.filter(campaign_key=run.flow_key, paused=True).exists()
        setattr(run, _PAUSED, known)
    return known


def state(key: str) -> CampaignState:
    found, _ = CampaignState.objects.get_or_create(campaign_key=key)
    return found
