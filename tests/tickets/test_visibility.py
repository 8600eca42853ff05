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


def test_queue_counts_match_the_queues_for_every_kind_of_agent(customer_a, agent, lead,
                                                                 l2_agent, manager, l2):
    """The counts are built from a part shared by agents of the same teams and a part of
    the agent's own: they still equal what each queue lists."""
    from helpdesk.models import Membership

    tickets = [make_ticket(customer_a) for _ in range(5)]
    services.assign(tickets[0], assignee=None, actor=lead)
    services.assign(tickets[1], assignee=l2_agent, actor=lead)  # L2 agent, L1's queue
    tickets[2].team = l2
    tickets[2].save(update_fields=["team"])
    services.assign(tickets[2], assignee=agent, actor=lead)  # agent's, in another team
    services.transition(tickets[3], "resolved", actor=lead)
    solo = make_user(Role.AGENT, username="solo")  # in no team
    services.assign(tickets[4], assignee=solo, actor=lead)
    qa = make_user(Role.QA_REVIEWER, username="quinn")  # sees all, no team
    Membership.objects.create(team=l2, user=manager)  # sees all, one team
    for user in (agent, lead, l2_agent, manager, solo, qa):
        expected = {name: queue(user, name).count()
                    for name in ("mine", "teams", "unassigned", "open")}
        assert queue_counts(user) == expected, user.username
    assert queue_counts(agent)["open"] == 4  # L1's three open + its own in L2
    assert queue_counts(solo) == {"mine": 1, "teams": 0, "unassigned": 0, "open": 1}


def test_agents_of_the_same_teams_share_one_count_of_the_backlog(customer_a, agent, lead,
                                                                  monkeypatch):
    from django.test import Client

    from tickets import selectors

    make_ticket(customer_a)
    computed = []
    original = selectors.scope_queue_counts
    monkeypatch.setattr(selectors, "scope_queue_counts",
                        lambda scope: computed.append(scope) or original(scope))
    for user in (agent, lead, agent):
        web = Client()
        web.force_login(user)
        assert web.get("/agent/queue/open/").status_code == 200
    assert len(computed) == 1  # agnes and lena are both in L1 only
