"""End to end in a real browser: a customer files a ticket, an agent works it."""
import re

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.factories import make_user
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def csp_problems(page):
    return [m for m in page.console_messages if "Content Security Policy" in m]


@pytest.fixture
def people(org_a, l1):
    customer = make_user(Role.CUSTOMER, org=org_a, username="carla", first_name="Carla")
    agent = make_user(Role.AGENT, teams=(l1,), username="arthur", first_name="Arthur")
    return customer, agent


def test_customer_files_and_agent_works_the_ticket(live_server, page_factory, people):
    customer, agent = people
    base = live_server.url

    # The customer files a request from the portal.
    cpage = page_factory()
    cpage.console_messages = []
    cpage.on("console", lambda msg: cpage.console_messages.append(msg.text))
    log_in(cpage, base, "carla")
    expect(cpage).to_have_url(re.compile(r"/portal/$"))
    cpage.get_by_role("link", name="Submit a request").first.click()
    cpage.get_by_label("Subject").fill("Webhook deliveries time out")
    cpage.get_by_label("Description").fill("Since 09:00 every delivery to **our endpoint** fails.")
    cpage.get_by_role("button", name="Submit request").click()
    heading = cpage.get_by_role("heading", name=re.compile("Webhook deliveries time out"))
    expect(heading).to_be_visible()
    ticket = Ticket.objects.get(subject="Webhook deliveries time out")
    assert ticket.assignee == agent  # the L1 round robin had only Arthur

    # The agent finds it at the top of their queue and opens it.
    apage = page_factory()
    apage.console_messages = []
    apage.on("console", lambda msg: apage.console_messages.append(msg.text))
    log_in(apage, base, "arthur")
    expect(apage).to_have_url(re.compile(r"/agent/queue/mine/"))
    apage.get_by_role("link", name=re.compile("Webhook deliveries time out")).click()
    expect(apage.get_by_role("heading", level=1)).to_contain_text("Webhook deliveries time out")
    expect(apage.locator(".markdown strong")).to_have_text("our endpoint")

    # An internal note, then a public reply, both through htmx without a page load.
    # The shortcuts are bound once the deferred scripts ran (DOMContentLoaded); a person
    # cannot press a key within the milliseconds before that, a test can.
    apage.wait_for_load_state("domcontentloaded")
    apage.keyboard.press("r")
    expect(apage.get_by_label("Message")).to_be_focused()
    apage.get_by_label("Message").fill("Internal: their endpoint returns 502 in our logs.")
    apage.get_by_label("Internal note").check()
    apage.get_by_role("button", name="Send").click()
    expect(apage.locator("#conversation")).to_contain_text("their endpoint returns 502")
    apage.get_by_label("Message").fill("Hi Carla, could you share the endpoint URL?")
    apage.get_by_label("Public reply").check()
    apage.get_by_role("button", name="Send").click()
    expect(apage.locator("#conversation")).to_contain_text("could you share the endpoint URL")

    # Start work, then wait on the customer with a reason.
    # (the transitions sit in one menu; the one that needs a reason asks in a dialog)
    apage.get_by_text("Change status").click()
    apage.get_by_role("button", name=re.compile("Start → In progress")).click()
    expect(apage.locator(".ticket-badges")).to_contain_text("In progress")
    apage.get_by_text("Change status").click()
    apage.get_by_role("button", name=re.compile("Waiting on customer…")).click()
    apage.locator("#tr-waiting_on_customer-reason").fill("endpoint URL requested")
    apage.locator("#tr-dialog-waiting_on_customer").get_by_role(
        "button", name=re.compile("Waiting on customer")).click()
    expect(apage.locator(".ticket-badges")).to_contain_text("Waiting on customer")
    ticket.refresh_from_db()
    assert ticket.status == "waiting_on_customer"
    assert ticket.first_response_at is not None

    # The customer sees the reply but never the internal note, and answers.
    cpage.reload()
    expect(cpage.get_by_text("could you share the endpoint URL")).to_be_visible()
    expect(cpage.get_by_text("their endpoint returns 502")).to_have_count(0)
    cpage.get_by_label("Your reply").fill("It is https://hooks.example.com/in")
    cpage.get_by_role("button", name="Send reply").click()
    expect(cpage.get_by_text("https://hooks.example.com/in")).to_be_visible()
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"

    # The agent's conversation refreshes and the timeline shows every step.
    apage.reload()
    expect(apage.locator("#conversation")).to_contain_text("hooks.example.com")
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds.count("status") >= 3 and "note" in kinds and "reply" in kinds

    assert csp_problems(apage) == [] and csp_problems(cpage) == []
    assert apage.js_errors == [] and cpage.js_errors == []


def test_agent_escalates_with_a_handoff_packet(live_server, page_factory, people, l2):
    customer, agent = people
    from tests.factories import make_ticket

    ticket = make_ticket(customer, subject="SAML assertion rejected")
    base = live_server.url
    page = page_factory()
    log_in(page, base, "arthur")
    page.goto(f"{base}/agent/tickets/{ticket.pk}/")
    page.get_by_role("button", name="Escalate…").click()  # the escalation dialog
    form = page.locator("form.escalate-form")
    form.get_by_label("Escalate to team").select_option(label="L2 Technical")
    form.get_by_label("Issue summary").fill("SAML assertion rejected for all users")
    form.get_by_label("Troubleshooting done").fill("Checked clock skew and metadata")
    # Leave "why escalating" empty: the packet is incomplete, so nothing is sent.
    form.get_by_label("Customer expectation").fill("Login today")
    form.get_by_label("Suggested next steps").fill("Compare certificate fingerprints")
    form.get_by_role("button", name="Escalate").click()
    assert form.get_by_label("Why escalating").evaluate("el => el.validity.valueMissing")
    ticket.refresh_from_db()
    assert ticket.status == "assigned" and ticket.team.slug == "l1-general"
    form = page.locator("form.escalate-form")
    expect(form.get_by_label("Issue summary")).to_have_value(
        "SAML assertion rejected for all users")  # what the agent typed is kept
    form.get_by_label("Why escalating").fill("Needs IdP log access")
    form.get_by_role("button", name="Escalate").click()
    expect(page.locator("#messages")).to_contain_text("Escalated to L2 Technical")
    ticket.refresh_from_db()
    assert (ticket.status, ticket.team) == ("escalated", l2)
    assert ticket.escalations.get().reason == "Needs IdP log access"
