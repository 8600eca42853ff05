"""In a real browser: the bell count rises without reloading when a customer answers, and
the note box completes "@" mentions from the keyboard."""
import re

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.factories import make_ticket, make_user
from tickets import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def people(org_a, l1, settings):
    settings.NOTIFICATION_POLL_SECONDS = 1  # the page polls every 30 s in production
    customer = make_user(Role.CUSTOMER, org=org_a, username="carla", first_name="Carla")
    agent = make_user(Role.AGENT, teams=(l1,), username="arthur", first_name="Arthur")
    colleague = make_user(Role.AGENT, teams=(l1,), username="cecil", first_name="Cecil")
    return customer, agent, colleague


def test_bell_rises_without_reload_when_the_customer_answers(live_server, page_factory,
                                                             people):
    customer, agent, _ = people
    ticket = make_ticket(customer, subject="Export hangs at 99 %")  # round robin: Arthur
    assert ticket.assignee == agent
    page = page_factory()
    log_in(page, live_server.url, "arthur")
    page.goto(f"{live_server.url}{ticket.get_absolute_url()}")
    count = page.locator("#notification-count")
    expect(count).to_have_text(re.compile(r"^\s*1\s+unread"))  # "assigned to you"
    expect(count).to_have_attribute("aria-live", "polite")
    page.evaluate("window.notReloaded = true")

    # The customer answers in another session (here: through the service, as the portal
    # and the e-mail channel do).
    services.add_reply(ticket, author=customer, body="It still hangs, log attached.")

    expect(count).to_have_text(re.compile(r"^\s*2\s+unread"))
    assert page.evaluate("window.notReloaded") is True
    page.locator("#notification-bell").click()
    expect(page.get_by_role("link", name=re.compile("Carla answered"))).to_be_visible()
    assert page.js_errors == []


def test_note_box_completes_mentions_from_the_keyboard(live_server, page_factory, people):
    customer, agent, colleague = people
    ticket = make_ticket(customer, subject="SSO loop")
    page = page_factory()
    log_in(page, live_server.url, "arthur")
    page.goto(f"{live_server.url}{ticket.get_absolute_url()}")
    page.get_by_label("Internal note").check()
    box = page.get_by_label("Message")
    box.click()
    box.press_sequentially("Could you check, @ce")
    option = page.get_by_role("option", name=re.compile("@cecil"))
    expect(option).to_be_visible()
    expect(option).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(box).to_have_value("Could you check, @cecil ")
    expect(page.get_by_role("listbox")).to_be_hidden()
    box.press_sequentially("please?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Internal note added.")).to_be_visible()
    assert colleague.notifications.filter(source="staff.mentioned").count() == 1

    # Following from the keyboard: the button turns into "Unfollow" and keeps the focus.
    page.get_by_role("button", name="Follow").focus()
    page.keyboard.press("Enter")
    unfollow = page.get_by_role("button", name="Unfollow")
    expect(unfollow).to_be_focused()
    assert ticket.followers.filter(user=agent).exists()
    assert page.js_errors == []
