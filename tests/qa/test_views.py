"""QA pages and API: who sees what (404 otherwise), and the flows through the forms."""
from decimal import Decimal

import pytest
from django.urls import reverse

from helpdesk.models import Notification
from helpdesk.roles import Role
from qa import services
from qa.models import Dispute, QAFlag, Review, ReviewStatus
from tests.factories import make_user

from .conftest import picks, resolved


@pytest.fixture
def submitted(customer_a, agent, reviewer, card):
    review = services.create_review(ticket=resolved(customer_a, agent), actor=reviewer)
    return services.submit_review(review, actor=reviewer,
                                  data=picks(card, {"Communication": 15},
                                             summary="Great **fix**."))


@pytest.fixture
def other_agents_review(customer_a, l2_agent, reviewer, card):
    review = services.create_review(ticket=resolved(customer_a, l2_agent), actor=reviewer)
    return services.submit_review(review, actor=reviewer, data=picks(card))


def _form_data(card, points=None, **kw):
    data = picks(card, points, **kw)
    post = {f"level_{d}": str(lv) for d, lv in data.levels.items()}
    post.update({f"level_{d}": "na" for d in data.not_applicable})
    post["auto_fail"] = [str(i) for i in data.auto_fail]
    post["checklist"] = [str(i) for i in data.checklist]
    post["summary"] = data.summary
    return post


# --- visibility -----------------------------------------------------------------------------

def test_agent_reads_own_review_and_gets_404_for_others(client, agent, submitted,
                                                        other_agents_review):
    client.force_login(agent)
    page = client.get(reverse("qa:review", args=[submitted.pk]))
    assert page.status_code == 200
    assert b"Great <strong>fix</strong>." in page.content
    assert b"Acknowledge" in page.content and b"Dispute this review" in page.content
    assert client.get(reverse("qa:review", args=[other_agents_review.pk])).status_code == 404
    mine = client.get(reverse("qa:my_reviews"))
    assert f"/qa/reviews/{submitted.pk}/".encode() in mine.content
    assert f"/qa/reviews/{other_agents_review.pk}/".encode() not in mine.content


def test_agent_cannot_read_own_review_before_it_is_submitted(client, customer_a, agent,
                                                             reviewer):
    review = services.create_review(ticket=resolved(customer_a, agent), actor=reviewer)
    client.force_login(agent)
    assert client.get(reverse("qa:review", args=[review.pk])).status_code == 404


@pytest.mark.parametrize("name", ["qa:index", "qa:my_reviews", "qa:coaching",
                                  "qa:dashboard", "qa:disputes"])
def test_customers_see_no_qa_page(client, customer_a, name):
    client.force_login(customer_a)
    assert client.get(reverse(name)).status_code == 404


def test_customer_gets_404_for_a_review_and_the_api(client, customer_a, submitted):
    client.force_login(customer_a)
    assert client.get(reverse("qa:review", args=[submitted.pk])).status_code == 404
    assert client.get("/api/v1/qa/reviews/").status_code == 404
    assert client.get(f"/api/v1/qa/reviews/{submitted.pk}/").status_code == 404


def test_agent_has_no_queue_dashboard_or_dispute_pages(client, agent):
    client.force_login(agent)
    for url in (reverse("qa:queue", args=["mine"]), reverse("qa:dashboard"),
                reverse("qa:disputes"), reverse("qa:calibration_new")):
        assert client.get(url).status_code == 404


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("qa:my_reviews"))
    assert response.status_code == 302 and "/login" in response["Location"]


# --- reviewing through the page ---------------------------------------------------------------

