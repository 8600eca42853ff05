"""Sign-up, log-in (throttled), log-out and password reset."""
from __future__ import annotations

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from helpdesk.models import User
from helpdesk.roles import Role

from ..factories import make_user

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Secret-123"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


def signup_data(**overrides) -> dict[str, str]:
    data = {
        "username": "wile", "email": "Wile@Acme.example", "first_name": "Wile",
        "last_name": "Coyote", "password1": "Roadrunner-2024!", "password2": "Roadrunner-2024!",
    }
    data.update(overrides)
    return data


# --- sign-up --------------------------------------------------------------------------

def test_signup_joins_the_organization_of_the_email_domain(client, org_a):
    response = client.post(reverse("signup"), signup_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:tickets")
    user = User.objects.get(username="wile")
    assert user.organization == org_a
    assert user.email == "wile@acme.example"
    assert list(user.groups.values_list("name", flat=True)) == [Role.CUSTOMER]
    assert not user.is_agent and not user.is_org_admin and not user.is_staff
    # Signed in and landing on the portal.
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert page.context["user"] == user


def test_signup_with_an_unknown_domain_has_no_organization(client, org_a):
    client.post(reverse("signup"), signup_data(email="wile@elsewhere.example"))
    assert User.objects.get(username="wile").organization is None


def test_signup_refuses_a_duplicate_email(client, customer_a):
    response = client.post(reverse("signup"), signup_data(email=customer_a.email.upper()))
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert not User.objects.filter(username="wile").exists()
    assert "_auth_user_id" not in client.session


def test_signup_refuses_a_weak_password(client):
    response = client.post(reverse("signup"), signup_data(password1="123", password2="123"))
    assert response.status_code == 200
    assert not User.objects.filter(username="wile").exists()
    assert 'id="id_password2_error"' in response.content.decode()


def test_signup_form_labels_every_input(client):
    html = client.get(reverse("signup")).content.decode()
    for name in ("username", "email", "first_name", "last_name", "password1", "password2"):
        assert f'for="id_{name}"' in html


def test_signed_in_user_visiting_signup_is_sent_home(client, customer_a):
    client.force_login(customer_a)
    assert client.get(reverse("signup")).status_code == 302


# --- log-in ---------------------------------------------------------------------------

def test_customer_logs_in_and_lands_on_the_portal(client, customer_a):
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD},
                           follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:tickets")
    assert response.context["user"] == customer_a


