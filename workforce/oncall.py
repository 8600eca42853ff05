"""On-call rotation rules in pure Python: weekly turns, the paged-twice skip, iCalendar text.

No Django here, so the rules can be tested exhaustively and fast.

Turns
    Turn 0 starts at the first handoff: the rotation's `starts_on` date, moved forward to
    the handoff weekday, at the handoff time *in the rotation's time zone*. Turn N starts
    7 × N local days later at the same local time, so across a DST change a turn lasts
    167 or 169 hours and the handoff stays at, say, 09:00 Berlin time. A handoff time that
    does not exist on the changeover day (02:30 on a spring-forward Sunday) resolves as
    zoneinfo does with fold=0: one hour later in the new offset.

Who is on call
    Members are in position order. Without skips, the primary of turn N is member
    N mod n and the secondary is the next member.

The paged-twice rule ("an agent paged twice in a week is skipped the following week")
    When turn N is computed, anyone paged at least `skip_after_pages` times during turn
    N − 1 (in any role) is skipped for turn N: the primary is the first member at or after
    the scheduled one who is not skipped, and the secondary the next one after that who is
    not skipped either. The order is not shifted: turn N + 1 goes back to member
    (N + 1) mod n. If every member is skipped nobody can be spared, and the plain order
    applies.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")

WEEK = timedelta(days=7)


# --- turns in time ----------------------------------------------------------------------

@dataclass(frozen=True)
class Handoffs:
    """When the turns of one rotation start: a weekly handoff at a local time."""

    timezone: str
    starts_on: date
    handoff_weekday: int  # 0 = Monday
    handoff_time: time

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def first_date(self) -> date:
        """The date of the first handoff: `starts_on`, or the next handoff weekday after it."""
        return self.starts_on + timedelta(days=(self.handoff_weekday - self.starts_on.weekday())
                                          % 7)

    def local_start(self, week: int) -> datetime:
        """The aware local start of turn `week` (negative weeks are before the rotation)."""
        day = self.first_date + timedelta(days=7 * week)
        return datetime.combine(day, self.handoff_time, tzinfo=self.zone)

    def start(self, week: int) -> datetime:
        """The start of turn `week` in UTC."""
        return self.local_start(week).astimezone(UTC)

    def window(self, week: int) -> tuple[datetime, datetime]:
        """[start, end) of turn `week` in UTC."""
        return self.start(week), self.start(week + 1)

    def week_at(self, instant: datetime) -> int:
        """The turn that contains `instant` (aware); negative before the first handoff."""
        if instant.tzinfo is None:
            raise ValueError("week_at needs an aware datetime")
        local = instant.astimezone(self.zone).replace(tzinfo=None)
        first = datetime.combine(self.first_date, self.handoff_time)
        week = (local - first) // WEEK  # a good guess; fixed below around DST changes
        while self.start(week) > instant:
            week -= 1
        while self.start(week + 1) <= instant:
            week += 1
        return week


# --- who is on call ---------------------------------------------------------------------

@dataclass(frozen=True)
class Assignment(Generic[T]):
    """Who a turn goes to before overrides; `skipped` lists members passed over."""

    week: int
    primary: T | None
    secondary: T | None
    skipped: tuple[T, ...] = field(default=())


def assign(members: Sequence[T], week: int, skipped: Collection[T] = ()) -> Assignment[T]:
    """The primary and secondary of turn `week`, passing over `skipped` members.

    `skipped` are those paged too often in the previous turn (see the module docstring).
    With one member there is no secondary; with none, nobody is on call.
    """
    n = len(members)
    if n == 0 or week < 0:
        return Assignment(week, None, None)
    order = [members[(week + i) % n] for i in range(n)]
    passed = tuple(m for m in order if m in skipped)
    eligible = [m for m in order if m not in skipped] or order
    if len(eligible) == len(order):
        passed = ()
    primary = eligible[0]
    secondary = eligible[1] if len(eligible) > 1 else None
    if secondary is None and n > 1:
        # Only one member can be spared: the secondary falls back to the plain order.
        secondary = next(m for m in order if m != primary)
    return Assignment(week, primary, secondary, passed)


def skipped_members(page_counts: dict[T, int], threshold: int) -> set[T]:
    """Members paged at least `threshold` times (a threshold of 0 disables the rule)."""
    if threshold <= 0:
        return set()
    return {member for member, count in page_counts.items() if count >= threshold}


def plan(members: Sequence[T], weeks: Iterable[int], pages_by_week: dict[int, dict[T, int]],
         threshold: int) -> list[Assignment[T]]:
    """Assignments of several turns; `pages_by_week[w]` counts pages per member in turn w."""
    return [
        assign(members, week, skipped_members(pages_by_week.get(week - 1, {}), threshold))
        for week in weeks
    ]


# --- business hours ---------------------------------------------------------------------

def is_after_hours(local: datetime, business_start: time, business_end: time) -> bool:
    """True at weekends and outside [business_start, business_end) on weekdays (local time)."""
    if local.weekday() >= 5:
        return True
    now = local.time().replace(tzinfo=None)
    if business_start <= business_end:
        return not (business_start <= now < business_end)
    return business_end <= now < business_start  # business hours across midnight


# --- iCalendar (RFC 5545) ---------------------------------------------------------------

@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    description: str = ""


def ical_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def ical_utc(instant: datetime) -> str:
    """A DATE-TIME in UTC form: 20260329T070000Z."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line: str, limit: int = 75) -> str:
    """Fold a content line into lines of at most `limit` octets, never splitting a character.

    Continuation lines start with a space, which counts toward their length.
    """
    out: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def ical_calendar(events: Iterable[CalendarEvent], *, name: str, stamp: datetime,
                  prodid: str = "-//Helpdesk//On-call//EN") -> str:
    """A VCALENDAR with one VEVENT per event; CRLF line endings, folded at 75 octets."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{prodid}", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", f"X-WR-CALNAME:{ical_text(name)}"]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{event.uid}",
            f"DTSTAMP:{ical_utc(stamp)}",
            f"DTSTART:{ical_utc(event.starts_at)}",
            f"DTEND:{ical_utc(event.ends_at)}",
            f"SUMMARY:{ical_text(event.summary)}",
        ]
        if event.description:
            lines.append(f"DESCRIPTION:{ical_text(event.description)}")
        lines += ["TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
