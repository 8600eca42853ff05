"""Keep cached business calendars fresh: editing hours or holidays touches the calendar."""
from __future__ import annotations

from typing import Any

from django.utils import timezone

from .models import Calendar, _calendar_cache


def touch_calendar(sender: Any, instance: Any, **kwargs: Any) -> None:
    # updated_at tells other processes; this one drops its copy at once.
    Calendar.objects.filter(pk=instance.calendar_id).update(updated_at=timezone.now())
    _calendar_cache.pop(instance.calendar_id, None)
