"""Lists and the dashboard cost a constant number of queries, whatever the row count."""
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk.roles import Role
from qa import services
from tests.factories import make_user, team

from .conftest import picks, resolved


def _reviews(customer, reviewer, card, n, *, submit=True):
    l1 = team("l1-general")
    for i in range(n):
        agent = make_user(Role.AGENT, teams=(l1,))
        review = services.create_review(ticket=resolved(customer, agent), actor=reviewer)
        if submit:
            services.submit_review(review, actor=reviewer,
                                   data=picks(card, {"Efficiency": [15, 12, 9][i % 3]}))


def _count(client, url, django_assert_max_num_queries, limit):
    with django_assert_max_num_queries(limit):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("n", [2, 12])
def test_queue_and_dashboard_queries_do_not_grow_with_rows(client, customer_a, reviewer, card,
                                                           n, django_assert_max_num_queries):
    _reviews(customer_a, reviewer, card, n)
    _reviews(customer_a, reviewer, card, n, submit=False)
    client.force_login(reviewer)
    _count(client, reverse("qa:queue", args=["mine"]), django_assert_max_num_queries, 8)
    _count(client, reverse("qa:queue", args=["done"]), django_assert_max_num_queries, 8)
    _count(client, reverse("qa:dashboard"), django_assert_max_num_queries, 16)
    _count(client, "/api/v1/qa/reviews/", django_assert_max_num_queries, 8)


def test_dashboard_figures_are_kept_for_a_few_minutes(client, customer_a, reviewer, card):
    """The dashboard is a report: its aggregates run once per five minutes and filter set,
    and the page says when they were computed."""
    _reviews(customer_a, reviewer, card, 2)
    client.force_login(reviewer)
    url = reverse("qa:dashboard")
    with CaptureQueriesContext(connection) as first:
        reviews = client.get(url).context["figures"]["reviews"]
    _reviews(customer_a, reviewer, card, 1)
    with CaptureQueriesContext(connection) as cached:
        page = client.get(url)
    assert page.context["figures"]["reviews"] == reviews
    assert "kept for 5 minutes" in page.content.decode()
    assert len(cached) <= len(first) - 10
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert client.get(url).context["figures"]["reviews"] == reviews + 1
