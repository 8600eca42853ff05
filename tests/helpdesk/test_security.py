"""Session, password-reset, CSRF and header guarantees (the security part of issue 11)."""
from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"


def test_the_session_key_changes_at_log_in(client, customer_a):
    client.get(reverse("login"))
    client.cookies["sessionid"] = "attacker-chosen-session"  # session fixation attempt
    client.post(reverse("login"), {"username": customer_a.username, "password": PASSWORD})
    assert client.session.session_key not in (None, "attacker-chosen-session")
    before = client.session.session_key
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": customer_a.username, "password": PASSWORD})
    assert client.session.session_key != before


def test_a_password_reset_link_works_once(client, customer_a):
    client.post(reverse("password_reset"), {"email": customer_a.email})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password/reset/" in line)
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    confirm = client.get(path, follow=True)
    form_url = confirm.redirect_chain[-1][0]
    new = {"new_password1": "Another-Secret-456", "new_password2": "Another-Secret-456"}
    assert "Your password has been set" in client.post(form_url, new, follow=True) \
        .content.decode()
    # The same link again (another browser): refused, the password stays as set.
    other = Client()
    again = other.get(path, follow=True)
    assert "no longer valid" in again.content.decode()
    other.post(path, {"new_password1": "Hijack-Secret-789",
                      "new_password2": "Hijack-Secret-789"})
    customer_a.refresh_from_db()
    assert customer_a.check_password("Another-Secret-456")


@pytest.mark.parametrize("name,args,data", [
    ("login", [], {"username": "x", "password": "y"}),
    ("signup", [], {"email": "a@b.example"}),
    ("logout", [], {}),
    ("portal:new_ticket", [], {"subject": "s", "description": "d"}),
])
def test_forms_refuse_a_post_without_the_csrf_token(customer_a, name, args, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer_a)
    response = client.post(reverse(name, args=args), data)
    assert response.status_code == 403


def test_agent_actions_refuse_a_post_without_the_csrf_token(agent, ticket_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    for name in ("agent:reply", "agent:update", "agent:transition"):
        assert client.post(reverse(name, args=[ticket_a.pk]), {"body": "x"}).status_code == 403


def test_every_form_on_the_main_pages_carries_a_csrf_token(client, agent, ticket_a):
    client.force_login(agent)
    for url in (reverse("agent:ticket", args=[ticket_a.pk]), reverse("portal:new_ticket")):
        html = client.get(url).content.decode()
        posts = re.findall(r'<form[^>]*method="post"[^>]*>(.*?)</form>', html, re.S | re.I)
        assert posts, url
        assert all("csrfmiddlewaretoken" in body for body in posts), url


def test_pages_send_the_security_headers(client, customer_a):
    client.force_login(customer_a)
    response = client.get(reverse("portal:tickets"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "<script>" not in response.content.decode()  # no inline script to allow


def test_api_errors_are_json_not_html(client, agent):
    client.force_login(agent)
    response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
    assert client.get("/no-such-page/").status_code == 404
