"""The agent workspace in a real browser: shortcuts, dialogs, colleagues on the same
ticket, and the warning before sending over a message that arrived meanwhile."""
import re

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from tests.factories import make_ticket, make_user
from tickets import services
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("domcontentloaded")


def watch_console(page):
    page.console_messages = []
    page.on("console", lambda msg: page.console_messages.append(f"{msg.type}: {msg.text}"))


def clean(page):
    problems = [m for m in page.console_messages
                if m.startswith("error") or "Content Security Policy" in m]
    return problems + page.js_errors


@pytest.fixture
def desk(org_a, l1):
    customer = make_user(Role.CUSTOMER, org=org_a, username="carla", first_name="Carla")
    arthur = make_user(Role.AGENT, teams=(l1,), username="arthur", first_name="Arthur")
    bea = make_user(Role.AGENT, teams=(l1,), username="bea", first_name="Bea")
    tickets = [services.assign(make_ticket(customer, subject=f"Export fails {i}"),
                               assignee=None, actor=None) for i in range(3)]
    return customer, arthur, bea, tickets


def test_keyboard_moves_through_the_queue_and_works_the_ticket(live_server, page_factory,
                                                              desk):
    customer, arthur, bea, tickets = desk
    base = live_server.url
    page = page_factory()
    watch_console(page)
    log_in(page, base, "arthur")
    page.goto(f"{base}/agent/queue/teams/")
    page.wait_for_load_state("domcontentloaded")

    # j moves down, k back up; the chosen row's link has the focus (screen readers say it).
    rows = page.locator("#queue-table tbody tr[data-href]")
    expect(rows).to_have_count(3)
    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile("current"))
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile("current"))
    expect(rows.nth(1).locator("a.row-link")).to_be_focused()
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile("current"))
    chosen = rows.nth(0).get_attribute("data-href")
    page.keyboard.press("o")
    expect(page).to_have_url(re.compile(re.escape(chosen) + "$"))
    ticket = Ticket.objects.get(pk=int(chosen.rstrip("/").rsplit("/", 1)[1]))
    page.wait_for_load_state("domcontentloaded")

    # ? lists the shortcuts in a dialog; Escape closes it.
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # n: an internal note; keys typed into the box are text, not shortcuts.
    page.keyboard.press("n")
    body = page.get_by_role("textbox", name="Message")
    expect(body).to_be_focused()
    expect(page.get_by_label("Internal note")).to_be_checked()
    page.keyboard.type("a note about the export")
    expect(body).to_have_value("a note about the export")
    ticket.refresh_from_db()
    assert ticket.assignee_id is None  # the "a" typed into the box assigned nothing
    # Ctrl+Enter sends from the box.
    page.keyboard.press("Control+Enter")
    expect(page.locator("#conversation")).to_contain_text("a note about the export")
    assert ticket.messages.get().is_public is False

    # r: back to a public reply.
    page.locator("h1").click()
    page.keyboard.press("r")
    expect(page.get_by_label("Public reply")).to_be_checked()
    expect(body).to_be_focused()

    # a (outside a field): assign to me.
    page.locator("h1").click()
    page.keyboard.press("a")
    expect(page.locator(".head-assignee")).to_contain_text("Arthur")
    ticket.refresh_from_db()
    assert ticket.assignee == arthur
    assert clean(page) == []


