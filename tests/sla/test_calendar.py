"""BusinessCalendar: scenarios a support lead recognises, DST edges, properties."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sla.calendar import BusinessCalendar

LONDON = ZoneInfo("Europe/London")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
SANTIAGO = ZoneInfo("America/Santiago")

H = timedelta(hours=1)
MIN = timedelta(minutes=1)
US = timedelta(microseconds=1)
NINE_TO_FIVE = [(time(9), time(17))]
WEEKDAYS = range(5)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone, *args) -> datetime:
    return datetime(*args, tzinfo=zone)


def office(zone="Europe/London", hours=NINE_TO_FIVE, holidays=()) -> BusinessCalendar:
    return BusinessCalendar(zone, {d: hours for d in WEEKDAYS}, holidays)


def every_day(zone, hours) -> BusinessCalendar:
    return BusinessCalendar(zone, {d: hours for d in range(7)})


@pytest.fixture
def london():
    return office()


# --- Everyday scenarios: Mon-Fri 09:00-17:00 Europe/London -------------------------------


def test_ticket_after_friday_close_is_due_monday_ten(london):
    # Friday 2026-01-09 17:55, 1 h first-response target.
    due = london.add(local(LONDON, 2026, 1, 9, 17, 55), H)
    assert due == local(LONDON, 2026, 1, 12, 10, 0)
    assert due.tzinfo is UTC


def test_four_business_hours_from_thursday_afternoon(london):
    assert london.add(local(LONDON, 2026, 1, 8, 15), 4 * H) == local(LONDON, 2026, 1, 9, 11)


def test_duration_used_up_at_closing_returns_closing_not_next_opening(london):
    due = london.add(local(LONDON, 2026, 1, 8, 16), H)
    assert due == local(LONDON, 2026, 1, 8, 17)
    assert london.add(local(LONDON, 2026, 1, 8, 16), H + US) == local(
        LONDON, 2026, 1, 9, 9, 0, 0, 1
    )


def test_holidays_are_skipped():
    cal = office(holidays=[date(2026, 12, 25), date(2026, 12, 28)])
    # Thu 24 Dec 16:00 + 2 h: one hour on Thursday, Fri 25 and Mon 28 closed -> Tue 29 10:00.
    assert cal.add(local(LONDON, 2026, 12, 24, 16), 2 * H) == local(LONDON, 2026, 12, 29, 10)
    # Thu 24 and Tue 29 open; Fri 25, the weekend and Mon 28 closed.
    assert cal.elapsed(local(LONDON, 2026, 12, 24), local(LONDON, 2026, 12, 30)) == 16 * H
    assert not cal.is_open(local(LONDON, 2026, 12, 25, 12))


def test_start_exactly_at_opening(london):
    opening = local(LONDON, 2026, 1, 5, 9)
    assert london.add(opening, 8 * H) == local(LONDON, 2026, 1, 5, 17)
    assert london.add(opening, US) == opening + US
    assert london.is_open(opening)


def test_start_during_lunch_break_with_split_hours():
    cal = office(hours=[(time(13), time(17)), (time(9), time(12))])  # given unsorted
    assert cal.add(local(LONDON, 2026, 1, 6, 12, 30), H) == local(LONDON, 2026, 1, 6, 14)
    assert cal.add(local(LONDON, 2026, 1, 6, 11, 30), H) == local(LONDON, 2026, 1, 6, 13, 30)
    assert cal.elapsed(local(LONDON, 2026, 1, 6), local(LONDON, 2026, 1, 7)) == 7 * H
    assert cal.next_open(local(LONDON, 2026, 1, 6, 12, 30)) == local(LONDON, 2026, 1, 6, 13)


def test_weekend_is_skipped_and_thirty_business_days_is_six_weeks(london):
    start = local(LONDON, 2026, 1, 5, 10)  # Monday
    due = london.add(start, 30 * 8 * H)
    assert due == local(LONDON, 2026, 2, 16, 10)
    assert london.elapsed(start, due) == 30 * 8 * H


def test_hours_follow_local_wall_clock_across_dst(london):
    # Fri 2026-03-27 16:00 GMT + 2 h -> Mon 2026-03-30 10:00 BST (= 09:00 UTC).
    assert london.add(local(LONDON, 2026, 3, 27, 16), 2 * H) == utc(2026, 3, 30, 9)
    ny = office("America/New_York")
    # Fri 2026-10-30 16:00 EDT + 2 h -> Mon 2026-11-02 10:00 EST (= 15:00 UTC).
    assert ny.add(local(NEW_YORK, 2026, 10, 30, 16), 2 * H) == utc(2026, 11, 2, 15)


def test_input_in_another_zone_gives_the_same_instant(london):
    start = local(LONDON, 2026, 1, 8, 15)
    assert london.add(start.astimezone(NEW_YORK), 4 * H) == london.add(start, 4 * H)


def test_zero_duration_returns_start_in_utc_even_outside_hours(london):
    start = local(NEW_YORK, 2026, 1, 10, 3)  # Saturday
    result = london.add(start, timedelta(0))
    assert result == start
    assert result.tzinfo is UTC


def test_elapsed_with_end_not_after_start_is_zero(london):
    a = local(LONDON, 2026, 1, 6, 10)
    assert london.elapsed(a, a) == timedelta(0)
    assert london.elapsed(a, a - H) == timedelta(0)


def test_elapsed_is_half_open(london):
    assert london.elapsed(local(LONDON, 2026, 1, 6, 16, 59), local(LONDON, 2026, 1, 6, 17)) == MIN
    before_opening = london.elapsed(local(LONDON, 2026, 1, 6, 8), local(LONDON, 2026, 1, 6, 9))
    assert before_opening == timedelta(0)


def test_is_open_at_boundaries(london):
    assert london.is_open(local(LONDON, 2026, 1, 6, 9))
    assert london.is_open(local(LONDON, 2026, 1, 6, 16, 59, 59, 999_999))
    assert not london.is_open(local(LONDON, 2026, 1, 6, 17))
    assert not london.is_open(local(LONDON, 2026, 1, 6, 8, 59, 59, 999_999))
    assert not london.is_open(local(LONDON, 2026, 1, 10, 12))  # Saturday


def test_next_open(london):
    inside = local(NEW_YORK, 2026, 1, 6, 6)  # 11:00 London
    assert london.next_open(inside) == inside
    assert london.next_open(inside).tzinfo is UTC
    assert london.next_open(local(LONDON, 2026, 1, 9, 17)) == local(LONDON, 2026, 1, 12, 9)
    assert london.next_open(local(LONDON, 2026, 1, 6, 7)) == local(LONDON, 2026, 1, 6, 9)


def test_always_adds_plainly():
    cal = BusinessCalendar.always()
    start = local(BERLIN, 2026, 3, 28, 12, 0, 0, 7)
    # Across Berlin's spring-forward night: 100 physical hours.
    assert cal.add(start, 100 * H) == start.astimezone(UTC) + 100 * H
    assert cal.elapsed(start, start + 3 * H) == 3 * H
    assert cal.is_open(start)
    assert cal.next_open(start) == start
    assert cal.timezone == "UTC"


def test_interval_ending_at_midnight_is_contiguous_with_next_day():
    cal = BusinessCalendar("UTC", {0: [(time(18), time(0))], 1: [(time(0), time(6))]})
    assert cal.add(utc(2026, 1, 5, 23), 2 * H) == utc(2026, 1, 6, 1)
    assert cal.add(utc(2026, 1, 5, 17), 12 * H) == utc(2026, 1, 6, 6)
    assert cal.add(utc(2026, 1, 5, 23), H) == utc(2026, 1, 6, 0)
    assert cal.is_open(utc(2026, 1, 6, 0))
    assert not cal.is_open(utc(2026, 1, 6, 6))
    assert cal.elapsed(utc(2026, 1, 5), utc(2026, 1, 7)) == 12 * H


def test_full_24h_days():
    cal = BusinessCalendar("UTC", {0: [(time(0), time(0))], 1: [(time(0), time(0))]})
    monday_noon = utc(2026, 1, 5, 12)
    assert cal.add(monday_noon, 30 * H) == utc(2026, 1, 6, 18)
    assert cal.add(monday_noon, 36 * H) == utc(2026, 1, 7, 0)  # closing of Tuesday
    assert cal.add(monday_noon, 36 * H + US) == utc(2026, 1, 12, 0, 0, 0, 1)
    assert cal.elapsed(utc(2026, 1, 1), utc(2026, 1, 31)) == 8 * 24 * H  # 4 Mondays, 4 Tuesdays


def test_microsecond_precision(london):
    start = local(LONDON, 2026, 1, 6, 16, 59, 59, 999_998)
    assert london.add(start, US) == start + US
    assert london.add(start, 3 * US) == local(LONDON, 2026, 1, 7, 9, 0, 0, 1)
    assert london.elapsed(start, local(LONDON, 2026, 1, 7, 9, 0, 0, 5)) == 7 * US


# --- DST: physical lengths follow zoneinfo's fold=0 conversion ---------------------------


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (BERLIN, date(2026, 3, 29), 23),
        (BERLIN, date(2026, 10, 25), 25),
        (NEW_YORK, date(2026, 3, 8), 23),
        (NEW_YORK, date(2026, 11, 1), 25),
        (SYDNEY, date(2026, 4, 5), 25),  # southern hemisphere: DST ends in April
        (SYDNEY, date(2026, 10, 4), 23),
        (BERLIN, date(2026, 3, 30), 24),
    ],
)
def test_whole_day_lasts_its_physical_length(zone, day, hours):
    cal = every_day(zone.key, [(time(0), time(0))])
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    assert cal.elapsed(start, end) == hours * H
    assert cal.add(start, hours * H) == end
    assert end.astimezone(UTC) - start.astimezone(UTC) == hours * H


def test_sunday_only_calendar_on_spring_forward_day():
    cal = BusinessCalendar("Europe/Berlin", {6: [(time(0), time(0))]})
    saturday = local(BERLIN, 2026, 3, 28, 12)
    assert cal.add(saturday, 23 * H) == utc(2026, 3, 29, 22)  # Monday 00:00 CEST
    assert cal.add(saturday, 23 * H + US) == local(BERLIN, 2026, 4, 5, 0, 0, 0, 1)


@pytest.mark.parametrize(
    ("zone", "spring", "autumn"),
    [
        (BERLIN, date(2026, 3, 29), date(2026, 10, 25)),
        (NEW_YORK, date(2026, 3, 8), date(2026, 11, 1)),
    ],
)
def test_business_hours_across_the_dst_gap_and_overlap(zone, spring, autumn):
    cal = every_day(zone.key, [(time(1), time(4))])

    def day_total(day):
        return cal.elapsed(
            datetime.combine(day, time(0), zone),
            datetime.combine(day + timedelta(days=1), time(0), zone),
        )

    assert day_total(spring) == 2 * H
    assert day_total(autumn) == 4 * H
    assert day_total(spring - timedelta(days=1)) == 3 * H
    # Spring: 01:00 standard time + 2 h of business time -> 04:00 summer time.
    spring_start = datetime.combine(spring, time(0), zone)
    assert cal.add(spring_start, 2 * H) == datetime.combine(spring, time(4), zone)
    # Autumn: 01:00 (first occurrence, fold=0) + 4 h -> 04:00 standard time.
    autumn_start = datetime.combine(autumn, time(0), zone)
    assert cal.add(autumn_start, 4 * H) == datetime.combine(autumn, time(4), zone)
    assert cal.add(autumn_start, 2 * H) == cal.next_open(autumn_start) + 2 * H


def test_interval_inside_spring_forward_gap_is_empty():
    cal = every_day("Europe/Berlin", [(time(2, 30), time(3))])
    spring = date(2026, 3, 29)

    def day_total(day):
        return cal.elapsed(
            datetime.combine(day, time(0), BERLIN),
            datetime.combine(day + timedelta(days=1), time(0), BERLIN),
        )

    assert day_total(spring) == timedelta(0)
    assert day_total(spring + timedelta(days=1)) == 30 * MIN
    # Saturday 02:45 + 30 min: Saturday's 15 min, nothing on Sunday, Monday 02:45.
    assert cal.add(local(BERLIN, 2026, 3, 28, 2, 45), 30 * MIN) == local(
        BERLIN, 2026, 3, 30, 2, 45
    )


def test_interval_starting_in_gap_converts_like_zoneinfo():
    cal = every_day("Europe/Berlin", [(time(2, 30), time(4))])
    spring = date(2026, 3, 29)
    start = datetime.combine(spring, time(0), BERLIN)
    # 02:30 (fold=0) converts to 01:30 UTC = 03:30 CEST; 04:00 CEST = 02:00 UTC.
    assert cal.elapsed(start, start + 24 * H) == 30 * MIN
    assert cal.next_open(start) == utc(2026, 3, 29, 1, 30)


def test_sydney_business_hours_across_southern_dst():
    cal = office("Australia/Sydney")
    # Fri 2026-04-03 16:00 AEDT + 2 h -> Mon 2026-04-06 10:00 AEST (= 00:00 UTC).
    assert cal.add(local(SYDNEY, 2026, 4, 3, 16), 2 * H) == utc(2026, 4, 6, 0)
    # Fri 2026-10-02 16:00 AEST + 2 h -> Mon 2026-10-05 10:00 AEDT (= Sun 23:00 UTC).
    assert cal.add(local(SYDNEY, 2026, 10, 2, 16), 2 * H) == utc(2026, 10, 4, 23)


def test_midnight_dst_gap_keeps_cross_midnight_hours_contiguous():
    # America/Santiago skips local Sunday 00:00-01:00 on 2026-09-06.
    cal = BusinessCalendar(
        "America/Santiago", {5: [(time(18), time(0))], 6: [(time(0), time(6))]}
    )
    saturday = local(SANTIAGO, 2026, 9, 5, 18)
    assert saturday == utc(2026, 9, 5, 22)
    assert cal.elapsed(saturday, local(SANTIAGO, 2026, 9, 6, 6)) == 11 * H
    assert cal.add(saturday, 11 * H) == utc(2026, 9, 6, 9)  # Sunday 06:00 -03
    assert cal.add(saturday, 6 * H) == utc(2026, 9, 6, 4)


# --- Validation and errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "unknown time zone"),
        ({"timezone": ""}, "time zone"),
        ({"timezone": "../etc/passwd"}, "time zone"),
        ({"hours": {7: NINE_TO_FIVE}}, "weekday"),
        ({"hours": {-1: NINE_TO_FIVE}}, "weekday"),
        ({"hours": {0: [(time(17), time(9))]}}, "start < end"),
        ({"hours": {0: [(time(9), time(9))]}}, "start < end"),
        ({"hours": {0: [(time(9), time(12)), (time(11), time(17))]}}, "overlap"),
        ({"hours": {0: [(time(9), time(0)), (time(12), time(13))]}}, "overlap"),
        ({"hours": {0: [(time(9, tzinfo=UTC), time(17))]}}, "naive"),
        ({"hours": {0: [(time(9),)]}}, "pair"),
        ({"holidays": [datetime(2026, 12, 25)]}, "date"),
    ],
)
def test_invalid_configuration_raises_value_error(kwargs, message):
    params = {"timezone": "Europe/London", "hours": {0: NINE_TO_FIVE}} | kwargs
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(**params)


def test_unsorted_and_adjacent_intervals_are_normalised():
    cal = BusinessCalendar(
        "Europe/London",
        {0: [(time(12), time(17)), (time(9), time(12))], 1: [(time(0), time(0))]},
        [date(2026, 12, 25), date(2026, 12, 25)],
    )
    assert cal.hours == {0: ((time(9), time(17)),), 1: ((time(0), time(0)),)}
    assert cal.holidays == frozenset({date(2026, 12, 25)})
    assert cal.weekly_hours == 32 * H
    assert cal == BusinessCalendar(
        "Europe/London", {0: NINE_TO_FIVE, 1: [(time(0), time(0))]}, [date(2026, 12, 25)]
    )
    assert len({cal, BusinessCalendar.always(), BusinessCalendar.always()}) == 2
    assert repr(cal) == (
        "BusinessCalendar(timezone='Europe/London', "
        "hours={Mon 09:00-17:00; Tue 00:00-24:00}, holidays=1)"
    )


def test_naive_datetimes_raise(london):
    naive = datetime(2026, 1, 6, 10)
    aware = local(LONDON, 2026, 1, 6, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        london.add(naive, H)
    with pytest.raises(ValueError, match="timezone-aware"):
        london.elapsed(naive, aware)
    with pytest.raises(ValueError, match="timezone-aware"):
        london.elapsed(aware, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        london.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        london.next_open(naive)


def test_negative_duration_raises(london):
    with pytest.raises(ValueError, match="negative"):
        london.add(local(LONDON, 2026, 1, 6, 10), -US)


def test_calendar_without_business_hours():
    cal = BusinessCalendar("Europe/London", {})
    start = local(LONDON, 2026, 1, 6, 10)
    with pytest.raises(ValueError, match="no business hours"):
        cal.add(start, H)
    with pytest.raises(ValueError, match="no business hours"):
        cal.next_open(start)
    assert cal.add(start, timedelta(0)) == start
    assert cal.elapsed(start, start + 1000 * H) == timedelta(0)
    assert not cal.is_open(start)
    assert BusinessCalendar("UTC", {d: [] for d in range(7)}).weekly_hours == timedelta(0)


def test_long_stretch_of_holidays_raises_instead_of_looping():
    mondays = [date(2026, 1, 5) + timedelta(weeks=n) for n in range(12 * 53)]
    cal = BusinessCalendar("Europe/Berlin", {0: NINE_TO_FIVE}, mondays)
    start = local(BERLIN, 2026, 1, 1)
    with pytest.raises(ValueError, match="no business hours within"):
        cal.add(start, H)
    with pytest.raises(ValueError, match="no business hours within"):
        cal.next_open(start)
    # ... but a shorter stretch is crossed.
    short = BusinessCalendar("Europe/Berlin", {0: NINE_TO_FIVE}, mondays[:300])
    assert short.add(start, H) == datetime.combine(mondays[300], time(10), BERLIN)


def test_long_spans_round_trip():
    # Speed is measured by `python -m sla.bench_calendar`, not here.
    cal = office("Europe/Berlin", holidays=[date(2026, 12, 25), date(2027, 1, 1)])
    start = local(BERLIN, 2026, 1, 7, 11)
    due = cal.add(start, 5 * 260 * 8 * H)  # ~5 years of business time, cold cache
    assert cal.elapsed(start, due) == 5 * 260 * 8 * H


# --- Properties ----------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "America/Santiago",  # DST changes at local midnight
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Asia/Kolkata",  # half-hour offset, no DST
]
ZONEINFOS = [ZoneInfo(z) for z in ZONES]
TRANSITIONS = [  # UTC instants of DST changes, to bias starts towards them
    utc(2026, 3, 29, 1), utc(2026, 10, 25, 1), utc(2026, 3, 8, 7), utc(2026, 11, 1, 6),
    utc(2026, 4, 4, 16), utc(2026, 10, 3, 16), utc(2026, 4, 5, 3), utc(2026, 9, 6, 4),
    utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30), utc(2021, 3, 28, 1), utc(2029, 11, 4, 6),
]
MAX_DURATION_US = 60 * 8 * 3600 * 10**6  # ~60 eight-hour business days


day_minutes = st.lists(st.integers(0, 1440), max_size=6, unique=True)
holiday_offsets = st.lists(st.integers(0, 4_400), max_size=20)


@st.composite
def calendars(draw):
    """Random weekly hours (minute boundaries, 0-3 intervals a day, given in random
    order, 1440 written as time(0)), a zone, scattered holidays and maybe a shutdown."""
    zone = draw(st.sampled_from(ZONES))
    hours = {}
    for weekday in range(7):
        bounds = sorted(draw(day_minutes))
        intervals = [
            (time(start // 60, start % 60), time(end // 60 % 24, end % 60))
            for start, end in zip(bounds[::2], bounds[1::2], strict=False)
        ]
        if intervals:
            hours[weekday] = intervals[::-1] if draw(st.booleans()) else intervals
    if not hours:
        hours[draw(st.integers(0, 6))] = [(time(9), time(17))]
    base = date(2019, 12, 1)
    holidays = {base + timedelta(days=n) for n in draw(holiday_offsets)}
    if draw(st.booleans()):  # a dense block of holidays, e.g. a year-end shutdown
        first = base + timedelta(days=draw(st.integers(0, 4_000)))
        holidays |= {first + timedelta(days=n) for n in range(draw(st.integers(1, 40)))}
    return {"timezone": zone, "hours": hours, "holidays": holidays}


def bounded(cal: BusinessCalendar, duration: timedelta) -> timedelta:
    """Fold a drawn duration into at most ~60 business days (12 regular weeks) of ``cal``."""
    return duration % (12 * cal.weekly_hours + US)


near_transition = st.builds(
    lambda t, offset_us, zone: (t + timedelta(microseconds=offset_us)).astimezone(zone),
    st.sampled_from(TRANSITIONS),
    st.integers(-4 * 86_400 * 10**6, 4 * 86_400 * 10**6),
    st.sampled_from(ZONEINFOS),
)
anywhere = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2030, 12, 31),
    timezones=st.sampled_from(ZONEINFOS),
)
instants = st.one_of(near_transition, anywhere)
durations = st.integers(0, MAX_DURATION_US).map(lambda us: timedelta(microseconds=us))
small_durations = st.one_of(
    st.integers(0, 3 * 3600 * 10**6), st.sampled_from([0, 1, 60 * 10**6, 3600 * 10**6])
).map(lambda us: timedelta(microseconds=us))

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def reference_spans(params, first: date, last: date):
    """Brute force: every day's intervals converted one by one, then unioned."""
    zone = ZoneInfo(params["timezone"])
    spans = []
    day = first
    while day <= last:
        day_start = datetime.combine(day, time(0), zone).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
        if day not in params["holidays"]:
            for start, end in params["hours"].get(day.weekday(), ()):
                s = datetime.combine(day, start, zone).astimezone(UTC)
                e = day_end if end == time(0) else datetime.combine(day, end, zone).astimezone(UTC)
                s, e = max(s, day_start), min(e, day_end)
                if e > s:
                    spans.append((s, e))
        day += timedelta(days=1)
    spans.sort()
    union = []
    for s, e in spans:
        if union and s <= union[-1][1]:
            union[-1] = (union[-1][0], max(union[-1][1], e))
        else:
            union.append((s, e))
    return union


