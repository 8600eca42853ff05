"""In a real browser: a reviewer scores a ticket beside its conversation with the live
score preview, submits; the agent reads the review and acknowledges it."""
import os
import shutil
import threading

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from qa import services
from qa.models import ReviewStatus
from tests.factories import make_user

from .conftest import resolved

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture
def in_browser(monkeypatch):
    """Run a scenario `fn(page)` in its own thread with its own Playwright.

    Another module's session-wide Playwright may be running in this thread's event loop,
    and two sync Playwrights cannot share a thread.
    """
    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}")
    # ORM calls in this thread stay safe while that other Playwright's loop runs here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    def run(fn):
        outcome: dict = {}

        def target():
            from playwright.sync_api import sync_playwright

            try:
                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                        "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                    try:
                        page = browser.new_context(
                            viewport={"width": 1400, "height": 1000}).new_page()
                        page.set_default_timeout(10_000)
                        page.console_messages = []
                        page.on("console", lambda m: page.console_messages.append(m.text))
                        fn(page)
                    finally:
                        browser.close()
            except BaseException as exc:  # re-raised in the test's thread
                outcome["error"] = exc

        thread = threading.Thread(target=target)
        thread.start()
        thread.join(timeout=240)
        assert not thread.is_alive(), "the browser scenario did not finish"
        if "error" in outcome:
            raise outcome["error"]

    return run


def log_in(page, base, username):
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_reviewer_scores_with_live_preview_and_agent_acknowledges(live_server, in_browser,
                                                                   org_a, l1):
    customer = make_user(Role.CUSTOMER, org=org_a, username="carla")
    agent = make_user(Role.AGENT, teams=(l1,), username="arthur", first_name="Arthur")
    reviewer = make_user(Role.QA_REVIEWER, username="quinn", first_name="Quinn")
    ticket = resolved(customer, agent)
    review = services.create_review(ticket=ticket, actor=reviewer)
    base = live_server.url

    def reviewer_scores(page):
        log_in(page, base, "quinn")
        page.goto(f"{base}/qa/")
        page.get_by_role("link", name=f"#{ticket.pk} {ticket.subject}").click()
        expect(page.get_by_role("heading", name=f"QA review of #{ticket.pk}")).to_be_visible()
        preview = page.locator("#score-preview")
        expect(preview).to_contain_text("Incomplete")
        # 25 + 20 + 20 + 15 + 10 = 90
        for label in ("25 Good", "20 Good", "20 Perfect", "15 Excellent", "10 Delightful"):
            page.get_by_label(label, exact=False).first.check()
        expect(preview).to_contain_text("90.00")
        page.get_by_label("Data exposure", exact=False).check()
        expect(preview).to_contain_text("Auto-fail")
        page.get_by_label("Data exposure", exact=False).uncheck()
        expect(preview).to_contain_text("90.00")
        page.get_by_label("Overall feedback").fill("Good fix; restate the issue first.")
        page.get_by_role("button", name="Submit review").click()
        expect(page.get_by_text("Review submitted: 90.00/100")).to_be_visible()
        assert not [m for m in page.console_messages if "Content Security Policy" in m]

        log_in(page, base, "arthur")
        page.goto(f"{base}/qa/reviews/{review.pk}/")
        expect(page.get_by_text("Good fix; restate the issue first.")).to_be_visible()
        page.get_by_role("button", name="Acknowledge").click()
        expect(page.get_by_text("the review is acknowledged")).to_be_visible()

    in_browser(reviewer_scores)
    review.refresh_from_db()
    assert review.status == ReviewStatus.ACKNOWLEDGED and review.score == 90
