"""Field validators shared by the apps."""
from __future__ import annotations

import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def validate_timezone(value: str) -> None:
    """An IANA time zone name such as "Europe/Paris"."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(_("Unknown time zone %(value)s.") % {"value": repr(value)}) from exc
