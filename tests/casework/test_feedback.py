"""Product feedback tagged on tickets, aggregated per item with customers and revenue."""
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from casework import selectors, services
from casework.models import FeedbackItem
from tests.factories import make_org, make_ticket, make_user


def test_aggregated_per_item_with_customers_and_revenue(agent, customer_a, org_a, org_b,
                                                        customer_b):
    org_a.annual_value = Decimal("120000")
    org_a.save()
    small = make_org("Initech", tier="professional")
    small.annual_value = Decimal("5000")
    small.save()
    carol = make_user(org=small, username="carol")
    for who in (customer_a, customer_a, customer_b, carol):
        t = make_ticket(who)
        services.tag_feedback(t, actor=agent, kind="feature", title="Bulk Export",
                              quote="Exporting one by one takes hours", use_case="Month end")
    services.tag_feedback(make_ticket(carol), actor=agent, kind="docs", title="SSO guide",
                          quote="Where is the SAML doc?")
    items = list(selectors.feedback_items())
    bulk = items[0]
    assert (bulk.title, bulk.mention_count, bulk.org_count) == ("Bulk Export", 4, 3)
    assert bulk.revenue == Decimal("125000")  # Acme once, Initech once, Globex has no value
    by_revenue = list(selectors.feedback_items(order="revenue"))
    assert [i.title for i in by_revenue] == ["Bulk Export", "SSO guide"]
    customers = selectors.customers_of([bulk.pk])[bulk.pk]
    assert [(c["name"], c["tier"], c["tickets"]) for c in customers] == [
        ("Acme", "enterprise", 2), ("Initech", "professional", 1), ("Globex", "starter", 1)]


def test_same_feedback_twice_on_a_ticket_is_refused(agent, ticket_a):
    services.tag_feedback(ticket_a, actor=agent, kind="bug", title="Export", quote="broken")
    with pytest.raises(ValidationError):
        services.tag_feedback(ticket_a, actor=agent, kind="bug", title="export ", quote="again")
    assert FeedbackItem.objects.count() == 1
    services.tag_feedback(ticket_a, actor=agent, kind="ux", title="Export", quote="clunky")
    assert FeedbackItem.objects.count() == 2  # another kind is another item


def test_feedback_pages(client, agent, ticket_a, customer_a):
    services.tag_feedback(ticket_a, actor=agent, kind="praise", title="Fast support",
                          quote="You folks rock")
    client.force_login(agent)
    assert "Fast support" in client.get("/casework/feedback/").content.decode()
    item = FeedbackItem.objects.get()
    assert "You folks rock" in client.get(f"/casework/feedback/{item.pk}/").content.decode()
    client.force_login(customer_a)
    assert client.get("/casework/feedback/").status_code == 404
    assert client.get(f"/casework/feedback/{item.pk}/").status_code == 404


def test_feedback_page_queries_do_not_grow_with_rows(client, agent, customer_a, customer_b):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(agent)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/casework/feedback/").status_code == 200
        return len(ctx.captured_queries)

    t_a, t_b = make_ticket(customer_a), make_ticket(customer_b)
    for i in range(3):
        services.tag_feedback(t_a, actor=agent, kind="bug", title=f"Bug {i}", quote="q")
    few = queries()
    for i in range(3, 12):
        services.tag_feedback(t_a, actor=agent, kind="bug", title=f"Bug {i}", quote="q")
        services.tag_feedback(t_b, actor=agent, kind="bug", title=f"Bug {i}", quote="q")
    assert queries() == few
