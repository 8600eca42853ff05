"""Pure on-call rules: weekly turns across DST, rotation order, the paged-twice skip, iCal."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from workforce import oncall

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def berlin_monday_9(starts_on: date = date(2026, 3, 2)) -> oncall.Handoffs:
    return oncall.Handoffs("Europe/Berlin", starts_on, 0, time(9))


# --- turns in time ----------------------------------------------------------------------

def test_first_handoff_moves_forward_to_the_handoff_weekday():
    h = oncall.Handoffs("UTC", date(2026, 3, 4), 0, time(9))  # a Wednesday
    assert h.first_date == date(2026, 3, 9)
    assert h.start(0) == datetime(2026, 3, 9, 9, tzinfo=UTC)


def test_turns_keep_the_local_handoff_time_across_spring_forward_in_berlin():
    h = berlin_monday_9(date(2026, 3, 23))
    # Turn 0: Mon 23 Mar 09:00 CET (08:00 UTC) → Mon 30 Mar 09:00 CEST (07:00 UTC).
    start, end = h.window(0)
    assert start == datetime(2026, 3, 23, 8, tzinfo=UTC)
    assert end == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert end - start == timedelta(hours=167)
    assert end.astimezone(BERLIN).time() == time(9)
    assert h.window(1)[1] - h.window(1)[0] == timedelta(hours=168)


def test_turns_keep_the_local_handoff_time_across_fall_back_in_berlin():
    h = berlin_monday_9(date(2026, 10, 19))
    start, end = h.window(0)
    assert start == datetime(2026, 10, 19, 7, tzinfo=UTC)
    assert end == datetime(2026, 10, 26, 8, tzinfo=UTC)
    assert end - start == timedelta(hours=169)


def test_sunday_handoff_on_the_day_of_the_change_itself():
    # Handoff Sunday 09:00 Berlin: the turn that ends on 29 Mar 2026 is 167 h long.
    h = oncall.Handoffs("Europe/Berlin", date(2026, 3, 22), 6, time(9))
    start, end = h.window(0)
    assert end == datetime(2026, 3, 29, 7, tzinfo=UTC)
    assert end - start == timedelta(hours=167)
    h = oncall.Handoffs("Europe/Berlin", date(2026, 10, 18), 6, time(9))
    start, end = h.window(0)
    assert end - start == timedelta(hours=169)
    assert end.astimezone(BERLIN).time() == time(9)


def test_new_york_turns_across_both_changes():
    h = oncall.Handoffs("America/New_York", date(2026, 3, 2), 0, time(10))
    lengths = {h.window(w)[0].date(): (h.window(w)[1] - h.window(w)[0]) / timedelta(hours=1)
               for w in range(40)}
    # US changes on 8 Mar 2026 and 1 Nov 2026.
    assert lengths[date(2026, 3, 2)] == 167
    assert lengths[date(2026, 10, 26)] == 169
    assert sorted(set(lengths.values())) == [167, 168, 169]
    for w in range(40):
        assert h.local_start(w).astimezone(NEW_YORK).time() == time(10)
        assert h.start(w).astimezone(NEW_YORK).weekday() == 0


@pytest.mark.parametrize("tz", ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"])
def test_week_at_finds_the_turn_at_every_boundary(tz):
    h = oncall.Handoffs(tz, date(2026, 1, 5), 0, time(9))
    for w in range(60):
        start, end = h.window(w)
        assert h.week_at(start) == w
        assert h.week_at(start - timedelta(seconds=1)) == w - 1
        assert h.week_at(start + (end - start) / 2) == w
        assert h.week_at(end - timedelta(seconds=1)) == w


def test_before_the_first_handoff_the_week_is_negative():
    h = berlin_monday_9()
    assert h.week_at(datetime(2026, 3, 1, tzinfo=UTC)) == -1
    assert oncall.assign(["a", "b"], -1) == oncall.Assignment(-1, None, None)


def test_week_at_needs_an_aware_datetime():
    with pytest.raises(ValueError):
        berlin_monday_9().week_at(datetime(2026, 3, 10))


# --- order and the paged-twice rule -----------------------------------------------------

def test_rotation_order_over_many_weeks():
    members = ["ann", "bob", "cem", "dora"]
    for week in range(200):
        a = oncall.assign(members, week)
        assert a.primary == members[week % 4]
        assert a.secondary == members[(week + 1) % 4]
        assert a.skipped == ()


def test_one_member_has_no_secondary_and_no_members_nobody():
    assert oncall.assign(["ann"], 3) == oncall.Assignment(3, "ann", None)
    assert oncall.assign([], 3) == oncall.Assignment(3, None, None)


def test_paged_twice_is_skipped_the_following_week_and_back_in_order_after():
    members = ["ann", "bob", "cem", "dora"]
    # Week 4: ann primary, bob secondary. Bob is paged twice (escalations) in week 4,
    # so in week 5, where he would be primary, cem takes over and dora is secondary.
    pages = {4: {"bob": 2, "ann": 1}}
    plan = oncall.plan(members, range(4, 8), pages, threshold=2)
    assert [(a.primary, a.secondary) for a in plan] == [
        ("ann", "bob"),
        ("cem", "dora"),     # bob skipped
        ("cem", "dora"),     # back in the plain order: week 6 is cem's turn
        ("dora", "ann"),
    ]
    assert plan[1].skipped == ("bob",)
    assert plan[2].skipped == ()


def test_paged_once_is_not_skipped_and_threshold_zero_disables_the_rule():
    members = ["ann", "bob", "cem"]
    assert oncall.plan(members, [1], {0: {"bob": 1}}, 2)[0].primary == "bob"
    assert oncall.plan(members, [1], {0: {"bob": 5}}, 0)[0].primary == "bob"
    assert oncall.plan(members, [1], {0: {"bob": 3}}, 3)[0].primary == "cem"


def test_skipped_member_is_not_secondary_either():
    members = ["ann", "bob", "cem"]
    a = oncall.assign(members, 0, {"bob"})
    assert (a.primary, a.secondary) == ("ann", "cem")


def test_everyone_skipped_falls_back_to_the_plain_order():
    members = ["ann", "bob"]
    a = oncall.assign(members, 1, {"ann", "bob"})
    assert (a.primary, a.secondary, a.skipped) == ("bob", "ann", ())


def test_only_one_member_can_be_spared_secondary_falls_back():
    a = oncall.assign(["ann", "bob"], 0, {"bob"})
    assert (a.primary, a.secondary) == ("ann", "bob")


def test_paged_twice_rule_across_many_weeks_never_puts_a_skipped_member_on_call():
    members = list("abcde")
    pages = {w: {members[(w * 3) % 5]: 2} for w in range(50)}
    for a in oncall.plan(members, range(1, 50), pages, 2):
        tired = members[((a.week - 1) * 3) % 5]
        assert tired not in (a.primary, a.secondary)


# --- business hours ---------------------------------------------------------------------

@pytest.mark.parametrize(("local", "after"), [
    (datetime(2026, 3, 10, 8, 59), True),
    (datetime(2026, 3, 10, 9, 0), False),
    (datetime(2026, 3, 10, 16, 59), False),
    (datetime(2026, 3, 10, 17, 0), True),
    (datetime(2026, 3, 14, 12, 0), True),   # Saturday
    (datetime(2026, 3, 15, 12, 0), True),   # Sunday
])
def test_after_hours(local, after):
    assert oncall.is_after_hours(local, time(9), time(17)) is after


# --- iCalendar --------------------------------------------------------------------------

def unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_calendar_structure_crlf_and_utc_times():
    h = berlin_monday_9(date(2026, 3, 23))
    events = [oncall.CalendarEvent(uid=f"rotation-1-week-{w}-primary@helpdesk",
                                   starts_at=h.start(w), ends_at=h.start(w + 1),
                                   summary="Ops; Berlin, primary") for w in range(2)]
    text = oncall.ical_calendar(events, name="Ops", stamp=datetime(2026, 3, 20, tzinfo=UTC))
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    lines = unfold(text)[:-1]
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == 2
    assert "DTSTART:20260323T080000Z" in lines
    assert "DTEND:20260330T070000Z" in lines
    assert "SUMMARY:Ops\\; Berlin\\, primary" in lines


def test_long_lines_fold_at_75_octets_without_splitting_characters():
    summary = "Bereitschaft für Jürgen Müller-Lüdenscheidt " * 5
    event = oncall.CalendarEvent(uid="x@y", starts_at=datetime(2026, 1, 1, tzinfo=UTC),
                                 ends_at=datetime(2026, 1, 2, tzinfo=UTC), summary=summary)
    text = oncall.ical_calendar([event], name="Ops", stamp=datetime(2026, 1, 1, tzinfo=UTC))
    raw_lines = text.encode("utf-8").split(b"\r\n")
    assert max(len(line) for line in raw_lines) <= 75
    assert any(line.startswith(b" ") for line in raw_lines)
    for line in raw_lines:
        line.decode("utf-8")  # no character cut in half
    assert f"SUMMARY:{summary}" in unfold(text)
