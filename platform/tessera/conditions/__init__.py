"""The condition language: one JSON tree, two faces (SQL over many records, Python on one).

Segments, workflow guards, campaign branches and goals, and GraphQL filters all use it.
"""
