"""The Jinja2 environment (settings TEMPLATES), the engine chosen for product pages.

What its templates use so far: dates in the user's time zone, Django's "time since"
words, the countdown, the SLA level words and the customers' status words, each the
same function the Django templates call, so the markup matches exactly.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import dateformat
from django.utils.timesince import timesince
from django.utils.timezone import template_localtime
from jinja2 import Environment

from helpdesk.web import countdown
from tickets.sla_levels import sla_level_label
from tickets.templatetags.portal_tags import customer_status, customer_status_group


def iso_datetime(value: datetime | None) -> str:
    """Like the `date:'c'` filter: ISO 8601 in the current time zone."""
    return dateformat.format(template_localtime(value), "c") if value else ""


def date_format(value: datetime | None, fmt: str) -> str:
    """Like the `date` filter with a format string, in the current time zone."""
    return dateformat.format(template_localtime(value), fmt) if value else ""


def environment(**options: Any) -> Environment:
    env = Environment(**options)  # noqa: S701 - the Django backend turns autoescape on
    env.globals.update(countdown=countdown, sla_level_label=sla_level_label)
    env.filters.update(iso_datetime=iso_datetime, date_format=date_format,
                       timesince=timesince, customer_status=customer_status,
                       customer_status_group=customer_status_group)
    return env
