"""In Chromium: German end to end (help center, search as you type, sign-in, filing a
request, the JavaScript catalogue) and the portal and help center on a 375-px phone
(no horizontal scrolling, 44-px tap targets), with no console errors or CSP violations."""
import re

import pytest
from playwright.sync_api import expect

from helpdesk.roles import Role
from knowledge import services as kb
from tests.factories import make_ticket, make_user
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"
PHONE = {"width": 375, "height": 740}


def article(title, *, language="en", translation_of=None, summary="", body=""):
    item = kb.create_article(title=title, author=None, language=language,
                             translation_of=translation_of, summary=summary, body=body)
    return kb.publish(item, actor=None)


@pytest.fixture
def help_center(db):
    original = article("Reset your password", summary="Use the Forgot link on the login page.",
                       body="Open the login page and click **Forgot password**.")
    german = article("Passwort zurücksetzen", language="de", translation_of=original,
                     summary="Nutzen Sie den Link „Passwort vergessen“.",
                     body="Öffnen Sie die Anmeldeseite und klicken Sie auf "
                          "**Passwort vergessen**. " + "Sehr-lange-Wortketten-ohne-Umbruch" * 4)
    return original, german


@pytest.fixture
def greta(org_a, l1):
    make_user(Role.AGENT, teams=(l1,), username="arthur")
    return make_user(Role.CUSTOMER, org=org_a, username="greta", first_name="Greta",
                     language="de", time_zone="Europe/Berlin")


def watch(page):
    """Console errors and CSP reports (the browser's own favicon probe aside)."""
    page.console_errors = []

    def seen(msg) -> None:
        if msg.location.get("url", "").endswith("/favicon.ico"):
            return
        if msg.type == "error" or "Content Security Policy" in msg.text:
            page.console_errors.append(msg.text)
    page.on("console", seen)
    return page


def new_page(browser, **options):
    context = browser.new_context(**options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    return context, watch(page)


def clean(page):
    assert page.js_errors == [] and page.console_errors == [], (page.js_errors,
                                                                page.console_errors)


def test_german_from_the_help_center_to_a_filed_request(live_server, browser, help_center,
                                                        greta):
    base = live_server.url
    context, page = new_page(browser, locale="de-DE", viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{base}/help/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Wie können wir helfen?")
        # Search as you type, in German word forms.
        page.get_by_label("Hilfe-Center durchsuchen").fill("Passwörter")
        results = page.locator("#kb-results")
        expect(results).to_contain_text("Passwort zurücksetzen")
        expect(results).not_to_contain_text("Reset your password")
        results.get_by_role("link", name="Passwort zurücksetzen").click()
        expect(page.get_by_role("heading", level=2, name="War das hilfreich?")).to_be_visible()
        expect(page.get_by_role("link", name="English")).to_be_visible()  # "Also in"
        # The JavaScript catalogue of the page's language is loaded (CSP-safe script).
        page.wait_for_function("() => typeof window.gettext === 'function'")
        assert page.evaluate("gettext('People to mention')") == "Personen zum Erwähnen"
        assert page.evaluate("ngettext('%(num)d minute', '%(num)d minutes', 5)") == \
            "%(num)d Minuten"

        page.get_by_role("link", name="Anfrage stellen").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Anmelden")
        page.get_by_label("Benutzername").fill("greta")
        page.get_by_label("Passwort").fill(PASSWORD)
        page.get_by_role("button", name="Anmelden").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Anfrage stellen")
        # The form comes prefilled with what she searched, the German article suggested.
        expect(page.get_by_label("Betreff")).to_have_value(re.compile("passw", re.I))
        expect(page.locator("#kb-suggestions")).to_contain_text("Passwort zurücksetzen")
        # Suggestions in her language as she types (one field, then its answer, then the
        # next: the embedded SQLite takes one writer at a time, and each logs a search).
        with page.expect_response(lambda r: "/help/suggest/" in r.url and "Passwort" in r.url):
            page.get_by_label("Betreff").fill("Passwort vergessen")
        expect(page.locator("#kb-suggestions")).to_contain_text("Passwort zurücksetzen")
        with page.expect_response(lambda r: "/help/suggest/" in r.url and "Konto" in r.url):
            page.get_by_label("Beschreibung").fill("Ich komme nicht mehr in mein Konto.")
        page.get_by_role("button", name="Anfrage absenden").click()
        expect(page.get_by_role("status").first).to_contain_text("Danke! Ihre Anfrage")
        expect(page.get_by_role("heading", name="Status")).to_be_visible()
        expect(page.locator(".cstatus").first).to_have_text(
            re.compile("Eingegangen|In Bearbeitung"))
        assert Ticket.objects.filter(subject="Passwort vergessen", requester=greta).exists()
        clean(page)
    finally:
        context.close()


def overflow(page) -> int:
    """How far the page is wider than the screen (0: no horizontal scrolling)."""
    return page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth")


def small_targets(page) -> list[str]:
    """Visible buttons and form controls of the main content shorter than 44 px."""
    return page.evaluate("""() => [...document.querySelectorAll(
            'main button, main .button, main input:not([type=hidden]):not([type=checkbox])'
            + ':not([type=radio]), main select')]
        .filter((el) => el.offsetParent !== null)
        .filter((el) => el.getBoundingClientRect().height < 43.5)
        .map((el) => el.outerHTML.slice(0, 80))""")


@pytest.mark.parametrize("language", ["en-GB", "de-DE"])
def test_portal_and_help_center_fit_a_375_px_phone(live_server, browser, help_center, greta,
                                                   language):
    base = live_server.url
    ticket = make_ticket(greta, subject="Ein sehr langer Betreff, der auf einem Telefon "
                                        "umbrechen muss, statt die Seite zu verbreitern",
                         description="Protokoll: " + "x" * 300)
    original, german = help_center
    context, page = new_page(browser, locale=language, viewport=PHONE, is_mobile=True,
                             has_touch=True, device_scale_factor=2)
    try:
        visitor_pages = ["/help/", "/help/search/?q=password",
                         f"/help/articles/{original.slug}/", f"/help/articles/{german.slug}/",
                         "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/",
                         "/status/"]
        for path in visitor_pages:
            page.goto(base + path)
            assert overflow(page) <= 0, f"{path} scrolls sideways by {overflow(page)} px"
            assert small_targets(page) == [], (path, small_targets(page))
        page.goto(f"{base}/accounts/login/")
        page.locator("#id_username").fill("greta")
        page.locator("#id_password").fill(PASSWORD)
        page.locator("main button.primary").click()
        page.wait_for_url(re.compile(r"/portal/"))
        for path in ["/portal/", "/portal/tickets/new/", f"/portal/tickets/{ticket.pk}/",
                     "/notifications/preferences/", "/mail/preferences/"]:
            page.goto(base + path)
            assert overflow(page) <= 0, f"{path} scrolls sideways by {overflow(page)} px"
            assert small_targets(page) == [], (path, small_targets(page))
        clean(page)
    finally:
        context.close()