def test_status_menu_and_dialogs(live_server, page_factory, desk, l2):
    customer, arthur, bea, tickets = desk
    ticket = tickets[0]
    base = live_server.url
    page = page_factory()
    watch_console(page)
    log_in(page, base, "arthur")
    page.goto(f"{base}/agent/tickets/{ticket.pk}/")
    page.wait_for_load_state("domcontentloaded")

    # A transition that needs a reason asks for it in a dialog, and only that one.
    page.get_by_text("Change status").click()
    page.get_by_role("button", name=re.compile("→ Closed…")).click()
    dialog = page.locator("#tr-dialog-closed")
    expect(dialog).to_be_visible()
    expect(page.locator("#tr-closed-reason")).to_be_focused()
    page.keyboard.press("Escape")  # no key trap: Escape leaves, focus goes back
    expect(dialog).to_be_hidden()

    # The escalation dialog: opened by its button, closed by Cancel, nothing changed.
    page.get_by_role("button", name="Escalate…").click()
    escalate = page.get_by_role("dialog", name="Escalate with a handoff packet")
    expect(escalate).to_be_visible()
    expect(escalate.get_by_label("Escalate to team")).to_be_focused()
    escalate.get_by_role("button", name="Cancel").click()
    expect(escalate).to_be_hidden()
    expect(page.get_by_role("button", name="Escalate…")).to_be_focused()

    # The merge dialog merges into the ticket typed in.
    page.get_by_role("button", name="Merge…").click()
    merge = page.get_by_role("dialog", name="Merge as a duplicate")
    expect(merge).to_be_visible()
    merge.get_by_label("Merge this ticket into ticket #").fill(str(tickets[1].pk))
    merge.get_by_role("button", name="Merge into that ticket").click()
    expect(page).to_have_url(re.compile(f"/agent/tickets/{tickets[1].pk}/$"))
    ticket.refresh_from_db()
    assert ticket.merged_into_id == tickets[1].pk
    assert clean(page) == []


def test_colleagues_see_each_other_and_who_is_typing(live_server, page_factory, desk):
    customer, arthur, bea, tickets = desk
    ticket = tickets[0]
    base = live_server.url
    a = page_factory()
    b = page_factory()  # a second browser context: another agent's browser
    watch_console(a)
    watch_console(b)
    log_in(a, base, "arthur")
    log_in(b, base, "bea")
    a.goto(f"{base}/agent/tickets/{ticket.pk}/")
    b.goto(f"{base}/agent/tickets/{ticket.pk}/")

    banner = a.locator("#presence")
    expect(banner).to_contain_text("Bea is viewing this ticket", timeout=15_000)
    expect(b.locator("#presence")).to_contain_text("Arthur is viewing this ticket",
                                                   timeout=15_000)
    b.get_by_label("Message").type("Working on it")
    expect(banner).to_contain_text("Bea is typing a reply", timeout=15_000)
    assert clean(a) == [] and clean(b) == []


