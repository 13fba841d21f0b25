"""Imported by the import test's workers only (``--include``): text cells read slowly.

So a worker is still in the middle of an import when the test kills it, whatever the
machine's speed: each string cell takes a couple of milliseconds in that worker alone.
"""

import time

from tessera.exchange.convert import CellConverter, cell_converters


def _slow_text(prop, options):
    def convert(cell):
        time.sleep(0.002)
        return cell if isinstance(cell, str) else str(cell)

    return convert


cell_converters.unregister("string")
cell_converters.register(CellConverter("string", _slow_text))
