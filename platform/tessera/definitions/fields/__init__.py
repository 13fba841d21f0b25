"""Field types: what an ``x-type`` in an object definition means."""

from .base import FieldType, SqlType

__all__ = ["FieldType", "SqlType"]
