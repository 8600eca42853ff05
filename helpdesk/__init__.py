"""Helpdesk project package: settings, URLs, the Celery app and identity."""
from .celery import app as celery_app

__all__ = ["celery_app"]
