"""CSAT/NPS surveys: one per resolution, sent once, answered by link, low scores followed up."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from helpdesk.models import Notification
from tickets import events, services, surveys
from tickets.models import FollowUp, Survey
from tickets.survey_handlers import on_status_changed
from tickets.tasks import remind_overdue_survey_follow_ups, send_due_surveys

from ..factories import make_ticket

pytestmark = pytest.mark.django_db

DELAY = timedelta(hours=2)


@pytest.fixture
def resolve(agent, django_capture_on_commit_callbacks):
    """Resolve a ticket through the services, running the after-commit handlers."""

    def run(ticket):
        with django_capture_on_commit_callbacks(execute=True):
            services.transition(ticket, "resolved", actor=agent)
        ticket.refresh_from_db()
        return ticket

    return run


@pytest.fixture
def reopen(customer_a, django_capture_on_commit_callbacks):
    def run(ticket):
        with django_capture_on_commit_callbacks(execute=True):
            services.transition(ticket, "in_progress", actor=customer_a, reason="Still broken")
        ticket.refresh_from_db()
        return ticket

    return run


def _send_due(later=DELAY + timedelta(minutes=1)):
    with time_machine.travel(timezone.now() + later, tick=False):
        return send_due_surveys.delay().get()


def _sent_survey(ticket, resolve) -> Survey:
    resolve(ticket)
    mail.outbox.clear()
    assert _send_due() == 1
    return Survey.objects.get(ticket=ticket)


def _token(survey: Survey) -> str:
    return surveys.make_token(survey)


# --- scheduling -----------------------------------------------------------------------

def test_resolving_schedules_one_survey_after_the_delay(ticket_a, agent, l1, resolve):
    services.update_ticket(ticket_a, actor=agent, changes={"team": l1, "assignee": agent})
    ticket = resolve(ticket_a)
    survey = Survey.objects.get(ticket=ticket)
    assert survey.status == Survey.Status.SCHEDULED
    assert survey.resolution == 0
    assert survey.scheduled_for == ticket.resolved_at + DELAY
    assert (survey.requester, survey.agent, survey.team) == (ticket.requester, agent, l1)


def test_duplicate_resolved_events_schedule_one_survey(ticket_a, resolve):
    ticket = resolve(ticket_a)
    event = events.StatusChanged(ticket.pk, None, timezone.now(), "in_progress", "resolved")
    on_status_changed(event)
    events.dispatch(event)
    surveys.schedule_survey(ticket)
    assert Survey.objects.filter(ticket=ticket).count() == 1


def test_reopen_and_resolve_again_schedules_a_second_survey(ticket_a, resolve, reopen):
    resolve(ticket_a)
    reopen(ticket_a)
    resolve(ticket_a)
    assert list(Survey.objects.filter(ticket=ticket_a).order_by("resolution")
                .values_list("resolution", flat=True)) == [0, 1]


def test_other_status_changes_schedule_nothing(ticket_a, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.transition(ticket_a, "in_progress", actor=agent, assignee=agent)
    assert not Survey.objects.exists()


def test_delay_comes_from_settings(ticket_a, resolve, settings):
    settings.HELPDESK_SURVEY_DELAY = timedelta(minutes=10)
    ticket = resolve(ticket_a)
    assert Survey.objects.get().scheduled_for == ticket.resolved_at + timedelta(minutes=10)


# --- sending --------------------------------------------------------------------------

def test_due_survey_is_emailed_with_signed_rating_links(ticket_a, resolve):
    resolve(ticket_a)
    mail.outbox.clear()
    assert _send_due(DELAY - timedelta(minutes=5)) == 0  # not due yet
    assert _send_due() == 1
    survey = Survey.objects.get()
    assert survey.status == Survey.Status.SENT
    assert survey.expires_at == survey.sent_at + timedelta(days=14)
    [message] = mail.outbox
    assert message.to == [ticket_a.requester.email]
    links = re.findall(r"http\S+/survey/(\S+)/rate/([1-5])/", message.body)
    assert [n for _, n in links] == ["1", "2", "3", "4", "5"]
    assert surveys.survey_from_token(links[0][0]) == survey


def test_duplicate_task_runs_send_once(ticket_a, resolve):
    resolve(ticket_a)
    mail.outbox.clear()
    later = timezone.now() + DELAY + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        assert send_due_surveys.delay().get() == 1
        assert send_due_surveys.delay().get() == 0
        survey = Survey.objects.get()
        assert surveys.send_survey(survey.pk) is False  # a second worker with the same id
    assert len(mail.outbox) == 1


def test_failed_mail_leaves_the_survey_scheduled(ticket_a, resolve, monkeypatch):
    resolve(ticket_a)

    def broken(*args, **kwargs):
        raise OSError("SMTP down")

    monkeypatch.setattr(surveys, "send_mail", broken)
    assert _send_due() == 0
    assert Survey.objects.get().status == Survey.Status.SCHEDULED


@pytest.mark.parametrize("tag, reason", [
    ("internal", "Internal ticket"),
    ("no-survey", "tagged no-survey"),
])
def test_tagged_tickets_are_skipped(ticket_a, agent, resolve, tag, reason):
    services.update_ticket(ticket_a, actor=agent, changes={"tags": [tag]})
    resolve(ticket_a)
    mail.outbox.clear()
    assert _send_due() == 0
    survey = Survey.objects.get()
    assert survey.status == Survey.Status.SKIPPED
    assert reason in survey.skip_reason
    assert mail.outbox == []


def test_requester_surveyed_recently_is_skipped(customer_a, resolve):
    first, second = make_ticket(customer_a), make_ticket(customer_a, subject="Another")
    _sent_survey(first, resolve)
    resolve(second)
    mail.outbox.clear()
    assert _send_due() == 0
    survey = Survey.objects.get(ticket=second)
    assert survey.status == Survey.Status.SKIPPED
    assert "last 30 days" in survey.skip_reason


def test_cooldown_ends_after_the_configured_days(customer_a, resolve, settings):
    settings.HELPDESK_SURVEY_COOLDOWN_DAYS = 7
    first, second = make_ticket(customer_a), make_ticket(customer_a, subject="Another")
    _sent_survey(first, resolve)
    with time_machine.travel(timezone.now() + timedelta(days=8), tick=False):
        resolve(second)
        assert _send_due() == 1
    assert Survey.objects.get(ticket=second).status == Survey.Status.SENT


def test_ticket_reopened_before_sending_is_skipped(ticket_a, resolve, reopen):
    resolve(ticket_a)
    reopen(ticket_a)
    mail.outbox.clear()
    assert _send_due() == 0
    survey = Survey.objects.get()
    assert survey.status == Survey.Status.SKIPPED
    assert "reopened" in survey.skip_reason
    assert mail.outbox == []


def test_closed_ticket_is_still_surveyed(ticket_a, agent, resolve):
    resolve(ticket_a)
    services.transition(ticket_a, "closed", actor=agent, reason="Done")
    assert _send_due() == 1


# --- answering by link ----------------------------------------------------------------

def test_one_click_rating_then_comment_and_nps(ticket_a, resolve):
    survey = _sent_survey(ticket_a, resolve)
    client = Client(enforce_csrf_checks=True)
    token = _token(survey)
    page = client.get(reverse("surveys:rate", args=[token, 4]))
    assert page.status_code == 200
    assert b"recorded your rating of 4" in page.content
    survey.refresh_from_db()
    assert (survey.rating, survey.status) == (4, Survey.Status.RESPONDED)

    csrf = client.cookies["csrftoken"].value
    thanks = client.post(reverse("surveys:feedback", args=[token]),
                         {"rating": "5", "nps": "9", "comment": "Quick and kind.",
                          "csrfmiddlewaretoken": csrf})
    assert thanks.status_code == 200
    survey.refresh_from_db()
    assert (survey.rating, survey.nps, survey.comment) == (5, 9, "Quick and kind.")
    assert not FollowUp.objects.exists()


def test_feedback_post_needs_csrf(ticket_a, resolve):
    survey = _sent_survey(ticket_a, resolve)
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("surveys:feedback", args=[_token(survey)]), {"rating": "5"})
    assert response.status_code == 403


def test_a_second_click_does_not_overwrite_the_rating(ticket_a, resolve):
    """Mail scanners may prefetch every link: only the first GET records a rating."""
    survey = _sent_survey(ticket_a, resolve)
    client = Client()
    token = _token(survey)
    client.get(reverse("surveys:rate", args=[token, 5]))
    page = client.get(reverse("surveys:rate", args=[token, 3]))
    assert b"already recorded" in page.content
    survey.refresh_from_db()
    assert survey.rating == 5


def test_invalid_nps_is_refused_with_a_message(ticket_a, resolve):
    survey = _sent_survey(ticket_a, resolve)
    response = Client().post(reverse("surveys:feedback", args=[_token(survey)]),
                             {"rating": "4", "nps": "11"})
    assert response.status_code == 400
    assert b"0 to 10" in response.content
    survey.refresh_from_db()
    assert survey.nps is None


def test_tampered_token_is_refused(ticket_a, resolve):
    survey = _sent_survey(ticket_a, resolve)
    token = _token(survey)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = Client().get(reverse("surveys:rate", args=[tampered, 5]))
    assert response.status_code == 400
    assert b"not valid" in response.content
    survey.refresh_from_db()
    assert survey.rating is None


def test_token_signed_without_the_salt_is_refused(ticket_a, resolve):
    survey = _sent_survey(ticket_a, resolve)
    forged = signing.dumps({"survey": survey.pk}, compress=True)
    assert Client().get(reverse("surveys:feedback", args=[forged])).status_code == 400


def test_expired_link_is_refused(ticket_a, resolve):
    survey = _sent_survey(ticket_a, resolve)
    token = _token(survey)
    with time_machine.travel(timezone.now() + timedelta(days=15), tick=False):
        response = Client().get(reverse("surveys:rate", args=[token, 5]))
    assert response.status_code == 410
    assert b"expired" in response.content
    survey.refresh_from_db()
    assert survey.rating is None


def test_a_link_rates_only_its_own_survey(customer_a, customer_b, resolve):
    mine = _sent_survey(make_ticket(customer_a), resolve)
    other = _sent_survey(make_ticket(customer_b), resolve)
    Client().get(reverse("surveys:rate", args=[_token(mine), 1]))
    other.refresh_from_db()
    mine.refresh_from_db()
    assert other.rating is None
    assert mine.rating == 1


def test_unsent_survey_has_no_usable_link(ticket_a, resolve):
    resolve(ticket_a)
    survey = Survey.objects.get()
    assert Client().get(reverse("surveys:rate", args=[_token(survey), 5])).status_code == 400


# --- low scores -----------------------------------------------------------------------

def test_low_score_opens_a_follow_up_for_the_team_lead_and_reminds_once(
        ticket_a, agent, lead, l1, resolve, django_capture_on_commit_callbacks):
    services.update_ticket(ticket_a, actor=agent, changes={"team": l1, "assignee": agent})
    survey = _sent_survey(ticket_a, resolve)
    rated_at = timezone.now() + timedelta(hours=3)
    with time_machine.travel(rated_at, tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        Client().get(reverse("surveys:rate", args=[_token(survey), 2]))
        Client().get(reverse("surveys:rate", args=[_token(survey), 1]))  # no second follow-up
    follow_up = FollowUp.objects.get()
    assert follow_up.owner == lead
    assert follow_up.due_at == rated_at + timedelta(hours=24)
    assert len([m for m in mail.outbox if lead.email in m.to]) == 1
    notes = Notification.objects.filter(recipient=lead, source="surveys.low_score")
    assert notes.count() == 1

    assert remind_overdue_survey_follow_ups.delay().get() == 0  # not overdue yet
    with time_machine.travel(rated_at + timedelta(hours=25), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert remind_overdue_survey_follow_ups.delay().get() == 1
            assert remind_overdue_survey_follow_ups.delay().get() == 0
        follow_up.refresh_from_db()
        assert follow_up.reminded_at == timezone.now()
    assert Notification.objects.filter(recipient=lead,
                                       source="surveys.follow_up_overdue").count() == 1


def test_handled_follow_up_gets_no_reminder(ticket_a, agent, lead, l1, resolve):
    services.update_ticket(ticket_a, actor=agent, changes={"team": l1})
    survey = _sent_survey(ticket_a, resolve)
    surveys.record_click(survey, 1)
    follow_up = FollowUp.objects.get()
    surveys.handle_follow_up(follow_up, actor=lead, outcome="Called the customer.")
    with time_machine.travel(timezone.now() + timedelta(hours=25), tick=False):
        assert remind_overdue_survey_follow_ups.delay().get() == 0


def test_follow_up_falls_back_to_a_manager_without_a_team_lead(ticket_a, manager, resolve):
    survey = _sent_survey(ticket_a, resolve)
    surveys.record_click(survey, 2)
    assert FollowUp.objects.get().owner == manager


def test_good_score_opens_no_follow_up(ticket_a, manager, resolve):
    surveys.record_click(_sent_survey(ticket_a, resolve), 3)
    assert not FollowUp.objects.exists()


def test_lead_sees_and_handles_follow_ups(ticket_a, agent, lead, l1, resolve):
    services.update_ticket(ticket_a, actor=agent, changes={"team": l1})
    survey = _sent_survey(ticket_a, resolve)
    surveys.record_feedback(survey, rating=1, comment="Nobody listened.")
    client = Client()
    client.force_login(lead)
    page = client.get(reverse("surveys:follow_ups"))
    assert page.status_code == 200
    assert b"Nobody listened." in page.content
    follow_up = FollowUp.objects.get()
    response = client.post(reverse("surveys:handle_follow_up", args=[follow_up.pk]),
                           {"outcome": "Apologised and refunded."})
    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.handled_by, follow_up.outcome) == (lead, "Apologised and refunded.")
    assert b"Nobody listened." not in client.get(reverse("surveys:follow_ups")).content


def test_follow_up_list_is_for_agents_only(customer_a, agent):
    client = Client()
    assert client.get(reverse("surveys:follow_ups")).status_code == 302  # to login
    client.force_login(customer_a)
    assert client.get(reverse("surveys:follow_ups")).status_code == 404


def test_plain_agent_cannot_handle_someone_elses_follow_up(
        ticket_a, agent, lead, l1, resolve):
    services.update_ticket(ticket_a, actor=agent, changes={"team": l1})
    surveys.record_click(_sent_survey(ticket_a, resolve), 1)
    client = Client()
    client.force_login(agent)
    follow_up = FollowUp.objects.get()
    response = client.post(reverse("surveys:handle_follow_up", args=[follow_up.pk]),
                           {"outcome": "Done"})
    assert response.status_code == 404
    follow_up.refresh_from_db()
    assert follow_up.handled_at is None


# --- satisfaction shown ---------------------------------------------------------------

def test_ticket_page_panel_shows_the_answer(ticket_a, agent, resolve):
    survey = _sent_survey(ticket_a, resolve)
    surveys.record_feedback(survey, rating=4, nps=8, comment="Good help")
    client = Client()
    client.force_login(agent)
    page = client.get(ticket_a.get_absolute_url())
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="satisfaction-panel"' in html
    assert "4/5" in html and "8/10" in html and "Good help" in html


def test_api_satisfaction_field_for_agents_only(ticket_a, agent, customer_a, resolve):
    survey = _sent_survey(ticket_a, resolve)
    surveys.record_feedback(survey, rating=5, nps=10, comment="Great")
    url = f"/api/v1/tickets/{ticket_a.pk}/"

    as_agent = APIClient()
    as_agent.force_authenticate(agent)
    data = as_agent.get(url).json()["satisfaction"]
    assert (data["rating"], data["nps"], data["comment"]) == (5, 10, "Great")
    listed = as_agent.get("/api/v1/tickets/").json()["results"]
    assert [t["satisfaction"]["rating"] for t in listed if t["id"] == ticket_a.pk] == [5]

    as_customer = APIClient()
    as_customer.force_authenticate(customer_a)
    assert as_customer.get(url).json()["satisfaction"] is None


def test_beat_schedule_declares_the_survey_jobs():
    schedule = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {send_due_surveys.name, remind_overdue_survey_follow_ups.name} <= schedule
