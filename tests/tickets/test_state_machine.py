"""The lifecycle table: every allowed transition works, every other one is refused."""
import itertools

import pytest

from tests.factories import PACKET, make_ticket
from tickets import services
from tickets.models import Ticket, TicketEvent
from tickets.state_machine import (
    ASSIGNEE,
    REASON,
    TO_TEAM,
    TRANSITIONS,
    Status,
    TransitionError,
    allowed_targets,
    check,
)
from tickets.state_machine import (
    PACKET as PACKET_INPUT,
)

ALL_PAIRS = list(itertools.product(Status, Status))
ALLOWED = sorted(TRANSITIONS, key=str)
REFUSED = [pair for pair in ALL_PAIRS if pair not in TRANSITIONS]


def full_inputs():
    return {REASON: "because", ASSIGNEE: object(), PACKET_INPUT: PACKET, TO_TEAM: object()}


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_allowed_transition_passes_with_its_inputs(source, target):
    step = check(source, target, full_inputs())
    assert (step.source, step.target) == (source, target)


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_allowed_transition_refused_when_a_required_input_is_missing(source, target):
    step = TRANSITIONS[(source, target)]
    for name in step.requires:
        inputs = full_inputs()
        inputs[name] = ""
        with pytest.raises(TransitionError) as exc:
            check(source, target, inputs)
        assert name in exc.value.missing


@pytest.mark.parametrize(("source", "target"), REFUSED)
def test_every_pair_outside_the_table_is_refused(source, target):
    with pytest.raises(TransitionError, match="cannot go from"):
        check(source, target, full_inputs())


def test_closed_is_terminal_and_new_is_only_a_start():
    assert allowed_targets(Status.CLOSED) == []
    assert not any(t == Status.NEW for (_, t) in TRANSITIONS)


def test_waiting_states_escalation_and_reopen_require_their_inputs():
    assert REASON in TRANSITIONS[(Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)].requires
    assert REASON in TRANSITIONS[(Status.IN_PROGRESS, Status.WAITING_ON_THIRD_PARTY)].requires
    assert PACKET_INPUT in TRANSITIONS[(Status.IN_PROGRESS, Status.ESCALATED)].requires
    assert PACKET_INPUT in TRANSITIONS[(Status.IN_PROGRESS, Status.ENGINEERING)].requires
    assert REASON in TRANSITIONS[(Status.RESOLVED, Status.IN_PROGRESS)].requires


def test_customers_may_only_resolve_resume_and_reopen():
    names = {t.name for t in TRANSITIONS.values() if t.customer_allowed}
    assert names == {"resolve", "resume", "reopen"}
    with pytest.raises(TransitionError, match="Customers cannot"):
        check(Status.IN_PROGRESS, Status.ESCALATED, full_inputs(), customer=True)


def test_unknown_status_is_a_clear_error():
    with pytest.raises(TransitionError, match="Unknown status"):
        check("new", "done")


# --- the same table, through the service, on real tickets -----------------------------

def _ticket_in(status, requester):
    ticket = make_ticket(requester)
    Ticket.objects.filter(pk=ticket.pk).update(status=status.value)
    return Ticket.objects.get(pk=ticket.pk)


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_service_performs_every_allowed_transition_and_audits_it(
        source, target, customer_a, agent, l2):
    ticket = _ticket_in(source, customer_a)
    before_events = ticket.events.count()
    ticket = services.transition(ticket, target, actor=agent, reason="because",
                                 assignee=agent, packet=PACKET, to_team=l2)
    ticket.refresh_from_db()
    assert ticket.status == target.value
    event = ticket.events.filter(kind="status").latest("id")
    assert (event.before, event.after, event.actor) == (source.value, target.value, agent)
    assert ticket.events.count() > before_events


@pytest.mark.django_db
@pytest.mark.parametrize(("source", "target"), [p for p in REFUSED if p[0] != p[1]])
def test_service_refuses_every_other_transition_and_changes_nothing(
        source, target, customer_a, agent, l2):
    ticket = _ticket_in(source, customer_a)
    events = TicketEvent.objects.filter(ticket=ticket).count()
    with pytest.raises(TransitionError):
        services.transition(ticket, target, actor=agent, reason="because",
                            assignee=agent, packet=PACKET, to_team=l2)
    ticket.refresh_from_db()
    assert ticket.status == source.value
    assert TicketEvent.objects.filter(ticket=ticket).count() == events
