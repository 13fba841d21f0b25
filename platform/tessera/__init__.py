"""Tessera: a low-code platform on which e-commerce businesses build their CRM."""

from .celery import app as celery_app

__all__ = ["celery_app"]
