"""The QA pages and notices in German for a German-speaking agent, reviewer and lead, and
still in English for everyone else (issue 22)."""
from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk.models import Notification
from qa import services

from .conftest import picks, resolved

pytestmark = pytest.mark.django_db


def _german(*people):
    for person in people:
        person.language = "de"
        person.save(update_fields=["language"])


@pytest.fixture
def submitted(customer_a, agent, reviewer, card, django_capture_on_commit_callbacks):
    review = services.create_review(ticket=resolved(customer_a, agent), actor=reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        return services.submit_review(review, actor=reviewer,
                                      data=picks(card, summary="Gut gelöst."))


def test_the_agent_reads_the_review_and_its_notice_in_german(client, agent, reviewer, card,
                                                             customer_a,
                                                             django_capture_on_commit_callbacks):
    _german(agent)
    review = services.create_review(ticket=resolved(customer_a, agent), actor=reviewer)
    with django_capture_on_commit_callbacks(execute=True):
        review = services.submit_review(review, actor=reviewer, data=picks(card))
    [note] = Notification.objects.filter(recipient=agent, source="qa.review")
    assert note.title.startswith(f"QA-Bewertung von Ticket #{review.ticket_id}: ")
    assert "Ihr Ticket wurde bewertet." in note.body
    client.force_login(agent)
    page = client.get(reverse("qa:review", args=[review.pk])).content.decode()
    assert "QA-Bewertung von" in page and "Zur Kenntnis nehmen" in page
    assert "Einspruch gegen diese Bewertung einlegen" in page
    assert "Abgegeben" in page  # the review's status label
    mine = client.get(reverse("qa:my_reviews")).content.decode()
    assert "<h1>Meine QA-Bewertungen</h1>" in mine and "Punktzahl" in mine


def test_the_reviewer_notice_stays_english_for_an_english_agent(agent, submitted):
    [note] = Notification.objects.filter(recipient=agent, source="qa.review")
    assert note.title.startswith("QA review of ticket #")


def test_the_queue_calibration_and_dashboard_in_german(client, reviewer, lead, submitted):
    _german(reviewer, lead)
    client.force_login(reviewer)
    queue = client.get(reverse("qa:queue", args=["done"])).content.decode()
    assert "<h1>QA-Warteschlange</h1>" in queue and "Von mir abgegeben" in queue
    assert "Prüfer" in queue and "Von einem Prüfer ausgewählt" in queue  # the source
    client.force_login(lead)
    dashboard = client.get(reverse("qa:dashboard")).content.decode()
    assert "<h1>QA-Dashboard</h1>" in dashboard and "Auf einen Blick" in dashboard
    assert "Durchschnittliche QA-Punktzahl" in dashboard and "Verteilung nach Band" in dashboard
    assert "Hervorragend (90–100)" in dashboard
    calibrations = client.get(reverse("qa:calibrations")).content.decode()
    assert "<h1>Kalibrierungsrunden</h1>" in calibrations
