"""Small lookups the campaign nodes share: a run's entry, whether its campaign is paused.

Entering a batch of customers already knows both, so it leaves them on the run object
(``remember``) and the nodes of that first walk do not query again.
"""

from __future__ import annotations

from ..models import Run
from .models import CampaignState, Entry

_ENTRY, _PAUSED, _BATCH = "_campaign_entry", "_campaign_paused", "_campaign_batch"


def remember(run: Run, entry: Entry, paused: bool, batch: bool = False) -> None:
    """``batch``: the caller writes the entry's variant itself, for the whole batch at once."""
    setattr(run, _ENTRY, entry)
    setattr(run, _PAUSED, paused)
    setattr(run, _BATCH, batch)


def save_variant(run: Run, entry: Entry) -> None:
    if not getattr(run, _BATCH, False):
        Entry.objects.filter(pk=entry.pk).update(split=entry.split, variant=entry.variant)


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
