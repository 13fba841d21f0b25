"""Actions: the registry of action types and the outbox through which each effect happens once.

Public API: :mod:`tessera.actions.service` (check / enqueue / deliver / retry) for callers,
:mod:`tessera.actions.types` (ActionType, Effect, PermanentFailure, RetryLater, Skip) and the
helpers in :mod:`tessera.actions.fields` and :mod:`tessera.actions.subject` for action plugins.
"""
