"""Segments: the records of an object that meet a condition, kept fresh; RFM and lifecycle.

``service`` is the way in: preview a draft condition, read and refresh membership. The
``segment`` kind's checks and publish step live in ``kind``; freshness (which segments a
write can affect) in ``reads`` and ``freshness``; scoring in ``rfm`` and ``lifecycle``.
"""
