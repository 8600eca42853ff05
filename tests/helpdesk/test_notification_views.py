"""The notification bell and inbox: own notifications only, newest first, marked read by POST."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk import notifications
from helpdesk.models import Notification

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LIST = reverse("notifications:list")
BELL = reverse("notifications:bell")


def note(user, title="SLA 80%: #1 First response due 14:05", *, ago=0, url="/agent/tickets/1/",
         **kwargs) -> Notification:
    n = notifications.notify(user, title=title, source="test", url=url, email=False, **kwargs)
    if ago:
        Notification.objects.filter(pk=n.pk).update(
            created_at=timezone.now() - timedelta(minutes=ago))
    return n


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_the_bell_shows_the_unread_count_with_one_count_query(agent, lead):
    for i in range(3):
        note(agent, f"n{i}")
    note(lead)
    notifications.mark_read(agent, [Notification.objects.filter(recipient=agent).first().pk])
    c = client_for(agent)
    c.get(BELL, **HTMX)  # session and user loaded once
    with CaptureQueriesContext(connection) as ctx:
        response = c.get(BELL, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert ">2<" in html and "unread" in html
    counts = [q["sql"] for q in ctx.captured_queries if "helpdesk_notification" in q["sql"]]
    assert len(counts) == 1 and "COUNT(" in counts[0].upper()
    assert '"read_at" IS NULL' in counts[0]
    assert "no-cache" in response.headers["Cache-Control"]


def test_the_bell_says_so_when_nothing_is_unread_and_caps_large_counts(agent):
    c = client_for(agent)
    assert "none unread" in c.get(BELL, **HTMX).content.decode()
    Notification.objects.bulk_create([
        Notification(recipient=agent, title=f"n{i}", source="test", created_at=timezone.now())
        for i in range(120)])
    assert ">99+<" in c.get(BELL, **HTMX).content.decode()


def test_signed_out_the_bell_stops_polling():
    assert Client().get(BELL, **HTMX).status_code == 286


def test_pages_show_the_bell_to_signed_in_users_only(agent, customer_a):
    page = client_for(agent).get(reverse("agent:queue", args=["mine"])).content.decode()
    bell = re.search(r'<span id="notification-count"[^>]*>', page).group(0)
    assert f'hx-get="{BELL}"' in bell
    assert "every 30s" in bell
    assert 'aria-live="polite"' in bell
    assert f'href="{LIST}"' in page
    assert "notification-count" in client_for(customer_a).get(
        reverse("portal:tickets")).content.decode()
    assert "notification-count" not in Client().get(reverse("login")).content.decode()


def test_the_list_is_newest_first_paged_and_links_to_each_notification(agent):
    for i in range(30):
        note(agent, f"Note {i:02d}", ago=30 - i, url=f"/agent/tickets/{i}/")
    c = client_for(agent)
    page1 = c.get(LIST).content.decode()
    titles = re.findall(r">(Note \d\d)</a>", page1)
    assert titles == [f"Note {i:02d}" for i in range(29, 4, -1)]  # 25 per page
    assert 'href="/agent/tickets/29/"' in page1
    assert "Page 1 of 2" in page1
    page2 = c.get(LIST, {"page": 2}).content.decode()
    assert re.findall(r">(Note \d\d)</a>", page2) == [f"Note {i:02d}" for i in range(4, -1, -1)]


def test_the_list_does_not_query_per_row(agent):
    for i in range(5):
        note(agent, f"n{i}")
    c = client_for(agent)
    c.get(LIST)
    with CaptureQueriesContext(connection) as few:
        c.get(LIST)
    for i in range(20):
        note(agent, f"m{i}")
    with CaptureQueriesContext(connection) as many:
        c.get(LIST)
    assert len(many) == len(few)


def test_the_list_filters_unread_and_never_links_off_site(agent):
    note(agent, "Old news")
    notifications.mark_read(agent)
    note(agent, "Fresh", url="https://evil.example/phish")
    page = client_for(agent).get(LIST, {"unread": "1"}).content.decode()
    assert "Fresh" in page and "Old news" not in page
    assert "evil.example" not in page


def test_mark_one_read_by_post(agent):
    a, b = note(agent, "A"), note(agent, "B")
    c = client_for(agent)
    response = c.post(reverse("notifications:read", args=[a.pk]), {"next": f"{LIST}?page=1"})
    assert response.status_code == 302 and response["Location"] == f"{LIST}?page=1"
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.read_at is not None and b.read_at is None
    assert c.get(reverse("notifications:read", args=[b.pk])).status_code == 405


def test_mark_one_read_with_htmx_swaps_the_row_and_refreshes_the_bell(agent):
    a = note(agent, "A")
    response = client_for(agent).post(reverse("notifications:read", args=[a.pk]), **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notificationsChanged"
    html = response.content.decode()
    assert f'id="notification-{a.pk}"' in html and "Mark as read" not in html


def test_mark_all_read(agent, lead):
    for i in range(3):
        note(agent, f"n{i}")
    note(lead)
    response = client_for(agent).post(reverse("notifications:read_all"),
                                      {"next": "https://evil.example/"})
    assert response["Location"] == LIST  # never redirected off site
    assert notifications.unread_count(agent) == 0
    assert notifications.unread_count(lead) == 1


def test_other_users_notifications_are_not_found(agent, lead):
    theirs = note(lead, "Private to the lead")
    c = client_for(agent)
    assert c.post(reverse("notifications:read", args=[theirs.pk])).status_code == 404
    assert c.post(reverse("notifications:read", args=[999999])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert "Private to the lead" not in c.get(LIST).content.decode()


def test_marking_read_needs_the_csrf_token(agent):
    a = note(agent)
    c = Client(enforce_csrf_checks=True)
    c.force_login(agent)
    assert c.post(reverse("notifications:read", args=[a.pk])).status_code == 403
    assert c.post(reverse("notifications:read_all")).status_code == 403
    page = c.get(LIST).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert c.post(reverse("notifications:read", args=[a.pk]),
                  {"csrfmiddlewaretoken": token}).status_code == 302


def test_signed_out_users_are_sent_to_log_in():
    response = Client().get(LIST)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_inbox_page_is_keyboard_and_screen_reader_friendly(agent):
    a = note(agent, "Urgent one", urgent=True)
    page = client_for(agent).get(LIST).content.decode()
    assert "<script" not in page.split("</head>")[1]  # CSP: no inline script
    assert "style=" not in page
    form = re.search(rf'<form[^>]*action="/notifications/{a.pk}/read/"[^>]*>.*?</form>', page,
                     re.S).group(0)
    assert '<button type="submit"' in form and "Mark as read" in form
    assert "Urgent" in page
    assert 'aria-current="page"' in page