def test_reviewer_scores_through_the_form_and_the_score_is_computed(
        client, customer_a, agent, reviewer, card, django_capture_on_commit_callbacks):
    review = services.create_review(ticket=resolved(customer_a, agent), actor=reviewer)
    client.force_login(reviewer)
    queue = client.get(reverse("qa:queue", args=["mine"]))
    assert f"/qa/reviews/{review.pk}/".encode() in queue.content
    page = client.get(reverse("qa:review", args=[review.pk]))
    assert b"Solution quality" in page.content and b"Save draft" in page.content
    data = _form_data(card, {"Solution quality": 25, "Efficiency": 9})
    preview = client.post(reverse("qa:preview", args=[card.pk]), data, HTTP_HX_REQUEST="true")
    assert b"89.00" in preview.content  # 25 + 25 + 20 + 9 + 10
    data["score"] = "100"  # a typed score is ignored: it is always computed
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("qa:save", args=[review.pk]),
                               {**data, "action": "submit"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == ReviewStatus.SUBMITTED
    assert review.score == Decimal("89.00")
    assert Notification.objects.filter(recipient=agent, source="qa.review").exists()


def test_draft_then_another_reviewer_cannot_submit_it(client, customer_a, agent, reviewer,
                                                      reviewer2, card):
    review = services.create_review(ticket=resolved(customer_a, agent), actor=reviewer)
    client.force_login(reviewer)
    data = _form_data(card, {"Efficiency": None})
    client.post(reverse("qa:save", args=[review.pk]), {**data, "action": "draft"})
    review.refresh_from_db()
    assert review.status == ReviewStatus.DRAFT and review.score is None
    client.force_login(reviewer2)
    response = client.post(reverse("qa:save", args=[review.pk]),
                           {**_form_data(card), "action": "submit"})
    assert response.status_code == 400
    review.refresh_from_db()
    assert review.status == ReviewStatus.DRAFT


def test_reviewer_cannot_start_a_review_of_their_own_ticket(client, customer_a, reviewer):
    ticket = resolved(customer_a, reviewer)
    client.force_login(reviewer)
    client.post(reverse("qa:start_review", args=[ticket.pk]))
    review = Review.objects.get(ticket=ticket)
    assert review.reviewer is None  # not self-assigned
    client.post(reverse("qa:claim", args=[review.pk]))
    review.refresh_from_db()
    assert review.reviewer is None


def test_acknowledge_and_dispute_through_the_page(client, agent, lead, submitted, card,
                                                  django_capture_on_commit_callbacks):
    client.force_login(agent)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("qa:raise_dispute", args=[submitted.pk]),
                    {"reason": "The customer asked for brevity."})
    submitted.refresh_from_db()
    assert submitted.status == ReviewStatus.DISPUTED
    # The agent cannot resolve their own dispute.
    assert client.get(reverse("qa:dispute", args=[submitted.pk])).status_code == 404
    client.force_login(lead)
    listing = client.get(reverse("qa:disputes"))
    assert b"The customer asked for brevity." in listing.content
    data = _form_data(card)  # revised to full marks
    response = client.post(reverse("qa:dispute", args=[submitted.pk]),
                           {**data, "outcome": "revised", "note": "Fair point."})
    assert response.status_code == 302
    submitted.refresh_from_db()
    dispute = Dispute.objects.get(review=submitted)
    assert submitted.status == ReviewStatus.RESOLVED and submitted.score == 100
    assert (dispute.score_before, dispute.score_after) == (Decimal("90.00"), Decimal("100.00"))
    client.force_login(agent)
    page = client.get(reverse("qa:review", args=[submitted.pk]))
    assert b"Score revised" in page.content and b"Fair point." in page.content


def test_agent_acknowledges(client, agent, submitted):
    client.force_login(agent)
    client.post(reverse("qa:acknowledge", args=[submitted.pk]))
    submitted.refresh_from_db()
    assert submitted.status == ReviewStatus.ACKNOWLEDGED


def test_other_agent_cannot_acknowledge(client, l2_agent, submitted):
    client.force_login(l2_agent)
    assert client.post(reverse("qa:acknowledge", args=[submitted.pk])).status_code == 404
    submitted.refresh_from_db()
    assert submitted.status == ReviewStatus.SUBMITTED


# --- ticket page panel, coaching, calibration, dashboard ----------------------------------------