def test_wrong_password_shows_an_error(client, customer_a):
    response = client.post(reverse("login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_login_is_throttled_after_too_many_failures(client, customer_a, settings):
    settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE = 3
    for _ in range(3):
        assert client.post(reverse("login"),
                           {"username": "alice", "password": "guess"}).status_code == 200
    response = client.post(reverse("login"), {"username": "alice", "password": "guess"})
    assert response.status_code == 429
    assert "Too many failed log-in attempts" in response.content.decode()
    # Even the right password is refused until the window passes, and says nothing about it.
    right = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert right.status_code == 429
    assert "correct username and password" not in right.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_throttle_is_per_address(client, customer_a, settings):
    settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE = 3
    for _ in range(3):
        client.post(reverse("login"), {"username": "alice", "password": "guess"},
                    REMOTE_ADDR="10.0.0.1")
    assert client.post(reverse("login"), {"username": "alice", "password": "guess"},
                       REMOTE_ADDR="10.0.0.1").status_code == 429
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD},
                           REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 302


def test_throttle_window_expires(client, customer_a, settings):
    settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE = 3
    for _ in range(3):
        client.post(reverse("login"), {"username": "alice", "password": "guess"})
    cache.clear()  # what a minute without attempts does to the counter
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302


def test_login_page_labels_its_inputs(client):
    html = client.get(reverse("login")).content.decode()
    assert 'for="id_username"' in html and 'for="id_password"' in html


# --- log-out --------------------------------------------------------------------------

def test_logout_needs_a_post(client, customer_a):
    client.force_login(customer_a)
    assert client.get(reverse("logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


# --- password reset -------------------------------------------------------------------

def test_password_reset_pages_render_and_send_a_link(client, customer_a):
    assert client.get(reverse("password_reset")).status_code == 200
    response = client.post(reverse("password_reset"), {"email": customer_a.email}, follow=True)
    assert response.status_code == 200
    assert "Check your e-mail" in response.content.decode()
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/password/reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    confirm = client.get("/" + path, follow=True)
    assert confirm.status_code == 200
    assert 'for="id_new_password1"' in confirm.content.decode()
    done = client.post(confirm.redirect_chain[-1][0], {
        "new_password1": "Another-Secret-456", "new_password2": "Another-Secret-456",
    }, follow=True)
    assert "Your password has been set" in done.content.decode()
    customer_a.refresh_from_db()
    assert customer_a.check_password("Another-Secret-456")


def test_invalid_password_reset_link_says_so(client):
    response = client.get(reverse("password_reset_confirm",
                                  kwargs={"uidb64": "xx", "token": "bad"}))
    assert response.status_code == 200
    assert "no longer valid" in response.content.decode()


def test_password_reset_complete_page_renders(client):
    assert client.get(reverse("password_reset_complete")).status_code == 200


# --- anonymous access -----------------------------------------------------------------

@pytest.mark.parametrize("name,args,method", [
    ("portal:tickets", (), "get"),
    ("portal:new_ticket", (), "get"),
    ("portal:ticket", (1,), "get"),
    ("portal:reply", (1,), "post"),
    ("portal:solve", (1,), "post"),
    ("portal:reopen", (1,), "post"),
    ("portal:attachment", (1,), "get"),
])
def test_anonymous_user_is_sent_to_login_from_portal_pages(client, name, args, method):
    target = reverse(name, args=args)
    response = getattr(client, method)(target)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={target}"


def test_home_sends_customers_to_the_portal(client):
    client.force_login(make_user(Role.CUSTOMER))
    assert client.get(reverse("home"))["Location"] == reverse("portal:tickets")


def test_signups_are_throttled_per_address(client, settings):
    settings.HELPDESK_SIGNUPS_PER_HOUR = 2
    for n in range(2):
        client.post(reverse("signup"), {
            "username": f"new{n}", "email": f"new{n}@example.org", "first_name": "N",
            "password1": "Very-long-pass-123", "password2": "Very-long-pass-123",
        })
        client.post(reverse("logout"))
    response = client.post(reverse("signup"), {
        "username": "new9", "email": "new9@example.org", "first_name": "N",
        "password1": "Very-long-pass-123", "password2": "Very-long-pass-123",
    })
    assert response.status_code == 429
    assert not User.objects.filter(username="new9").exists()


def test_pages_render_times_in_the_users_time_zone(rf, customer_a):
    from django.http import HttpResponse
    from django.utils import timezone

    from helpdesk.middleware import UserTimezoneMiddleware

    seen = []
    middleware = UserTimezoneMiddleware(
        lambda request: seen.append(str(timezone.get_current_timezone())) or HttpResponse())
    customer_a.time_zone = "Asia/Tokyo"
    request = rf.get("/")
    request.user = customer_a
    middleware(request)
    customer_a.time_zone = "Not/AZone"
    middleware(request)
    assert seen == ["Asia/Tokyo", "UTC"]


def test_trusted_proxy_address_is_used_for_throttling(rf, settings):
    from helpdesk.throttle import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.2",
                     REMOTE_ADDR="10.0.0.3")
    assert client_ip(request) == "10.0.0.3"
    settings.HELPDESK_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "10.0.0.2"
    settings.HELPDESK_TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "203.0.113.9"


def test_permission_changes_apply_at_once_despite_the_cache(customer_a):
    from django.contrib.auth.models import Group

    from helpdesk.models import User as U

    assert not U.objects.get(pk=customer_a.pk).is_agent
    customer_a.groups.add(Group.objects.get(name=Role.AGENT))
    assert U.objects.get(pk=customer_a.pk).is_agent
    customer_a.groups.remove(Group.objects.get(name=Role.AGENT))
    assert not U.objects.get(pk=customer_a.pk).is_agent
