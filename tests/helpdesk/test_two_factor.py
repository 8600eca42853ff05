"""Staff sign-in: TOTP two-factor enforced per role, recovery codes, staff API tokens need a
second factor, idle sessions expire, sensitive actions need a fresh password or code, and an
organization can refuse its staff local passwords."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpdesk.models import AuditEntry
from helpdesk.roles import Role

from ..factories import make_org, make_user

pytestmark = pytest.mark.django_db
PASSWORD = "pw-Secret-123"


@pytest.fixture
def enforced(settings):
    """Production's defaults (settings.py), which the test settings switch off."""
    settings.HELPDESK_2FA_REQUIRED_ROLES = ["admin", "manager"]
    settings.HELPDESK_STAFF_TOKEN_NEEDS_2FA = True
    settings.HELPDESK_STAFF_IDLE_MINUTES = 30
    settings.HELPDESK_REAUTH_MINUTES = 15
    return settings


def code_for(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def enrol(client: Client, user) -> list[str]:
    page = client.get("/accounts/2fa/setup/")
    assert page.status_code == 200
    secret = re.search(rb'id="totp-secret">([A-Z2-7=]+)<', page.content).group(1)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    import base64

    assert base64.b32decode(secret) == device.bin_key
    done = client.post("/accounts/2fa/setup/", {"code": code_for(device)})
    assert done.status_code == 200
    return re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())


def test_a_manager_must_enrol_before_working_and_agents_need_not(client, enforced, manager,
                                                                   agent):
    client.force_login(manager)
    response = client.get("/agent/queue/mine/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/2fa/setup/")
    codes = enrol(client, manager)
    assert len(codes) == 10
    assert AuditEntry.objects.filter(model="otp_totp.TOTPDevice", actor=manager,
                                     changes__confirmed=[False, True]).exists()
    assert client.get("/agent/queue/mine/").status_code == 200
    client.force_login(agent)
    assert client.get("/agent/queue/mine/").status_code == 200


def test_signing_in_again_asks_for_the_code_and_a_recovery_code_works_once(enforced, manager):
    first = Client()
    first.force_login(manager)
    codes = enrol(first, manager)

    second = Client()
    assert second.post("/accounts/login/", {"username": manager.username,
                                            "password": PASSWORD}).status_code == 302
    response = second.get("/agent/queue/mine/")
    assert response["Location"].startswith("/accounts/2fa/verify/")
    wrong = second.post("/accounts/2fa/verify/", {"code": "000000", "next": "/agent/"})
    assert b"not right" in wrong.content
    assert second.get("/agent/queue/mine/").status_code == 302
    # A failure slows the next attempt down (django-otp's throttling): wait it out.
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)):
        ok = second.post("/accounts/2fa/verify/",
                         {"code": codes[0], "next": "/agent/queue/mine/"})
    assert ok["Location"] == "/agent/queue/mine/"
    assert second.get("/agent/queue/mine/").status_code == 200

    third = Client()
    third.post("/accounts/login/", {"username": manager.username, "password": PASSWORD})
    reused = third.post("/accounts/2fa/verify/", {"code": codes[0]})
    assert b"not right" in reused.content
    device = TOTPDevice.objects.get(user=manager, confirmed=True)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)):
        assert third.post("/accounts/2fa/verify/", {"code": code_for(device)}).status_code == 302


def test_a_second_enrolment_cannot_bypass_the_first(enforced, manager):
    client = Client()
    client.force_login(manager)
    enrol(client, manager)
    other = Client()
    other.force_login(manager)
    assert other.get("/accounts/2fa/setup/")["Location"].startswith("/accounts/2fa/verify/")


def test_superusers_count_as_admins(enforced, admin_user, client):
    client.force_login(admin_user)
    assert client.get("/admin/")["Location"].startswith("/accounts/2fa/setup/")


def test_api_tokens_of_staff_need_a_current_code_customers_do_not(enforced, client, manager,
                                                                   customer_a):
    url = "/api/v1/auth/token/"
    refused = client.post(url, {"username": manager.username, "password": PASSWORD})
    assert refused.status_code == 400 and "otp" in refused.json()
    browser = Client()
    browser.force_login(manager)
    enrol(browser, manager)
    device = TOTPDevice.objects.get(user=manager, confirmed=True)
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)):
        got = client.post(url, {"username": manager.username, "password": PASSWORD,
                                "otp": code_for(device)})
    assert got.status_code == 200
    # Token authentication itself is not asked for a second factor.
    api = Client(HTTP_AUTHORIZATION=f"Token {got.json()['token']}")
    assert api.get("/api/v1/users/me/").status_code == 200
    assert client.post(url, {"username": customer_a.username,
                             "password": PASSWORD}).status_code == 200