def test_ticket_panel_for_lead_flags_and_marks_ticket_of_week(client, lead, submitted):
    client.force_login(lead)
    page = client.get(reverse("agent:ticket", args=[submitted.ticket_id]))
    assert b"Quality review" in page.content and b"Flag for QA" in page.content
    client.post(reverse("qa:flag", args=[submitted.ticket_id]), {"note": "Great save"})
    assert QAFlag.objects.filter(ticket_id=submitted.ticket_id, reason="lead").exists()
    client.post(reverse("qa:ticket_of_week", args=[submitted.pk]), {"on": "1", "back": "ticket"})
    submitted.refresh_from_db()
    assert submitted.is_ticket_of_week


def test_ticket_panel_hidden_from_other_agents(client, l2_agent, customer_a, agent, submitted):
    client.force_login(agent)  # the agent concerned sees their review on the ticket
    page = client.get(reverse("agent:ticket", args=[submitted.ticket_id]))
    assert b"Quality review" in page.content
    ticket = resolved(customer_a, l2_agent)
    other = make_user(Role.AGENT, teams=(ticket.team,))
    client.force_login(other)
    page = client.get(reverse("agent:ticket", args=[ticket.pk]))
    assert page.status_code == 200 and b"Quality review" not in page.content


def test_coaching_record_through_the_form(client, lead, agent, submitted):
    client.force_login(lead)
    response = client.post(reverse("qa:coaching_new"), {
        "agent": agent.pk, "held_on": "2026-11-20", "strengths": "Warm tone",
        "development_focus": "Restate the issue", "goals": "5 of 5",
        "follow_up_on": "2026-11-27", "reviews": [submitted.pk]})
    assert response.status_code == 302
    client.force_login(agent)
    listing = client.get(reverse("qa:coaching"))
    assert b"Restate the issue" in listing.content


def test_calibration_page_is_blind(client, customer_a, agent, reviewer, reviewer2, manager,
                                   card):
    ticket = resolved(customer_a, agent)
    session = services.start_calibration(title="Blind", facilitator=manager,
                                         participants=[reviewer, reviewer2], tickets=[ticket])
    item = session.items.get()
    client.force_login(reviewer)
    url = reverse("qa:calibration_item", args=[session.pk, item.pk])
    client.post(url, {**_form_data(card, {"Solution quality": 15}), "summary": "quinn-note",
                      "action": "score"})
    client.force_login(reviewer2)
    page = client.get(url)
    assert b"Your blind score" in page.content
    assert b"85.00" not in page.content and b"quinn-note" not in page.content
    client.post(url, {**_form_data(card), "action": "score"})
    page = client.get(url)
    assert b"85.00" in page.content and b"quinn-note" in page.content
    session_page = client.get(reverse("qa:calibration", args=[session.pk]))
    assert b"15.00" in session_page.content  # spread 100 − 85


def test_dashboard_for_qa_staff(client, reviewer, submitted):
    client.force_login(reviewer)
    page = client.get(reverse("qa:dashboard"), {"dimension": "Communication"})
    assert page.status_code == 200
    assert b"Average QA score" in page.content and b"90.0" in page.content


# --- API ------------------------------------------------------------------------------------------

def test_api_agent_sees_only_own_reviews(client, agent, submitted, other_agents_review):
    client.force_login(agent)
    body = client.get("/api/v1/qa/reviews/").json()
    assert [r["id"] for r in body["results"]] == [submitted.pk]
    assert body["results"][0]["score"] == "90.00"
    scores = {s["dimension"]: s["points"] for s in body["results"][0]["scores"]}
    assert scores["Communication"] == 15
    assert client.get(f"/api/v1/qa/reviews/{other_agents_review.pk}/").status_code == 404


def test_api_reviewer_sees_all_and_filters(client, reviewer, agent, submitted,
                                           other_agents_review):
    client.force_login(reviewer)
    body = client.get("/api/v1/qa/reviews/").json()
    assert {r["id"] for r in body["results"]} == {submitted.pk, other_agents_review.pk}
    body = client.get("/api/v1/qa/reviews/", {"agent": agent.pk}).json()
    assert [r["id"] for r in body["results"]] == [submitted.pk]
    assert client.get("/api/v1/qa/reviews/", {"status": "nope"}).status_code == 400
    assert client.post("/api/v1/qa/reviews/", {}).status_code == 405
