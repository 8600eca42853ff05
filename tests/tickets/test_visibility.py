"""Who sees which ticket: the one rule every view and API endpoint uses."""
import pytest
from django.http import Http404

from helpdesk.roles import Role
from tests.factories import make_ticket, make_user
from tickets import services
from tickets.selectors import get_ticket_for, queue, queue_counts, visible_tickets

pytestmark = pytest.mark.django_db


def ids(user):
    return set(visible_tickets(user).values_list("pk", flat=True))


def test_customer_sees_only_their_own_tickets(ticket_a, ticket_b, customer_a, customer_b):
    assert ids(customer_a) == {ticket_a.pk}
    assert ids(customer_b) == {ticket_b.pk}


def test_org_admin_sees_the_organizations_tickets_only(
        ticket_a, ticket_b, org_admin_a, customer_a, org_a):
    colleague = make_user(Role.CUSTOMER, org=org_a)
    other = make_ticket(colleague)
    assert ids(org_admin_a) == {ticket_a.pk, other.pk}
    assert ids(customer_a) == {ticket_a.pk}


def test_cc_of_a_merged_duplicate_can_follow_the_original(customer_a, customer_b, agent):
    original = make_ticket(customer_a)
    duplicate = make_ticket(customer_b)
    services.merge(duplicate, into=original, actor=agent)
    assert ids(customer_b) == {original.pk, duplicate.pk}


def test_agents_see_their_teams_queues_unless_granted_all(
        ticket_a, ticket_b, agent, l2_agent, manager, l2):
    assert ids(agent) == {ticket_a.pk, ticket_b.pk}  # both routed to L1
    assert ids(l2_agent) == set()
    assert ids(manager) == {ticket_a.pk, ticket_b.pk}
    services.update_ticket(ticket_b, actor=manager, changes={"team": l2})
    assert ids(agent) == {ticket_a.pk}
    assert ids(l2_agent) == {ticket_b.pk}


def test_an_agent_keeps_seeing_tickets_assigned_to_them(ticket_a, agent, l2):
    services.assign(ticket_a, assignee=agent, actor=agent)
    services.update_ticket(ticket_a, actor=agent, changes={"team": l2})
    assert ticket_a.pk in ids(agent)


def test_hidden_or_guessed_tickets_are_404(ticket_a, ticket_b, customer_a):
    assert get_ticket_for(customer_a, ticket_a.pk) == ticket_a
    for pk in (ticket_b.pk, ticket_b.pk + 1000, "abc", None):
        with pytest.raises(Http404):
            get_ticket_for(customer_a, pk)


def test_inactive_and_anonymous_users_see_nothing(ticket_a, customer_a):
    from django.contrib.auth.models import AnonymousUser

    assert ids(AnonymousUser()) == set()
    customer_a.is_active = False
    customer_a.save()
    assert ids(customer_a) == set()


def test_queues_split_open_work(customer_a, agent, lead):
    mine = make_ticket(customer_a)  # round robin L1: agnes, then lena
    other = make_ticket(customer_a)
    unassigned = make_ticket(customer_a)
    services.assign(unassigned, assignee=None, actor=lead)
    done = make_ticket(customer_a)
    services.transition(done, "resolved", actor=agent)
    assert mine.assignee == agent and other.assignee == lead
    assert set(queue(agent, "mine").values_list("pk", flat=True)) == {mine.pk}
    assert set(queue(agent, "unassigned").values_list("pk", flat=True)) == {unassigned.pk}
    assert set(queue(agent, "teams").values_list("pk", flat=True)) == {
        mine.pk, other.pk, unassigned.pk}
    assert queue_counts(agent) == {"mine": 1, "teams": 3, "unassigned": 1, "open": 3}
    with pytest.raises(Http404):
        queue(agent, "everything")
