"""Issue 21: a write that holds its ticket locked hands the instance to its in-request
reactions (`events.hold_ticket` / `events.held_ticket`), only while the instance is the
row as the write leaves it."""
from __future__ import annotations

import pytest

from helpdesk.roles import Role
from tests.factories import make_org, make_ticket, make_user, team
from tickets import events, services
from tickets.models import Ticket
from tickets.state_machine import Status

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seen():
    """What an in-request PublicReply handler got from `held_ticket`."""
    got: list[object] = []

    def handler(event: events.PublicReply) -> None:
        got.append(events.held_ticket(event.ticket_id))

    events.subscribe(events.PublicReply, handler)
    yield got
    events.unsubscribe(events.PublicReply, handler)


@pytest.fixture
def ticket():
    customer = make_user(Role.CUSTOMER, org=make_org())
    agent = make_user(Role.AGENT, teams=(team("l1-general"),))
    ticket = make_ticket(customer, subject="Export stops at 10k rows")
    Ticket.objects.filter(pk=ticket.pk).update(status=Status.IN_PROGRESS, assignee=agent)
    return Ticket.objects.get(pk=ticket.pk), agent


def _locked_reply(ticket_id: int, agent, **kwargs):
    # As the agent page replies: the ticket read FOR UPDATE in the write's transaction.
    with events.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket_id)
        services.add_reply(locked, author=agent, body="Fixed in 4.2.1.", locked=True,
                           **kwargs)
    return locked


def test_the_reply_hands_its_locked_ticket_as_written(ticket, seen):
    ticket, agent = ticket
    locked = _locked_reply(ticket.pk, agent)
    assert seen == [locked]
    # The instance is the row as committed: the first response and the update time.
    row = Ticket.objects.get(pk=ticket.pk)
    assert (locked.first_response_at, locked.updated_at) == (row.first_response_at,
                                                             row.updated_at)


def test_not_when_the_write_changes_the_ticket_again(ticket, seen):
    """A status change in the same write is a second event of the ticket: the handlers
    read the row."""
    ticket, agent = ticket
    _locked_reply(ticket.pk, agent, set_status=Status.WAITING_ON_CUSTOMER,
                  status_reason="Which browser?")
    assert seen == [None]
    assert Ticket.objects.get(pk=ticket.pk).status == Status.WAITING_ON_CUSTOMER


def test_not_when_a_column_left_for_the_write_differs_from_the_instance(ticket, seen):
    ticket, agent = ticket
    with events.atomic():
        locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
        services.add_reply(locked, author=agent, body="Fixed.", locked=True)
        events.write_ticket_later(ticket.pk, priority=1)  # the instance says otherwise
    assert locked.priority != 1 and seen == [None]


def test_not_from_a_write_that_does_not_hold_it(ticket, seen):
    ticket, agent = ticket
    services.add_reply(ticket, author=agent, body="Fixed.")  # locks its own copy
    assert seen == [None]
    assert events.held_ticket(ticket.pk) is None  # and never outside a write