def reference_elapsed(params, start: datetime, end: datetime) -> timedelta:
    zone = ZoneInfo(params["timezone"])
    first = start.astimezone(zone).date() - timedelta(days=2)
    last = end.astimezone(zone).date() + timedelta(days=2)
    total = timedelta(0)
    for s, e in reference_spans(params, first, last):
        lo, hi = max(s, start), min(e, end)
        if hi > lo:
            total += hi - lo
    return total


@PROPERTY_SETTINGS
@given(calendars(), instants, durations)
def test_add_then_elapsed_round_trips(params, start, duration):
    cal = BusinessCalendar(**params)
    duration = bounded(cal, duration)
    due = cal.add(start, duration)
    assert due.tzinfo is UTC
    assert due >= start
    assert cal.elapsed(start, due) == duration
    if duration:
        # Earliest such instant: the last microsecond before it was business time.
        assert cal.is_open(due - US)
        assert cal.elapsed(start, due - US) == duration - US
    else:
        assert due == start.astimezone(UTC)  # (ambiguous local times never compare equal)


@PROPERTY_SETTINGS
@given(calendars(), instants, durations, durations)
def test_add_is_monotonic_and_additive(params, start, d1, d2):
    cal = BusinessCalendar(**params)
    d1, d2 = sorted((bounded(cal, d1), bounded(cal, d2)))
    assert cal.add(start, d1) <= cal.add(start, d2)
    assert cal.add(start, d1 + d2) == cal.add(cal.add(start, d1), d2)


