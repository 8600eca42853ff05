"""WCAG 2.1 AA: axe-core in Chromium on every main page of every role, from the demo data.

axe-core comes from npm (scripts/test.sh installs it into .axe/). The product's CSP
forbids injected scripts, so this test alone opens its pages with bypass_csp; every other
browser test runs on the real policy.
"""
import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from devdata.pages import catalogue, longest_ticket, pick_users

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(os.environ.get("AXE_CORE_PATH", Path(settings.BASE_DIR) / ".axe" / "node_modules"
                          / "axe-core" / "axe.min.js"))
BLOCKING = ("serious", "critical")
# Pages beyond the benchmark's list (devdata.pages.catalogue): each role's landing pages.
EXTRA = [
    ("agent", "agent:queue", ["mine"]), ("agent", "agent:new_ticket", None),
    ("agent", "qa:index", None), ("agent", "casework:index", None),
    ("agent", "notifications:list", None), ("agent", "workforce_schedules:index", None),
    ("customer", "portal:new_ticket", None), ("admin", "admin:index", None),
    ("admin", "audit_log", None), ("admin", "privacy:index", None),
]


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag",
            values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    return [v for v in result if v["impact"] in BLOCKING]


def _pages(users) -> list[tuple[str, str]]:
    out = [(p.role, p.path) for p in catalogue(users)
           if p.path and p.area != "api" and p.method == "get"]
    for role, name, args in EXTRA:
        try:
            out.append((role, reverse(name, args=args)))
        except Exception:  # noqa: BLE001 - an app without that page: nothing to check
            continue
    ticket = longest_ticket()
    for role in ("agent", "lead", "qa"):
        out.append((role, reverse("agent:queue", args=["teams"])))
    if ticket:
        out.append(("agent", reverse("agent:ticket", args=[ticket])))
    return out


def test_no_serious_or_critical_violation_on_any_main_page(live_server, browser):
    if not AXE.exists():
        pytest.fail(f"axe-core not found at {AXE}: ./scripts/test.sh installs it")
    call_command("demo", tickets=60, stdout=io.StringIO())
    users = pick_users()
    found: dict[str, list] = {}
    pages = _pages(users)
    anonymous = [reverse("login"), reverse("knowledge:home")]
    contexts = {}
    fragments: list[str] = []
    checked = 0
    try:
        for role, path in [*(("anonymous", p) for p in anonymous), *pages]:
            if role not in contexts:
                context = browser.new_context(bypass_csp=True,
                                              viewport={"width": 1366, "height": 768})
                if role != "anonymous":
                    client = Client()
                    client.force_login(users.users[role])
                    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
                    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                                          "value": cookie, "url": live_server.url}])
                contexts[role] = context
            page = contexts[role].new_page()
            response = page.goto(live_server.url + path)
            if response.status >= 400:
                found[f"{role} {path}"] = [{"status": response.status}]
                page.close()
                continue
            page.wait_for_load_state("networkidle")
            if not response.text().lstrip().lower().startswith("<!doctype html"):
                fragments.append(path)  # an htmx fragment a page loads, not a page
                page.close()
                continue
            checked += 1
            violations = _axe(page)
            if violations:
                found[f"{role} {path}"] = violations
            page.close()
    finally:
        for context in contexts.values():
            context.close()
    assert checked >= 30 and len(fragments) <= 2, (checked, fragments)
    report = [f"{where}: {v.get('id', v.get('status'))} ({v.get('impact', 'http')}) "
              f"{v.get('nodes', '')}" for where, vs in found.items() for v in vs]
    assert report == [], "\n".join(report)
