"""Imported by the test worker only (``--include``): registers the tests' timer handler."""

from tests.timers.worker_handlers import register

register()