@PROPERTY_SETTINGS
@given(calendars(), instants, small_durations, small_durations)
def test_small_steps_are_additive_near_boundaries(params, start, d1, d2):
    cal = BusinessCalendar(**params)
    assert cal.add(start, d1 + d2) == cal.add(cal.add(start, d1), d2)
    assert cal.add(start, d1 + d2) == cal.add(start, d2 + d1)


@PROPERTY_SETTINGS
@given(
    calendars(),
    instants,
    st.lists(st.integers(0, 120 * 86_400 * 10**6), min_size=2, max_size=2),
)
def test_elapsed_is_additive_bounded_and_matches_brute_force(params, a, offsets):
    cal = BusinessCalendar(**params)
    a = a.astimezone(UTC)  # physical arithmetic; then view b and c in the calendar's zone
    zone = ZoneInfo(params["timezone"])
    b, c = ((a + timedelta(microseconds=o)).astimezone(zone) for o in sorted(offsets))
    total = cal.elapsed(a, c)
    assert total == cal.elapsed(a, b) + cal.elapsed(b, c)
    assert timedelta(0) <= total <= c - a
    assert total == reference_elapsed(params, a, c)
    assert cal.elapsed(c, a) == timedelta(0)


@PROPERTY_SETTINGS
@given(calendars(), instants)
def test_is_open_and_next_open_match_brute_force(params, at):
    cal = BusinessCalendar(**params)
    at = at.astimezone(UTC)  # ambiguous local times never compare equal across zones
    zone = ZoneInfo(params["timezone"])
    day = at.astimezone(zone).date()
    spans = reference_spans(params, day - timedelta(days=2), day + timedelta(days=2))
    assert cal.is_open(at) == any(s <= at < e for s, e in spans)
    following = [max(s, at) for s, e in spans if e > at]
    opening = cal.next_open(at)
    assert opening.tzinfo is UTC
    if following:
        assert opening == following[0]
    assert cal.is_open(opening)
    assert cal.elapsed(at, opening) == timedelta(0)
