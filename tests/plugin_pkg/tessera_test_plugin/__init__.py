"""A Tessera plugin that adds one field type, ``colour``: the example in docs/plugins.md.

Tessera finds :func:`register` through the ``tessera.plugins`` entry point declared in this
package's pyproject.toml and calls it once at start-up with every registry.
"""

from __future__ import annotations

from tessera.plugins import Registries

from .colour import ColourField
from .points import AwardPoints

__all__ = ["ColourField", "register"]


def register(registries: Registries) -> None:
    """Add this plugin's items to Tessera's registries."""
    registries.field_types.register(ColourField())
    registries.actions.register(AwardPoints())
