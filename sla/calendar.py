"""Business-hours calendar arithmetic for SLA clocks.

Pure stdlib (``datetime`` + ``zoneinfo``); no Django import, so reports, Celery
tasks and other apps can use it freely.

A :class:`BusinessCalendar` describes, in one IANA time zone, the local
wall-clock opening hours of each weekday plus a set of local holiday dates.
The *business time* is the set of UTC instants that fall inside an opening
interval.  Every local boundary is converted the way ``zoneinfo`` does it with
``fold=0`` -- ``datetime.combine(day, t, tzinfo=zone)`` -- so intervals keep
their true physical length on DST days (00:00-24:00 lasts 23 h on a
spring-forward day and 25 h on a fall-back day).

Semantics of odd DST cases, all following from the ``fold=0`` conversion:

* an interval whose converted end is not after its converted start (e.g. a
  local 02:30-03:00 interval inside a spring-forward gap) is empty;
* each day's converted intervals are clipped to that day's own span
  ``[00:00, 24:00)`` (converted the same way) and overlapping converted
  intervals are merged, so no instant is ever counted twice.

All arithmetic is done in integer microseconds since the Unix epoch, never in
floats.  Converted intervals are cached per local date, and whole weeks that
hold no holiday and whose eight local midnights share one UTC offset are
skipped using the precomputed weekly total, so the cost grows with the number
of weeks spanned rather than with minutes.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["BusinessCalendar"]

_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_DAY = timedelta(days=1)
_DAYS_1_TO_7 = tuple(timedelta(days=k) for k in range(1, 8))
_EPOCH_ORDINAL = _EPOCH.toordinal()
_MAX_ORDINAL = date.max.toordinal()
_DAY_US = 86_400_000_000
_WEEK_US = 7 * _DAY_US
_MIDNIGHT = time(0)
#: Give up when no business time at all is found for this many consecutive days.
_SEARCH_LIMIT_DAYS = 3653  # ~10 years
#: Cached per-date / per-week entries are dropped wholesale past this size.
_CACHE_LIMIT = 50_000
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MISSING = object()

_Span = tuple[int, int]


def _time_to_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


def _us_to_time(us: int) -> time:
    seconds, micro = divmod(us, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return time(hour, minute, second, micro)


def _format_us(us: int) -> str:
    seconds, micro = divmod(us, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}"
    if second or micro:
        text += f":{second:02d}"
    if micro:
        text += f".{micro:06d}"
    return text


def _format_span(span: _Span) -> str:
    return f"{_format_us(span[0])}-{_format_us(span[1])}"


def _to_us(value: datetime, name: str) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return (value - _EPOCH) // _US


def _offset_us(offset: timedelta) -> int:
    return (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _load_zone(key: object) -> ZoneInfo:
    if not isinstance(key, str) or not key:
        raise ValueError(f"timezone must be a non-empty IANA time zone name, got {key!r}")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {key!r}") from exc


def _normalise_hours(hours: object) -> tuple[tuple[_Span, ...], ...]:
    """Validate ``hours`` and return, per weekday, sorted merged µs-of-day spans."""
    if not isinstance(hours, Mapping):
        raise ValueError(
            f"hours must be a mapping of weekday -> [(start, end), ...], got {type(hours).__name__}"
        )
    weekly: list[tuple[_Span, ...]] = [()] * 7
    for weekday, intervals in hours.items():
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise ValueError(f"weekday must be an int 0 (Monday) .. 6 (Sunday), got {weekday!r}")
        name = _WEEKDAY_NAMES[weekday]
        if isinstance(intervals, str | bytes) or not isinstance(intervals, Iterable):
            raise ValueError(
                f"{name}: expected a sequence of (start, end) pairs, got {intervals!r}"
            )
        spans: list[_Span] = []
        for item in intervals:
            try:
                start, end = item
            except (TypeError, ValueError):
                raise ValueError(f"{name}: expected a (start, end) pair, got {item!r}") from None
            for bound in (start, end):
                if not isinstance(bound, time):
                    raise ValueError(
                        f"{name}: interval bounds must be datetime.time, got {bound!r}"
                    )
                if bound.tzinfo is not None:
                    raise ValueError(
                        f"{name}: interval bounds are local wall-clock times and must be naive, "
                        f"got {bound!r}"
                    )
            s = _time_to_us(start)
            e = _DAY_US if end == _MIDNIGHT else _time_to_us(end)
            if s >= e:
                raise ValueError(
                    f"{name}: interval {start.isoformat()}-{end.isoformat()} must have start < end "
                    "(use time(0) as the end for midnight at the end of the day)"
                )
            spans.append((s, e))
        spans.sort()
        merged: list[_Span] = []
        for s, e in spans:
            if merged and s < merged[-1][1]:
                raise ValueError(
                    f"{name}: intervals {_format_span(merged[-1])} and "
                    f"{_format_span((s, e))} overlap"
                )
            if merged and s == merged[-1][1]:
                merged[-1] = (merged[-1][0], e)  # adjacent: merge
            else:
                merged.append((s, e))
        weekly[weekday] = tuple(merged)
    return tuple(weekly)


def _normalise_holidays(holidays: object) -> frozenset[date]:
    if isinstance(holidays, str | bytes) or not isinstance(holidays, Iterable):
        raise ValueError(f"holidays must be an iterable of dates, got {holidays!r}")
    result = set()
    for day in holidays:
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ValueError(f"holidays must be datetime.date values (local dates), got {day!r}")
        result.add(day)
    return frozenset(result)


class BusinessCalendar:
    """Weekly local opening hours plus holidays in one time zone.

    ``hours`` maps weekday (0 = Monday .. 6 = Sunday) to local ``(start, end)``
    wall-clock intervals with ``start < end``; ``end == time(0)`` means
    midnight at the end of that day.  ``holidays`` are local dates closed all
    day.  Instances are immutable and safe to share; converted intervals are
    cached internally (see :meth:`cache_clear`).
    """

    __slots__ = (
        "_key", "_zone", "_weekly", "_weekly_times", "_weekly_total", "_holidays",
        "_holiday_weeks", "_days", "_weeks",
    )

    def __init__(
        self,
        timezone: str,
        hours: Mapping[int, Sequence[tuple[time, time]]],
        holidays: Iterable[date] = (),
    ) -> None:
        self._zone = _load_zone(timezone)
        self._key = timezone
        self._weekly = _normalise_hours(hours)
        # (start, start µs, end, end µs) with naive times; end None = midnight ending the day.
        self._weekly_times = tuple(
            tuple(
                (_us_to_time(s), s, None if e == _DAY_US else _us_to_time(e), e)
                for s, e in spans
            )
            for spans in self._weekly
        )
        self._weekly_total = sum(e - s for spans in self._weekly for s, e in spans)
        self._holidays = _normalise_holidays(holidays)
        # Ordinals of the Mondays of weeks that contain a holiday on an open weekday.
        self._holiday_weeks = frozenset(
            d.toordinal() - d.weekday() for d in self._holidays if self._weekly[d.weekday()]
        )
        self._days: dict[int, tuple[_Span, ...]] = {}
        self._weeks: dict[int, int | None] = {}

    # -- construction helpers -------------------------------------------------

    @classmethod
    def always(cls) -> BusinessCalendar:
        """A 24/7 calendar in UTC: business time equals wall-clock time."""
        return cls("UTC", {weekday: [(_MIDNIGHT, _MIDNIGHT)] for weekday in range(7)})

    # -- introspection ---------------------------------------------------------

    @property
    def timezone(self) -> str:
        return self._key

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    @property
    def hours(self) -> dict[int, tuple[tuple[time, time], ...]]:
        """Normalised (sorted, merged) hours; ``time(0)`` as end means midnight."""
        return {
            weekday: tuple((s, _MIDNIGHT if e is None else e) for s, _, e, _ in spans)
            for weekday, spans in enumerate(self._weekly_times)
            if spans
        }

    @property
    def holidays(self) -> frozenset[date]:
        return self._holidays

    @property
    def weekly_hours(self) -> timedelta:
        """Business time of a regular week (no holiday, no DST change)."""
        return timedelta(microseconds=self._weekly_total)

    def cache_clear(self) -> None:
        """Forget cached per-date and per-week conversions."""
        self._days.clear()
        self._weeks.clear()

    def __repr__(self) -> str:
        days = "; ".join(
            f"{_WEEKDAY_NAMES[weekday]} {', '.join(_format_span(span) for span in spans)}"
            for weekday, spans in enumerate(self._weekly)
            if spans
        )
        return (
            f"BusinessCalendar(timezone={self._key!r}, hours={{{days or 'closed'}}}, "
            f"holidays={len(self._holidays)})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BusinessCalendar):
            return NotImplemented
        return (self._key, self._weekly, self._holidays) == (
            other._key, other._weekly, other._holidays
        )

    def __hash__(self) -> int:
        return hash((self._key, self._weekly, self._holidays))

    # -- internals -------------------------------------------------------------

    def _local_ordinal(self, value: datetime) -> int:
        try:
            return value.astimezone(self._zone).toordinal()
        except OverflowError:
            raise ValueError(f"{value!r} is outside the supported date range") from None

    def _day_spans(self, ordinal: int) -> tuple[_Span, ...]:
        """Business intervals of one local date as sorted disjoint UTC µs spans."""
        spans = self._days.get(ordinal)
        if spans is not None:
            return spans
        result: tuple[_Span, ...] = ()
        if not 0 < ordinal < _MAX_ORDINAL:  # outside what datetime can represent: closed
            self._days[ordinal] = result
            return result
        day = date.fromordinal(ordinal)
        times = self._weekly_times[day.weekday()]
        if times and day not in self._holidays:
            # Same as (datetime.combine(day, t, tzinfo=zone) - epoch), i.e. fold=0, but
            # without building aware datetimes: local µs minus the zone's offset there.
            utcoffset = self._zone.utcoffset
            combine = datetime.combine
            base = (ordinal - _EPOCH_ORDINAL) * _DAY_US
            day_start = base - _offset_us(utcoffset(combine(day, _MIDNIGHT)))
            day_end = base + _DAY_US - _offset_us(utcoffset(combine(day + _ONE_DAY, _MIDNIGHT)))
            converted: list[_Span] = []
            for start, start_us, end, end_us in times:
                s = base + start_us - _offset_us(utcoffset(combine(day, start)))
                if end is None:
                    e = day_end
                else:
                    e = base + end_us - _offset_us(utcoffset(combine(day, end)))
                # Gap times map forward (fold=0); keep within this day's own span.
                s = max(s, day_start)
                e = min(e, day_end)
                if e > s:
                    converted.append((s, e))
            if len(converted) > 1:
                converted.sort()
                merged = [converted[0]]
                for s, e in converted[1:]:
                    last_s, last_e = merged[-1]
                    if s <= last_e:
                        merged[-1] = (last_s, max(last_e, e))
                    else:
                        merged.append((s, e))
                converted = merged
            result = tuple(converted)
        if len(self._days) >= _CACHE_LIMIT:
            self._days.clear()
        self._days[ordinal] = result
        return result

    def _week_start(self, monday: int) -> int | None:
        """UTC µs of the local Monday 00:00 if the week is regular, else None.

        Regular: no holiday on an open weekday, and all eight local midnights
        from this Monday to the next share one UTC offset (no DST change), so
        the week holds exactly ``weekly_total`` of business time.
        """
        cached = self._weeks.get(monday, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        result: int | None = None
        if monday not in self._holiday_weeks and 0 < monday < _MAX_ORDINAL - 7:
            utcoffset = self._zone.utcoffset
            combine = datetime.combine
            day = date.fromordinal(monday)
            offset = utcoffset(combine(day, _MIDNIGHT))
            for k in _DAYS_1_TO_7:
                if utcoffset(combine(day + k, _MIDNIGHT)) != offset:
                    break
            else:
                result = (monday - _EPOCH_ORDINAL) * _DAY_US - _offset_us(offset)
        if len(self._weeks) >= _CACHE_LIMIT:
            self._weeks.clear()
        self._weeks[monday] = result
        return result

    def _no_hours_error(self, what: str) -> ValueError:
        return ValueError(f"{what}: {self!r} has no business hours on any weekday")

    # -- public arithmetic -------------------------------------------------------

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """Earliest instant at which ``duration`` of business time has elapsed from ``start``.

        Returns an aware UTC datetime.  Counting begins at the next opening when
        ``start`` is outside hours; a duration used up exactly at a closing
        boundary returns that closing instant.  ``duration == 0`` returns
        ``start`` (in UTC).
        """
        cur = _to_us(start, "start")
        if not isinstance(duration, timedelta):
            raise TypeError(f"duration must be a timedelta, got {type(duration).__name__}")
        remaining = duration // _US
        if remaining < 0:
            raise ValueError(f"duration must not be negative, got {duration}")
        if remaining == 0:
            return start.astimezone(UTC)
        week_total = self._weekly_total
        if not week_total:
            raise self._no_hours_error("cannot add business time")
        days = self._days
        ordinal = self._local_ordinal(start) - 1
        idle = 0
        try:
            while True:
                if ordinal % 7 == 1 and remaining > week_total:  # a Monday: try to skip the week
                    week_start = self._week_start(ordinal)
                    if week_start is not None and cur <= week_start:
                        remaining -= week_total
                        cur = week_start + _WEEK_US
                        ordinal += 7
                        idle = 0
                        continue
                spans = days.get(ordinal)
                if spans is None:
                    spans = self._day_spans(ordinal)
                for s, e in spans:
                    if e <= cur:
                        continue
                    if s > cur:
                        cur = s
                    available = e - cur
                    if remaining <= available:
                        return _from_us(cur + remaining)
                    remaining -= available
                    cur = e
                    idle = 0
                ordinal += 1
                idle += 1
                if idle > _SEARCH_LIMIT_DAYS:
                    raise ValueError(
                        f"no business hours within {_SEARCH_LIMIT_DAYS} days after "
                        f"{_from_us(cur).isoformat()} in {self!r}"
                    )
        except OverflowError:
            raise ValueError("result is outside the supported date range") from None

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time within ``[start, end)``; zero when ``end <= start``."""
        lo = _to_us(start, "start")
        hi = _to_us(end, "end")
        if hi <= lo or not self._weekly_total:
            return timedelta(0)
        week_total = self._weekly_total
        days = self._days
        ordinal = self._local_ordinal(start) - 1
        last = self._local_ordinal(end) + 1
        cur = lo
        total = 0
        try:
            while ordinal <= last:
                if ordinal % 7 == 1 and ordinal + 7 <= last:  # a Monday: try to skip the week
                    week_start = self._week_start(ordinal)
                    if week_start is not None and cur <= week_start <= hi - _WEEK_US:
                        total += week_total
                        cur = week_start + _WEEK_US
                        ordinal += 7
                        continue
                spans = days.get(ordinal)
                if spans is None:
                    spans = self._day_spans(ordinal)
                for s, e in spans:
                    if e <= cur:
                        continue
                    if s >= hi:
                        return timedelta(microseconds=total)
                    total += min(e, hi) - max(s, cur)
                ordinal += 1
        except OverflowError:
            raise ValueError("span reaches outside the supported date range") from None
        return timedelta(microseconds=total)

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` lies inside business hours (open at opening, closed at closing)."""
        x = _to_us(at, "at")
        ordinal = self._local_ordinal(at)
        for day in (ordinal - 1, ordinal, ordinal + 1):
            for s, e in self._day_spans(day):
                if s <= x < e:
                    return True
        return False

    def next_open(self, at: datetime) -> datetime:
        """The first open instant at or after ``at`` (UTC); ``at`` itself if open."""
        cur = _to_us(at, "at")
        if not self._weekly_total:
            raise self._no_hours_error("no next opening")
        ordinal = self._local_ordinal(at) - 1
        try:
            for _ in range(_SEARCH_LIMIT_DAYS + 2):
                for s, e in self._day_spans(ordinal):
                    if e > cur:
                        return _from_us(max(s, cur))
                ordinal += 1
        except OverflowError:
            raise ValueError("no opening within the supported date range") from None
        raise ValueError(
            f"no business hours within {_SEARCH_LIMIT_DAYS} days after {at.isoformat()} "
            f"in {self!r}"
        )
