"""An agent's reply stays cheap however many people follow the ticket: the notices are
inserted in one statement and their e-mails go to Celery after commit."""
from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import Notification, NotificationPreference
from helpdesk.roles import Role
from tests.factories import make_ticket, make_user
from tickets import events
from tickets.models import TicketFollower

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# The notices and the customer's reply e-mail row (mailgate, issue 18) are written on the
# worker from the outbox (tickets.events); the same for 2 or 12 followers. Raise it only
# with a reason.
WORKER_QUERY_BUDGET = 72


def reply_queries(client, agent, ticket, capture) -> tuple[int, int, mock.MagicMock]:
    """Queries of the reply request (its reactions queued, not run) and of the worker's
    run of them."""
    client.force_login(agent)
    with mock.patch("helpdesk.tasks.send_notification_email.delay") as queued, \
            mock.patch("tickets.tasks.handle_pending_events.delay") as outbox:
        with CaptureQueriesContext(connection) as request, capture(execute=True):
            response = client.post(reverse("agent:reply", args=[ticket.pk]),
                                   {"body": "Fixed the SSO certificate.",
                                    "visibility": "public"}, **HTMX)
        assert response.status_code == 200
        [pending_id] = [c.args[0] for c in outbox.call_args_list]
        with CaptureQueriesContext(connection) as worker, capture(execute=True):
            assert events.handle_pending(pending_id)
    return len(request), len(worker), queued


def followers(ticket, team, n: int, *, digest: bool = False) -> list:
    people = [make_user(Role.AGENT, teams=(team,)) for _ in range(n)]
    TicketFollower.objects.bulk_create(
        TicketFollower(ticket=ticket, user=u, created_at=timezone.now()) for u in people)
    if digest:
        NotificationPreference.objects.bulk_create(
            NotificationPreference(user=u, digest_minutes=30) for u in people)
    return people


def test_reply_query_count_does_not_grow_with_followers(client, agent, customer_a, l1,
                                                        django_capture_on_commit_callbacks):
    few = make_ticket(customer_a)
    many = make_ticket(customer_a, subject="Another")
    followers(few, l1, 2)
    followers(many, l1, 12)
    # Warm the caches a first request fills (permissions, pickers, wording).
    reply_queries(client, agent, make_ticket(customer_a, subject="Warm-up"),
                  django_capture_on_commit_callbacks)
    alone = make_ticket(customer_a, subject="Nobody follows")
    alone_request, alone_worker, _ = reply_queries(client, agent, alone,
                                                   django_capture_on_commit_callbacks)
    few_request, few_worker, few_queued = reply_queries(client, agent, few,
                                                        django_capture_on_commit_callbacks)
    many_request, many_worker, many_queued = reply_queries(
        client, agent, many, django_capture_on_commit_callbacks)
    print(f"agent reply: {alone_request} queries in the request; on the worker "
          f"{alone_worker} without followers, {few_worker} with 2, {many_worker} with 12")
    # The request does not wait for the notices at all.
    assert alone_request == few_request == many_request
    assert many_worker == few_worker
    # ticket, message, followers, wording, preferences, one insert in a savepoint
    assert many_worker - alone_worker <= 9
    assert many_worker <= WORKER_QUERY_BUDGET
    # Every follower is told, by e-mail queued to Celery, not sent in the request.
    assert Notification.objects.filter(source="staff.followed_update").count() == 14  # 2 + 12
    assert many_queued.call_count == 12 and few_queued.call_count == 2
