"""Tessera's built-in plugins, written only against the public plugin API (``tessera.plugins``).

Each subpackage has a ``register(registries)`` named in ``pyproject.toml`` under
``[project.entry-points."tessera.plugins"]``, exactly as a third party's plugin would be.
"""