def test_warning_before_sending_over_a_newer_message(live_server, page_factory, desk):
    customer, arthur, bea, tickets = desk
    ticket = tickets[0]
    base = live_server.url
    page = page_factory()
    watch_console(page)
    log_in(page, base, "arthur")
    page.goto(f"{base}/agent/tickets/{ticket.pk}/")
    page.wait_for_load_state("domcontentloaded")
    # Meanwhile the customer writes, and a colleague adds a note. (Written just after a
    # presence poll answered: the in-memory SQLite of the live server refuses a read that
    # meets a write, and the next poll is five seconds away.)
    with page.expect_response(lambda r: "/presence/" in r.url, timeout=15_000):
        pass
    page.get_by_role("textbox", name="Message").fill("Please clear your cache.")
    services.add_reply(Ticket.objects.get(pk=ticket.pk), author=customer,
                       body="Update: it also fails in Firefox.", public=True)
    services.add_reply(Ticket.objects.get(pk=ticket.pk), author=bea,
                       body="Known bug, see the incident.", public=False)

    page.get_by_role("button", name="Send").click()
    warning = page.locator(".send-warning")
    expect(warning).to_contain_text("2 new messages arrived")
    expect(warning).to_contain_text("it also fails in Firefox")
    expect(warning).to_contain_text("Known bug, see the incident")
    assert not ticket.messages.filter(author=arthur).exists()  # nothing was sent
    expect(page.get_by_role("textbox", name="Message")).to_have_value("Please clear your cache.")

    # Having read them, sending again sends.
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#conversation")).to_contain_text("Please clear your cache.")
    assert ticket.messages.filter(author=arthur, body="Please clear your cache.").exists()

    # The composer that came back checks the next send as well.
    with page.expect_response(lambda r: "/presence/" in r.url, timeout=15_000):
        pass
    services.add_reply(Ticket.objects.get(pk=ticket.pk), author=customer,
                       body="Cleared it, same error.", public=True)
    page.get_by_role("textbox", name="Message").fill("Then it is the bug.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".send-warning")).to_contain_text("Cleared it, same error.")
    assert not ticket.messages.filter(body="Then it is the bug.").exists()
    assert clean(page) == []


def test_send_then_next_ticket(live_server, page_factory, desk):
    customer, arthur, bea, tickets = desk
    for t in tickets:
        services.assign(Ticket.objects.get(pk=t.pk), assignee=arthur, actor=arthur)
    base = live_server.url
    page = page_factory()
    watch_console(page)
    log_in(page, base, "arthur")
    page.goto(f"{base}/agent/tickets/{tickets[0].pk}/")
    page.get_by_role("textbox", name="Message").fill("Fixed on our side.")
    page.get_by_label("then next ticket").check()
    page.get_by_role("button", name="Send").click()
    expect(page).not_to_have_url(re.compile(f"/agent/tickets/{tickets[0].pk}/$"))
    expect(page.locator("h1")).to_contain_text("Export fails")
    assert tickets[0].messages.filter(body="Fixed on our side.").exists()
    assert clean(page) == []


def test_composer_is_on_screen_at_laptop_size_with_a_long_conversation(live_server, browser,
                                                                        desk):
    customer, arthur, bea, tickets = desk
    ticket = Ticket.objects.get(pk=tickets[0].pk)
    for i in range(15):
        services.add_reply(Ticket.objects.get(pk=ticket.pk), author=customer if i % 2 else arthur,
                           body=f"Message {i}\n\n" + "A long paragraph of detail. " * 20,
                           public=True)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    watch_console(page)
    log_in(page, live_server.url, "arthur")
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.scrollY") == 0
    send = page.locator("#reply-form button[data-shortcut=send]").bounding_box()
    body = page.get_by_role("textbox", name="Message").bounding_box()
    assert send["y"] + send["height"] <= 768 and body["y"] + body["height"] <= 768
    # The newest message is in view at the foot of the conversation.
    expect(page.locator("#conversation")).to_contain_text("Message 14")
    last = page.get_by_text("Message 14", exact=True).bounding_box()
    assert 0 < last["y"] < 768
    assert clean(page) == []  # no console error, no CSP violation
    context.close()


def test_column_choice_follows_the_agent_to_another_browser(live_server, page_factory, desk):
    base = live_server.url
    headers = "#queue-table thead th"
    page = page_factory()
    watch_console(page)
    log_in(page, base, "arthur")
    page.goto(f"{base}/agent/queue/teams/")
    expect(page.locator(headers, has_text="Team")).to_have_count(1)
    page.get_by_text("Columns", exact=True).click()
    page.locator("#col-team").uncheck()
    page.locator("#col-requester").uncheck()
    page.locator(".column-menu").get_by_role("button", name="Show").click()
    expect(page.locator(headers, has_text="Requester")).to_have_count(0)
    expect(page.locator(headers, has_text="Team")).to_have_count(0)
    expect(page.locator("#queue-table tbody tr[data-href]")).to_have_count(3)

    other = page_factory()  # another browser: the choice came with the agent
    watch_console(other)
    log_in(other, base, "arthur")
    other.goto(f"{base}/agent/queue/teams/")
    expect(other.locator(headers, has_text="Subject")).to_have_count(1)
    expect(other.locator(headers, has_text="Team")).to_have_count(0)
    expect(other.locator(headers, has_text="Requester")).to_have_count(0)
    assert clean(page) == [] and clean(other) == []