def test_an_unverified_session_gets_no_api_data(enforced, client, manager):
    client.force_login(manager)
    assert client.get("/api/v1/users/me/").status_code == 403


def test_idle_staff_sessions_expire(enforced, client, agent, customer_a):
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        client.force_login(agent)
        assert client.get("/agent/queue/mine/").status_code == 200
        traveller.shift(dt.timedelta(minutes=29))
        assert client.get("/agent/queue/mine/").status_code == 200
        traveller.shift(dt.timedelta(minutes=31))
        response = client.get("/agent/queue/mine/")
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
        assert client.get("/agent/queue/mine/").status_code == 302


def test_role_changes_need_a_fresh_password(enforced, manager, agent):
    admin = make_user(Role.ADMIN, username="second_admin")
    admin_client = Client()
    admin_client.force_login(admin)
    enrol(admin_client, admin)
    # Enrolling counts as a fresh sign-in; later, the window has passed.
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)):
        url = f"/admin/helpdesk/user/{agent.pk}/change/"
        post = admin_client.post(url, {"username": agent.username})
        assert post.status_code == 302 and post["Location"].startswith("/accounts/reauth/")
        bad = admin_client.post("/accounts/reauth/", {"password": "nope", "next": url})
        assert b"did not match" in bad.content
        ok = admin_client.post("/accounts/reauth/", {"password": PASSWORD, "next": url})
        assert ok["Location"] == url
        group = Group.objects.get(name=Role.MANAGER)
        page = admin_client.get(url)
        data = {k: v for k, v in page.context["adminform"].form.initial.items()
                if v is not None and k not in ("password", "user_permissions", "skills",
                                                "last_login", "date_joined")}
        data.update(groups=[str(g.pk) for g in agent.groups.all()] + [str(group.pk)],
                    is_active="on", date_joined_0="2026-01-01", date_joined_1="00:00:00",
                    organization="", time_zone="UTC")
        for key in ("is_staff", "is_superuser", "is_org_admin", "is_away"):
            data.pop(key, None)
        done = admin_client.post(url, data)
        assert done.status_code == 302, done.context["adminform"].form.errors
    assert agent.groups.filter(name=Role.MANAGER).exists()
    assert AuditEntry.objects.filter(model="helpdesk.User", object_id=str(agent.pk),
                                     actor=admin).exists()


def test_an_sso_only_organization_refuses_its_staff_local_passwords(client):
    staff_org = make_org("Our support company", domain="support.example")
    agent = make_user(Role.AGENT, org=staff_org, username="sso_agent")
    assert client.post("/accounts/login/", {"username": agent.username,
                                            "password": PASSWORD}).status_code == 302
    client.logout()
    staff_org.staff_sso_only = True
    staff_org.save()
    refused = client.post("/accounts/login/", {"username": agent.username,
                                               "password": PASSWORD})
    assert refused.status_code == 200 and not refused.wsgi_request.user.is_authenticated
    token = client.post("/api/v1/auth/token/", {"username": agent.username,
                                                "password": PASSWORD})
    assert token.status_code == 400
    # Customers of an organization are never affected.
    customer = make_user(Role.CUSTOMER, org=staff_org, username="sso_customer")
    assert client.post("/accounts/login/", {"username": customer.username,
                                            "password": PASSWORD}).status_code == 302
    assert AuditEntry.objects.filter(model="helpdesk.Organization",
                                     changes__staff_sso_only=[False, True]).exists()


def test_background_polls_neither_swap_in_the_enrolment_page_nor_keep_a_session_alive(
        client, enforced, manager, agent):
    client.force_login(manager)
    bell = client.get("/notifications/bell/", HTTP_HX_REQUEST="true")
    assert bell.status_code == 403 and b"<html" not in bell.content
    start = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as traveller:
        client.force_login(agent)
        assert client.get("/agent/queue/mine/").status_code == 200
        for _ in range(4):  # an open tab polls the bell; nobody is there
            traveller.shift(dt.timedelta(minutes=10))
            client.get("/notifications/bell/", HTTP_HX_REQUEST="true")
        assert client.get("/agent/queue/mine/").status_code == 302


def test_every_sensitive_url_name_exists():
    """A renamed route must not silently lose its re-authentication."""
    from django.conf import settings
    from django.urls import NoReverseMatch, reverse

    for name in settings.HELPDESK_SENSITIVE_URL_NAMES:
        try:
            reverse(name)
        except NoReverseMatch:
            reverse(name, args=[1])
