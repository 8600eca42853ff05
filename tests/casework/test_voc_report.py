"""The weekly voice-of-customer report: figures of a known fortnight, task, page and CSV."""
import pytest

from casework import services
from casework.models import FeedbackMention, Signal, VocReport
from casework.tasks import generate_weekly_voc_report
from tests.factories import make_ticket

from .conftest import at


@pytest.fixture
def fortnight(travel, customer_a, customer_b, agent, org_a, api_cat, billing_cat):
    """Week of Mar 2 (W10) against the week of Feb 23 (W9).

    W9:  2 API tickets, 1 Billing; feedback "Bulk export" mentioned once, "Dark mode" twice.
    W10: 3 API tickets, 1 Billing, 1 without category; "Bulk export" twice (new in W9),
         "SSO for contractors" new; an alert for Acme; a ticket on Mar 9 (W11) is ignored.
    """
    def ticket(when, category=None, who=customer_a):
        travel(when)
        return make_ticket(who, category=category)

    def mention(t, when, kind, title):
        travel(when)
        services.tag_feedback(t, actor=agent, kind=kind, title=title, quote="We need it")

    a = ticket(at(2026, 2, 23, 9), api_cat)
    b = ticket(at(2026, 2, 24, 9), api_cat, customer_b)
    ticket(at(2026, 2, 25, 9), billing_cat)
    mention(a, at(2026, 2, 25, 10), "feature", "Bulk export")
    mention(a, at(2026, 2, 26, 10), "ux", "Dark mode")
    mention(b, at(2026, 2, 26, 11), "ux", "Dark mode")

    c = ticket(at(2026, 3, 2, 0), api_cat)  # Monday 00:00 belongs to W10
    d = ticket(at(2026, 3, 3, 9), api_cat, customer_b)
    ticket(at(2026, 3, 4, 9), api_cat)
    ticket(at(2026, 3, 5, 9), billing_cat)
    ticket(at(2026, 3, 8, 23, 59))
    mention(c, at(2026, 3, 3, 10), "feature", "bulk  export!")  # same item, other spelling
    mention(d, at(2026, 3, 4, 10), "feature", "Bulk export")
    mention(d, at(2026, 3, 4, 11), "feature", "SSO for contractors")
    travel(at(2026, 3, 5, 12))
    services.raise_signal(org_a, Signal.CHURN, detail="cancel mention")
    ticket(at(2026, 3, 9, 0), api_cat)  # next week


def test_report_figures(fortnight, travel):
    travel(at(2026, 3, 9, 6))  # Monday morning: the beat builds last week's report
    report = services.generate_voc_report()
    data = report.data
    assert report.week_start.isoformat() == "2026-03-02"
    assert data["tickets"] == {"this_week": 5, "previous_week": 3, "change": 2}
    assert data["top_categories"] == [
        {"name": "CW API errors", "this_week": 3, "previous_week": 2, "change": 1},
        {"name": "(none)", "this_week": 1, "previous_week": 0, "change": 1},
        {"name": "CW Billing", "this_week": 1, "previous_week": 1, "change": 0},
    ]
    assert [c["name"] for c in data["trending_categories"]] == ["(none)", "CW API errors"]
    assert data["trending_feedback"] == [
        {"title": "Bulk export", "kind": "feature", "this_week": 2, "previous_week": 1,
         "change": 1},
        {"title": "SSO for contractors", "kind": "feature", "this_week": 1,
         "previous_week": 0, "change": 1},
    ]  # "Dark mode" fell from 2 to 0: not trending
    assert data["new_feedback"] == [{"title": "SSO for contractors", "kind": "feature",
                                     "mentions": 1}]
    assert [(a["organization"], a["signal"]) for a in data["at_risk"]] == [
        ("Acme", "Churn mention")]
    assert data["at_risk_accounts"] == 1
    assert FeedbackMention.objects.filter(item__title="Bulk export").count() == 3


def test_task_is_idempotent_and_takes_a_week(fortnight, travel):
    travel(at(2026, 3, 9, 6))
    first = generate_weekly_voc_report()
    assert generate_weekly_voc_report() == first
    assert generate_weekly_voc_report("2026-02-25") != first  # any day picks its ISO week
    assert sorted(VocReport.objects.values_list("week_start", flat=True))[0].isoformat() == \
        "2026-02-23"


def test_report_page_and_csv(client, fortnight, travel, agent, customer_a):
    travel(at(2026, 3, 9, 6))
    report = services.generate_voc_report()
    client.force_login(agent)
    page = client.get(f"/casework/voice-of-customer/{report.pk}/").content.decode()
    assert "SSO for contractors" in page and "Acme" in page
    csv = client.get(f"/casework/voice-of-customer/{report.pk}/?format=csv")
    assert csv["Content-Disposition"] == (
        'attachment; filename="voice-of-customer-2026-03-02.csv"')
    lines = csv.content.decode().splitlines()
    assert "tickets,all tickets,,5,3,2" in lines
    assert "trending feedback,Bulk export,feature,2,1,1" in lines
    assert "at-risk account,Acme,Churn mention,,," in lines
    client.force_login(customer_a)
    assert client.get(f"/casework/voice-of-customer/{report.pk}/").status_code == 404


def test_beat_runs_the_report_every_monday():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["casework-weekly-voc-report"]
    assert entry["task"] == "casework.tasks.generate_weekly_voc_report"
    assert entry["schedule"].day_of_week == {1}


def test_report_list_and_generate_now(client, agent, manager, travel):
    travel(at(2026, 3, 9, 6))
    client.force_login(agent)
    assert client.get("/casework/").url == "/casework/feedback/"
    assert client.post("/casework/voice-of-customer/generate/").status_code == 404
    client.force_login(manager)
    assert client.get("/casework/").url == "/casework/dashboard/"
    response = client.post("/casework/voice-of-customer/generate/")
    report = VocReport.objects.get()
    assert response.url == f"/casework/voice-of-customer/{report.pk}/"
    assert report.week_start.isoformat() == "2026-03-02"
    assert "Week of 2 Mar 2026" in client.get("/casework/voice-of-customer/").content.decode()
