"""How a notification reaches its recipient under their preferences (see
helpdesk.notifications): mutes, quiet hours in their own time zone, digests."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .models import NotificationPreference, User


@dataclass(frozen=True)
class Delivery:
    """How one notification reaches its recipient."""

    in_app: bool  # False: recorded as already read
    email: bool
    email_at: dt.datetime | None = None  # None: at once
    digest: bool = False  # True: in the next digest e-mail instead of on its own


def user_zone(user: User) -> dt.tzinfo:
    try:
        return ZoneInfo(user.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def is_muted(pref: NotificationPreference | None, source: str) -> bool:
    if pref is None:
        return False
    for muted in pref.muted_sources or []:
        muted = str(muted).strip()
        if muted and (source == muted or source.startswith(f"{muted}.")):
            return True
    return False


def quiet_until(pref: NotificationPreference | None, now: dt.datetime,
                zone: dt.tzinfo) -> dt.datetime | None:
    """When the quiet period that `now` falls in ends (aware, UTC); None outside one."""
    if pref is None or pref.quiet_start is None or pref.quiet_end is None:
        return None
    start, end = pref.quiet_start.replace(tzinfo=None), pref.quiet_end.replace(tzinfo=None)
    if start == end:
        return None
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    if start < end:  # e.g. 12:00–13:00, within one day
        if not start <= t < end:
            return None
        end_day = local.date()
    else:  # e.g. 22:00–07:00, across midnight
        if start <= t:
            end_day = local.date() + dt.timedelta(days=1)
        elif t < end:
            end_day = local.date()
        else:
            return None
    until = dt.datetime.combine(end_day, end, tzinfo=zone).astimezone(dt.UTC)
    return until if until > now else None


def plan_delivery(pref: NotificationPreference | None, *, recipient: User, source: str,
                  urgent: bool, email: bool, now: dt.datetime) -> Delivery:
    """Apply the recipient's preferences (see the module docstring)."""
    wants_email = email and bool(recipient.email)
    if pref is None:
        return Delivery(in_app=True, email=wants_email)
    if not urgent and is_muted(pref, source):
        return Delivery(in_app=False, email=False)
    wants_email = wants_email and pref.email_enabled
    if wants_email and not urgent and pref.digest_minutes:
        return Delivery(in_app=pref.in_app_enabled, email=True, digest=True)
    email_at = None
    if wants_email and not urgent:
        email_at = quiet_until(pref, now, user_zone(recipient))
    return Delivery(in_app=pref.in_app_enabled, email=wants_email, email_at=email_at)


def preferences_of(user: User) -> NotificationPreference | None:
    try:
        return user.notification_preference
    except NotificationPreference.DoesNotExist:
        return None
