"""Issue 18 in a real browser: the link in the customer's e-mail opens the right ticket,
through the log-in page, with the agent's reply on it."""
import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.factories import make_ticket, make_user
from tickets import services as ticket_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"


def test_link_in_the_reply_e_mail_opens_the_ticket_after_log_in(
        live_server, page_factory, org_a, l1, settings):
    settings.HELPDESK_BASE_URL = live_server.url
    customer = make_user(Role.CUSTOMER, org=org_a, username="carla", first_name="Carla")
    agent = make_user(Role.AGENT, teams=(l1,), username="arthur", first_name="Arthur")
    make_ticket(customer, subject="Invoices show the wrong VAT")
    ticket = make_ticket(customer, subject="Webhook deliveries time out")
    mail.outbox.clear()
    ticket_services.add_reply(ticket, author=agent, body="We **raised** the timeout to 30 s.")
    [sent] = mail.outbox
    [link] = re.findall(rf"{re.escape(live_server.url)}/portal/tickets/\d+/", sent.body)

    page = page_factory()
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next="))
    page.get_by_label("Username").fill("carla")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}/portal/tickets/{ticket.pk}/")
    expect(page.get_by_role("heading", name=re.compile("Webhook deliveries time out"))
           ).to_be_visible()
    expect(page.locator("strong", has_text="raised")).to_be_visible()
    assert page.js_errors == []
