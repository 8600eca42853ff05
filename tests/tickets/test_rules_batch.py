"""Triggers on batch writes: the queue's bulk bar and an incident's update fanned out to its
tickets fire "updated", "status changed" and "agent reply" triggers for each ticket they
change, with the once-per-update loop guard, in queries that do not grow with the tickets."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.roles import Role
from tests.factories import make_ticket, make_user, team
from tickets import batch
from tickets.models import RuleFire, Ticket, TicketEvent, Trigger
from tickets.state_machine import Status

pytestmark = pytest.mark.django_db


def trigger(name: str, events: list[str], conditions: list, actions: list, *, order: int = 10,
            **kw) -> Trigger:
    return Trigger.objects.create(name=name, events=events, conditions=conditions,
                                  actions=actions, order=order, **kw)


def cond(field: str, op: str, value) -> dict:
    return {"field": field, "op": op, "value": value}


def act(action: str, value=None) -> dict:
    return {"action": action, "value": value}


@pytest.fixture
def desk(customer_a):
    l1 = team("l1-general")
    agent = make_user(Role.AGENT, teams=(l1,))
    ids = [make_ticket(customer_a, subject=f"Case {i}").pk for i in range(62)]
    Ticket.objects.filter(pk__in=ids).update(status=Status.IN_PROGRESS, team=l1,
                                             assignee=agent)
    return agent, ids


def tags_of(pk: int) -> set[str]:
    return set(Ticket.objects.get(pk=pk).tags.values_list("name", flat=True))


def test_a_bulk_status_change_fires_the_status_trigger_on_each_ticket_in_order(desk):
    agent, ids = desk
    some, other = ids[:5], ids[5]
    Ticket.objects.filter(pk=other).update(priority=1)
    trigger("Then: urgent waiting tickets are watched", ["status_changed"],
            [cond("tags", "includes", "carrier")], [act("add_tags", "watched")], order=20)
    trigger("First: tag the carrier waits", ["status_changed"],
            [cond("status", "is", Status.WAITING_ON_THIRD_PARTY)],
            [act("add_tags", "carrier"), act("set_priority", 2)], order=10)
    trigger("Replies only", ["agent_reply"], [], [act("add_tags", "replied")])
    result = batch.bulk_update([*some, other], actor=agent,
                               status=Status.WAITING_ON_THIRD_PARTY, reason="Carrier")
    assert len(result.changed) == 6
    for pk in [*some, other]:
        assert tags_of(pk) == {"carrier", "watched"}  # the second saw the first's tag
        assert Ticket.objects.get(pk=pk).priority == 2
        fired = list(TicketEvent.objects.filter(ticket_id=pk, kind="rule").order_by("id")
                     .values_list("after", flat=True))
        assert fired == ["First: tag the carrier waits",
                         "Then: urgent waiting tickets are watched"]
        priority = TicketEvent.objects.get(ticket_id=pk, field="priority")
        assert priority.actor is None and "First: tag the carrier waits" in priority.note
    assert RuleFire.objects.filter(trigger__name="First: tag the carrier waits").count() == 6
    # A ticket the bulk change left alone met no trigger.
    assert tags_of(ids[6]) == set()


def test_a_bulk_assignment_is_an_update_and_refused_tickets_fire_nothing(desk, agent):
    _, ids = desk
    closed = ids[0]
    Ticket.objects.filter(pk=closed).update(status=Status.CLOSED)
    rule = trigger("Tag handovers", ["assigned"], [], [act("add_tags", "handover")])
    everything = trigger("Every update", ["updated"], [cond("priority", "gte", 1)],
                         [act("add_note", "Bulk-changed.")])
    result = batch.bulk_update(ids[:4], actor=agent, assignee=agent)
    assert result.changed == ids[1:4] or set(result.changed) <= set(ids[:4])
    for pk in result.changed:
        assert "handover" in tags_of(pk)
    assert RuleFire.objects.filter(trigger=rule).count() == len(result.changed)
    assert RuleFire.objects.filter(trigger=everything).count() == len(result.changed)
    assert not RuleFire.objects.filter(ticket_id__in=set(ids[:4]) - set(result.changed))


def test_a_ping_pong_in_a_bulk_change_stops_once_per_ticket_with_a_warning(desk):
    agent, ids = desk
    trigger("Waiting means P1", ["status_changed"],
            [cond("status", "is", Status.WAITING_ON_THIRD_PARTY)], [act("set_priority", 1)],
            order=1)
    up = trigger("P1 becomes P2", ["priority_changed"], [cond("priority", "is", 1)],
                 [act("set_priority", 2)], order=2)
    down = trigger("P2 becomes P1", ["priority_changed"], [cond("priority", "is", 2)],
                   [act("set_priority", 1)], order=3)
    batch.bulk_update(ids[:3], actor=agent, status=Status.WAITING_ON_THIRD_PARTY,
                      reason="Carrier")
    for pk in ids[:3]:
        assert RuleFire.objects.filter(trigger=up, ticket_id=pk).count() == 1
        assert RuleFire.objects.filter(trigger=down, ticket_id=pk).count() == 1
        assert Ticket.objects.get(pk=pk).priority == 1
    up.refresh_from_db()
    assert "would fire again" in up.last_warning
    assert all(f"#{pk}" in up.last_warning for pk in ids[:3])
    down.refresh_from_db()
    assert down.last_warning == ""
    # The next bulk change is a new update: each may fire once again.
    Ticket.objects.filter(pk__in=ids[:3]).update(priority=3)
    batch.bulk_update(ids[:3], actor=agent, status=Status.IN_PROGRESS, reason="Back")
    batch.bulk_update(ids[:3], actor=agent, status=Status.WAITING_ON_THIRD_PARTY,
                      reason="Again")
    assert RuleFire.objects.filter(trigger=up).count() == 6


def _queries(agent, ids: list[int], capture, *, reactions: bool = True) -> int:
    with CaptureQueriesContext(connection) as ctx, capture(execute=reactions):
        # Each call moves the tickets there and back: both directions are status changes.
        batch.bulk_update(ids, actor=agent, status=Status.WAITING_ON_THIRD_PARTY,
                          reason="Carrier")
        batch.bulk_update(ids, actor=agent, status=Status.IN_PROGRESS, reason="Back")
    return len(ctx.captured_queries)


def test_triggers_on_a_bulk_change_cost_queries_per_rule_not_per_ticket(
        desk, django_capture_on_commit_callbacks):
    agent, ids = desk
    capture = django_capture_on_commit_callbacks
    _queries(agent, ids[60:62], capture)  # warm the per-process caches
    plain = _queries(agent, ids[:10], capture)
    assert _queries(agent, ids[10:60], capture) == plain
    # 30 triggers on these events whose conditions do not hold (tags and text read once).
    for i in range(30):
        trigger(f"Rule {i}", ["status_changed", "updated"],
                [cond("tags", "includes", f"zz{i}"), cond("text", "contains", f"zz{i}")],
                [act("add_tags", "x")], match_all=False)
    _queries(agent, ids[60:62], capture)
    none_match = _queries(agent, ids[:10], capture)
    assert _queries(agent, ids[10:60], capture) == none_match
    # Per write: the tickets read once, their tags once.
    assert none_match - plain == 2 * 2
    # One that fires, with a set-wise action: its statements once per write, not per ticket.
    trigger("Note every wait", ["status_changed"],
            [cond("status", "is", Status.WAITING_ON_THIRD_PARTY)],
            [act("add_note", "Waiting on the carrier.")])
    _queries(agent, ids[60:62], capture)
    one_fires = _queries(agent, ids[:10], capture)
    assert _queries(agent, ids[10:60], capture) == one_fires
    assert RuleFire.objects.filter(trigger__name="Note every wait").count() == 2 + 10 + 50


def test_tag_actions_on_a_bulk_change_are_set_wise_and_audited_per_ticket(
        desk, django_capture_on_commit_callbacks):
    agent, ids = desk
    capture = django_capture_on_commit_callbacks
    stale = Ticket.objects.get(pk=ids[0]).tags.create(name="stale")
    Ticket.objects.get(pk=ids[10]).tags.add(stale)  # one to untag in each group
    trigger("Tag the waits", ["status_changed"],
            [cond("status", "is", Status.WAITING_ON_THIRD_PARTY)],
            [act("add_tags", "carrier, Waiting"), act("remove_tags", "stale")])
    # The write itself (the reactions after commit are the apps'; sla and casework
    # re-read each ticket whose tags changed, with or without triggers).
    _queries(agent, ids[60:62], capture, reactions=False)  # warm
    ten = _queries(agent, ids[:10], capture, reactions=False)
    assert _queries(agent, ids[10:60], capture, reactions=False) == ten
    assert tags_of(ids[0]) == tags_of(ids[59]) == {"carrier", "waiting"}
    rows = TicketEvent.objects.filter(ticket_id=ids[0], field="tags").order_by("id")
    assert [(r.before, r.after) for r in rows][0] == ("stale", "carrier, stale, waiting")
    assert [(r.before, r.after) for r in rows][1] == ("carrier, stale, waiting",
                                                      "carrier, waiting")
    assert all(r.actor is None and "Tag the waits" in r.note for r in rows)
    fire = TicketEvent.objects.filter(ticket_id=ids[0], kind="rule").first()
    assert fire.note == "tags + carrier, waiting; tags \u2212 stale"
    # A second move to waiting changes no tag: the fire says so, no tags row is added.
    _queries(agent, ids[1:2], capture)
    assert TicketEvent.objects.filter(ticket_id=ids[1], field="tags").count() == 1
    assert TicketEvent.objects.filter(ticket_id=ids[1], kind="rule").last().note == \
        "no change"
