"""Issue 24 in a real browser: a manager is made to enrol an authenticator at first sign-in,
gets recovery codes, and the next sign-in asks for a code."""
import base64
import re
import time

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"


def code(secret: str, *, steps_ahead: int = 0) -> str:
    """The app's code; `steps_ahead` 1 is the next 30 s window (django-otp accepts one step
    of drift, and refuses a code of a window already used)."""
    totp = TOTP(base64.b32decode(secret), step=30, digits=6)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/?next=/agent/queue/mine/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_manager_enrols_an_authenticator_then_signs_in_with_a_code(
        live_server, page_factory, settings):
    settings.HELPDESK_2FA_REQUIRED_ROLES = ["admin", "manager"]
    make_user(Role.MANAGER, username="maria", first_name="Maria")

    page = page_factory()
    sign_in(page, live_server.url, "maria")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/setup/\?next="))
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_role("textbox", name="Code").fill(code(secret))
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    assert page.locator(".recovery-codes li").count() == 10
    page.get_by_role("link", name="Continue").click()
    expect(page).to_have_url(f"{live_server.url}/agent/queue/mine/")

    page.get_by_role("button", name="Log out").click()
    sign_in(page, live_server.url, "maria")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/verify/"))
    page.get_by_role("textbox", name="Code").fill(code(secret, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{live_server.url}/agent/queue/mine/")
    assert page.js_errors == []
