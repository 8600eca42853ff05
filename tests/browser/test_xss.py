"""Hostile HTML through every place that renders outside content: nothing executes.

A corpus of XSS payloads goes into ticket subjects and descriptions (Markdown), replies and
internal notes, customer and organisation names, and macro placeholders; the agent and the
customer then open every page that shows them in headless Chromium. Three independent
signals must all stay silent: no dialog (`alert`) and no page error, no Content Security
Policy violation (an inline script or handler reaching the DOM would be blocked by the CSP
and reported: the sanitiser must never let one through in the first place), and a DOM audit
finding no script without src, no on* attribute and no javascript: URL.
"""
from __future__ import annotations

import pytest

from helpdesk.models import Organization
from helpdesk.roles import Role
from tests.factories import make_user
from tickets import services
from tickets.models import Macro

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-Secret-123"

CORPUS = [
    "<script>alert('s1')</script>",
    "<img src=x onerror=alert('s2')>",
    "<svg onload=alert('s3')>",
    "<svg><script>alert('s4')</script></svg>",
    "\"><script>alert('s5')</script>",
    "' onmouseover='alert(6)' x='",
    "<a href=\"javascript:alert('s7')\">click</a>",
    "[click me](javascript:alert('s8'))",
    "[click](JaVaScRiPt:alert('s9'))",
    "<a href=\"jav&#x09;ascript:alert('s10')\">tab</a>",
    "![x](x\" onerror=\"alert('s11'))",
    "<iframe srcdoc=\"<script>alert('s12')</script>\"></iframe>",
    "<details open ontoggle=alert('s13')>",
    "<body onload=alert('s14')>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('s15')>",
    "<form action=javascript:alert('s16')><button>go</button></form>",
    "<input autofocus onfocus=alert('s17')>",
    "</textarea><script>alert('s18')</script>",
    "<style>*{background:url(javascript:alert('s19'))}</style>",
    "{{ 7*7 }} {% debug %} ${alert('s20')}",
    "<object data=\"data:text/html,<script>alert('s21')</script>\"></object>",
    "\u202e<script>alert('s22')</script>",
]
PAYLOAD = "\n\n".join(CORPUS)

AUDIT = """() => {
  const bad = [];
  for (const s of document.querySelectorAll('script')) {
    if (!s.src) bad.push('inline script: ' + s.textContent.slice(0, 60));
  }
  for (const el of document.querySelectorAll('*')) {
    for (const a of el.attributes) {
      const v = (a.value || '').replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (a.name.startsWith('on')) bad.push(el.tagName + ' ' + a.name);
      if (v.startsWith('javascript:') || a.name === 'srcdoc') {
        bad.push(el.tagName + ' ' + a.name + '=' + v.slice(0, 40));
      }
    }
  }
  for (const el of document.querySelectorAll('iframe, object, embed, form[action^="javascript"]')) {
    bad.push('element ' + el.tagName);
  }
  return bad;
}"""


def log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def visit(page, url):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    return page.evaluate(AUDIT)


@pytest.fixture
def hostile(org_a, l1):
    org = Organization.objects.create(name="<img src=x onerror=alert('org')>",
                                      domain="evil.example")
    customer = make_user(Role.CUSTOMER, org=org, username="mallory",
                         first_name="<script>alert('first')</script>",
                         last_name="\"><img src=x onerror=alert('last')>")
    agent = make_user(Role.AGENT, teams=(l1,), username="arthur", first_name="Arthur")
    ticket = services.create_ticket(requester=customer, subject=CORPUS[1] + CORPUS[5],
                                    description=PAYLOAD, channel="web")
    services.assign(ticket, assignee=agent, actor=agent)
    services.add_reply(ticket, author=agent, body=PAYLOAD, public=True)
    services.add_reply(ticket, author=customer, body=PAYLOAD, public=True)
    services.add_reply(ticket, author=agent, body=PAYLOAD, public=False)
    macro = Macro.objects.create(name="<b onmouseover=alert('m')>Greet</b>",
                                 body="Hello {{requester_first_name}} of {{organization}}, "
                                      "about {{subject}}.")
    services.apply_macro(ticket, macro, actor=agent)
    return customer, agent, ticket


def test_no_payload_executes_anywhere(live_server, page_factory, hostile):
    customer, agent, ticket = hostile
    base = live_server.url
    findings: dict[str, list[str]] = {}
    for user, urls in (
        (agent, [f"/agent/tickets/{ticket.pk}/", "/agent/queue/mine/", "/agent/queue/all/",
                 f"/agent/tickets/{ticket.pk}/conversation/"]),
        (customer, ["/portal/", f"/portal/tickets/{ticket.pk}/"]),
    ):
        page = page_factory()
        csp: list[str] = []
        page.on("console", lambda msg, csp=csp: csp.append(msg.text)
                if "Content Security Policy" in msg.text else None)
        log_in(page, base, user.username)
        for url in urls:
            bad = visit(page, base + url)
            if bad:
                findings[url] = bad
        if csp:
            findings[f"CSP violations for {user.username}"] = csp
        if page.js_errors:
            findings[f"dialogs/errors for {user.username}"] = page.js_errors
    assert findings == {}
    # The content is still there, as text: escaped, not dropped.
    page = page_factory()
    log_in(page, base, agent.username)
    page.goto(f"{base}/agent/tickets/{ticket.pk}/")
    assert "alert('s1')" in page.content()
