"""Issue 11: the generated authorization matrix.

Every named URL of the project (walked from the root resolver, API routes included) must
have a rule below; each rule is asserted for every role against objects owned by org A /
team X. Denied logged-in users get 404 (no existence leak); anonymous users are sent to
the login page (HTML) or refused (API). Markers of internal notes, internal articles, QA
reviews and internal incident timeline entries must never reach a customer.

Writes: every write route x role is in test_leaks_mail_exports.py (WRITES), and every
field of the routes a customer can write x role in test_write_fields.py (issue 28);
HEAD and OPTIONS on every route here store nothing (test_safe_methods.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import resolve, reverse

from . import world as W
from .kwargs import build_url
from .urls_enum import url_names

# --- role groups -------------------------------------------------------------------------
OWNER = frozenset({"customer_a", "org_admin_a"})  # org A's customers: own the objects
CUSTOMERS = frozenset(W.CUSTOMERS)
STAFF = frozenset({"agent_x", "agent_y", "lead_x", "qa", "manager", "admin"})
TEAM_X = STAFF - {"agent_y"}  # team X's agents plus the roles that see every ticket
X_MEMBERS_UP = frozenset({"agent_x", "lead_x", "manager", "admin"})  # team X pages
LEAD_UP = frozenset({"lead_x", "manager", "admin"})
QA_UP = frozenset({"lead_x", "qa", "manager", "admin"})
LOGGED_IN = CUSTOMERS | STAFF
SEE_ALL = frozenset({"qa", "manager", "admin"})  # tickets.view_all_tickets
NOBODY: frozenset[str] = frozenset()

# Expected codes: an int, "L" (302 to the login page), "R" (302 elsewhere), "API" (401/403).
LOGIN, REDIRECT, API = "L", "R", "API"


@dataclass(frozen=True)
class Rule:
    allow: frozenset[str]          # roles that may GET (or, for POST-only routes, reach it)
    anon: int | str = LOGIN        # what anonymous gets
    ok: int | str = 200            # what an allowed role gets
    post: bool = False             # POST-only: allowed roles get 405 on GET
    over: dict[str, int | str] = field(default_factory=dict)
    note: str = ""

    def expected(self, role: str) -> int | str:
        if role == "anonymous":
            return self.anon
        if role in self.over:
            return self.over[role]
        if role in self.allow:
            return 405 if self.post else self.ok
        return 404


def G(allow, anon=LOGIN, ok=200, **kw) -> Rule:  # noqa: N802 - table shorthand
    return Rule(frozenset(allow), anon, ok, **kw)


def P(allow, anon=LOGIN, **kw) -> Rule:  # noqa: N802 - POST-only route
    return Rule(frozenset(allow), anon, 405, post=True, **kw)


ANY_405 = P(LOGGED_IN, anon=405)  # require_POST before any auth check: GET is 405 for all

RULES: dict[str, Rule] = {
    # accounts (Django's own views)
    "login": G(LOGGED_IN, anon=200, ok=REDIRECT),
    "logout": ANY_405,
    "signup": G(LOGGED_IN, anon=200, ok=REDIRECT),
    "password_reset": G(LOGGED_IN, anon=200),
    "password_reset_done": G(LOGGED_IN, anon=200),
    "password_reset_confirm": G(LOGGED_IN, anon=200, note="invalid token page"),
    "password_reset_complete": G(LOGGED_IN, anon=200),
    "password_change": G(LOGGED_IN),
    "password_change_done": G(LOGGED_IN),
    "home": G(LOGGED_IN, ok=REDIRECT),
    # issue 24: two-factor, re-authentication, single sign-on, audit log, privacy
    "two_factor_setup": G(LOGGED_IN),
    "two_factor_verify": G(LOGGED_IN, ok=REDIRECT, note="no device yet: to the set-up"),
    "two_factor_recovery": P(LOGGED_IN),
    "reauthenticate": G(LOGGED_IN),
    "oidc_authentication_init": G(LOGGED_IN, anon=REDIRECT, ok=REDIRECT,
                                  note="to the provider"),
    "oidc_authentication_callback": G(NOBODY, note="no code: back to the login page",
                                      over=dict.fromkeys(LOGGED_IN, LOGIN)),
    "oidc_logout": ANY_405,
    "audit_log": G({"admin"}),
    "audit_log_csv": G({"admin"}),
    "privacy:index": G({"admin"}),
    # POST-only (GET is 405 for all); who may post: WRITES in test_leaks_mail_exports.py
    "privacy:request_export": P(LOGGED_IN),
    "privacy:request_erasure": P(LOGGED_IN),
    "privacy:approve_erasure": P(LOGGED_IN),
    "privacy:progress": G({"admin"}),
    "privacy:download": G(NOBODY, note="a forged link: tests/privacy/test_export.py"),
    "healthz": G(LOGGED_IN, anon=200),
    # agent workspace
    "agent:index": G(STAFF, ok=REDIRECT),
    "agent:queue": G(STAFF),
    "agent:new_ticket": G(STAFF),
    "agent:ticket": G(TEAM_X),
    "agent:conversation": G(TEAM_X),
    "agent:mentions": G(TEAM_X, note="JSON: staff who can see the ticket"),
    **{f"agent:{n}": ANY_405 for n in (
        "bulk", "saved_filter", "reply", "transition", "update", "escalate", "merge", "macro",
        "timer_start", "timer_stop", "follow", "custom_fields", "presence", "assign_me",
        "queue_columns")},
    # issue 22: the left navigation's queue counts; issue 23: a queue as CSV
    "agent:queue_nav": G(STAFF),
    "agent:queue_export": G(STAFF, note="CSV of the queue the agent may see"),
    "agent:new_ticket_fields": G(STAFF, note="htmx: the fields of a category's form"),
    # customer portal
    "portal:tickets": G(LOGGED_IN),
    "portal:new_ticket": G(LOGGED_IN),
    "portal:ticket": G(OWNER, over=dict.fromkeys(TEAM_X, REDIRECT)),  # staff: to agent view
    "portal:attachment": G(OWNER | TEAM_X),
    **{f"portal:{n}": P(LOGGED_IN) for n in ("reply", "solve", "reopen", "custom_fields")},
    "portal:custom_fields_form": G(LOGGED_IN, note="htmx: the fields of a category's form"),
    # SLA, metrics, workforce
    "sla:index": G(LOGGED_IN, anon=REDIRECT, ok=REDIRECT),
    "sla:approaching": G(STAFF),
    "sla:dashboard": G(STAFF),
    "sla:paused": G(STAFF),
    "sla:exempt": ANY_405,
    "metrics:mine": G(STAFF),
    "metrics:team": G(STAFF),
    "metrics:manager": G(STAFF, note="agent_required; figures scoped by the user"),
    "metrics:manager_medians": G(STAFF),
    "workforce_oncall:rotations": G(STAFF),
    "workforce_oncall:rotation": G(STAFF),
    "workforce_oncall:ical": G(STAFF),
    **{f"workforce_oncall:{n}": ANY_405 for n in (
        "add_override", "swap", "remove_override", "acknowledge")},
    "workforce_schedules:index": G(STAFF - {"qa"}, ok=REDIRECT),
    "workforce_schedules:my_status": G(STAFF),
    "workforce_schedules:time_off": G(STAFF),
    "workforce_schedules:decide_time_off": ANY_405,
    "workforce_schedules:week": G(X_MEMBERS_UP),
    "workforce_schedules:add_shift": G(LEAD_UP),
    "workforce_schedules:adherence": G(X_MEMBERS_UP),
    "workforce_capacity:dashboard": G(STAFF),
    # notifications
    "notifications:list": G(LOGGED_IN),
    "notifications:bell": G(LOGGED_IN, anon=286, note="htmx: stop polling"),
    "notifications:preferences": G(LOGGED_IN),
    "notifications:read_all": ANY_405,
    "notifications:read": ANY_405,
    "notifications:language": ANY_405,
    # issue 22: a visitor's language choice (Django's view: back where they came from)
    # and the JavaScript strings of the active language
    "set_language": G(LOGGED_IN, anon=REDIRECT, ok=REDIRECT),
    "javascript-catalog": G(LOGGED_IN, anon=200),
    # surveys: the signed token is the credential (link in the customer's e-mail)
    "surveys:follow_ups": G(STAFF),
    "surveys:handle_follow_up": P(STAFF),
    "surveys:feedback": G(LOGGED_IN, anon=200),
    "surveys:rate": G(LOGGED_IN, anon=200),
    # knowledge base
    "knowledge:home": G(LOGGED_IN, anon=200),
    "knowledge:search": G(LOGGED_IN, anon=200),
    "knowledge:suggest": G(LOGGED_IN, anon=200),
    "knowledge:solved": ANY_405,
    "knowledge:section": G(LOGGED_IN, anon=200),
    "knowledge:article": G(LOGGED_IN, anon=200),
    "knowledge:vote": ANY_405,
    "knowledge:sitemap": G(LOGGED_IN, anon=200),
    "knowledge:panel_search": G(TEAM_X),
    "knowledge:flag": P(STAFF),
    "knowledge:draft_from_ticket": P(STAFF),
    "knowledge:manage": G(STAFF),
    "knowledge:new": P(STAFF),
    "knowledge:edit": G(STAFF),  # filled with the internal article
    "knowledge:freshness": G(STAFF),
    "knowledge:dashboard": G(LEAD_UP),
    "knowledge:reports": G(LEAD_UP),
    # QA
    "qa:index": G(STAFF, ok=REDIRECT),
    "qa:queue": G(QA_UP),
    "qa:my_reviews": G(STAFF),
    "qa:review": G(QA_UP),
    **{f"qa:{n}": ANY_405 for n in (
        "save", "claim", "acknowledge", "raise_dispute", "ticket_of_week", "preview", "flag",
        "start_review", "calibration_close")},
    "qa:disputes": G(LEAD_UP),
    "qa:dispute": G(LEAD_UP, note="a disputed review of agent X; its own reviewer may not"),
    "qa:coaching": G(STAFF),
    "qa:coaching_new": G(LEAD_UP),
    "qa:coaching_detail": G(STAFF - {"agent_y"}, note="the coached agent, QA and leads"),
    "qa:calibrations": G(QA_UP),
    "qa:calibration_new": G(QA_UP),
    "qa:calibration": G(QA_UP),
    "qa:calibration_item": G(QA_UP),
    "qa:dashboard": G(QA_UP),
    # incidents (staff only) and the public status page
    "incidents:list": G(STAFF),
    "incidents:declare": G(STAFF),
    "incidents:actions": G(STAFF),
    "incidents:room": G(STAFF),
    "incidents:room_live": G(STAFF),
    "incidents:review": G(STAFF),
    **{f"incidents:{n}": P(STAFF) for n in (
        "bulk_declare", "action_state", "link_from_ticket", "add_entry", "status", "severity",
        "assign_role", "remove_role", "link", "unlink", "suggestion", "publish", "resolve",
        "add_action")},
    "status:page": G(LOGGED_IN, anon=200),
    "status:feed": G(LOGGED_IN, anon=200),
    "status:incident": G(LOGGED_IN, anon=200, note="public incident; internal entries hidden"),
    # mail
    "mailgate:inbound": ANY_405,
    "mailgate:retry": P(LOGGED_IN),
    "mailgate:clear_bounce": P(LOGGED_IN),
    "mailgate:preferences": G(LOGGED_IN),  # each person's own e-mail preferences
    # A signed token is the credential (RFC 8058 one-click): the page opens for anyone.
    "mailgate:unsubscribe": G(LOGGED_IN, anon=200),
    # casework
    "casework:index": G(STAFF, ok=REDIRECT),
    "casework:dashboard": G(QA_UP),
    "casework:feedback": G(STAFF),
    "casework:feedback_item": G(STAFF, note="product feedback is shared by all staff"),
    "casework:at_risk": G(STAFF),
    "casework:voc_list": G(STAFF),
    "casework:voc_detail": G(STAFF, note="as the list: the weekly report is for all staff"),
    "casework:panel": G(TEAM_X),
    **{f"casework:{n}": ANY_405 for n in (
        "voc_generate", "save_investigation", "add_evidence", "verify_evidence",
        "start_playbook", "check_step", "draft_playbook", "draft_article", "add_link",
        "sync_link", "add_feedback", "flag_champion", "return_escalation")},
    # REST API (/api/v1/)
    "api-root": G(LOGGED_IN, anon=API),
    "api-token": ANY_405,
    "ticket-list": G(LOGGED_IN, anon=API, note="scoped: see the content tests"),
    "ticket-detail": G(OWNER | TEAM_X, anon=API),
    "ticket-events": G(OWNER | TEAM_X, anon=API),
    "ticket-messages": G(OWNER | TEAM_X, anon=API),
    "ticket-changes": G(SEE_ALL, anon=API, over=dict.fromkeys(LOGGED_IN - SEE_ALL, 403),
                        note="the incremental export: only for those who see every ticket"),
    "ticket-transition": P(LOGGED_IN, anon=API),
    "ticket-sla": G(TEAM_X, anon=API),
    "ticket-mail": G(TEAM_X, anon=API),
    "ticket-investigation": G(TEAM_X, anon=API),
    "sla-approaching": G(STAFF, anon=API),
    "organization-list": G(LOGGED_IN, anon=API),
    "organization-detail": G(LOGGED_IN - {"customer_b"}, anon=API),
    "user-list": G(LOGGED_IN, anon=API),
    "user-me": G(LOGGED_IN, anon=API),
    "user-detail": G(STAFF | {"customer_a"}, anon=API),  # customer_a's own record
    "kb-articles": G(LOGGED_IN, anon=200),
    "kb-article": G(LOGGED_IN, anon=200),
    "kb-search": G(LOGGED_IN, anon=200),
    "qa-review-list": G(STAFF, anon=API, note="agents: their own submitted reviews"),
    "qa-review-detail": G(QA_UP, anon=API),
    "incident-list": G(LOGGED_IN, anon=API, note="customers: public data only (content test)"),
    "incident-detail": G(STAFF, anon=API),
    "mail-outbound-retry": P(LOGGED_IN, anon=API),
    "casework-link-status": P(LOGGED_IN, anon=API),
}

# URL names enumerated but deliberately not asserted yet (must stay empty to be complete).
NOT_YET_COVERED: set[str] = set()


def _client(w: W.World, role: str) -> Client:
    client = Client(raise_request_exception=False)
    if w.users[role] is not None:
        client.force_login(w.users[role])
    return client


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _actual(response) -> int | str:
    if response.status_code == 302:
        return LOGIN if "/accounts/login/" in response["Location"] else REDIRECT
    return response.status_code


def _matches(expected: int | str, actual: int | str) -> bool:
    if expected == API:
        return actual in (401, 403)
    return expected == actual


# --- the generated part --------------------------------------------------------------------

def test_every_url_name_has_a_rule():
    names = url_names()
    missing = names - RULES.keys() - NOT_YET_COVERED
    assert not missing, f"URL names without an authorization rule: {sorted(missing)}"
    stale = (RULES.keys() | NOT_YET_COVERED) - names
    assert not stale, f"rules for URL names that no longer exist: {sorted(stale)}"


def test_every_api_operation_resolves_to_a_ruled_url():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    unruled = []
    for path in schema["paths"]:
        concrete = path.replace("{pk}", "1").replace("{slug}", "s").replace("{id}", "1")
        match = resolve(concrete)
        if match.view_name not in RULES:
            unruled.append((path, match.view_name))
    assert schema["paths"], "the schema lists no operation"
    assert not unruled, unruled


# --- the matrix ------------------------------------------------------------------------------

@pytest.mark.parametrize("url_name", sorted(RULES))
def test_matrix(world, url_name):
    rule = RULES[url_name]
    url = build_url(url_name, world)
    wrong = []
    for role in W.ROLES:
        response = _client(world, role).get(url)
        actual, expected = _actual(response), rule.expected(role)
        if not _matches(expected, actual):
            wrong.append(f"{role}: expected {expected}, got {actual}")
        if role in W.CUSTOMERS or role == "anonymous":
            body = _body(response)
            leaked = [m for m in W.MARKERS if m.encode() in body]
            if leaked:
                wrong.append(f"{role}: LEAK of {leaked}")
    assert not wrong, f"{url_name} {url}\n" + "\n".join(wrong)


# --- objects of others: 404, never 403 or 200 ---------------------------------------------

OTHER_ORG_OBJECTS = ["portal:ticket", "portal:attachment", "ticket-detail", "ticket-events",
                     "ticket-messages", "ticket-sla", "agent:ticket", "casework:panel",
                     "qa:review", "incidents:room", "knowledge:edit"]


@pytest.mark.parametrize("url_name", OTHER_ORG_OBJECTS)
def test_customer_of_org_b_gets_404_on_org_a_objects(world, url_name):
    response = _client(world, "customer_b").get(build_url(url_name, world))
    assert response.status_code == 404


def test_internal_article_is_404_for_customers_and_anonymous(world):
    slug = world.ids["internal_slug"]
    for name in ("knowledge:article", "kb-article"):
        url = reverse(name, kwargs={"slug": slug})
        for role in W.ROLES:
            response = _client(world, role).get(url)
            if role in STAFF:
                assert response.status_code == 200, (name, role)
            else:
                assert response.status_code == 404, (name, role, response.status_code)
                assert W.INTERNAL_ARTICLE.encode() not in _body(response)


def test_team_y_agent_gets_404_on_team_x_ticket(world):
    client = _client(world, "agent_y")
    for name in ("agent:ticket", "agent:conversation", "portal:attachment", "ticket-detail",
                 "ticket-messages", "casework:panel", "knowledge:panel_search"):
        assert client.get(build_url(name, world)).status_code == 404, name


# --- content leaks -------------------------------------------------------------------------

LEAK_PAGES = [
    ("portal:tickets", {}), ("portal:ticket", {}), ("portal:attachment", {}),
    ("ticket-list", {}), ("ticket-detail", {}), ("ticket-events", {}),
    ("ticket-messages", {}), ("knowledge:home", {}), ("knowledge:search", {"q": "Sec"}),
    ("knowledge:search", {"q": "ZZ"}), ("knowledge:suggest", {"q": "Sec article"}),
    ("kb-articles", {}), ("kb-search", {"q": "Sec"}), ("kb-search", {"q": "ZZ"}),
    ("knowledge:sitemap", {}), ("status:page", {}), ("status:feed", {}),
    ("status:incident", {}), ("incident-list", {}), ("notifications:list", {}),
    ("user-list", {}), ("user-me", {}), ("organization-list", {}),
    ("surveys:feedback", {}),
]


@pytest.mark.parametrize("role", [*W.CUSTOMERS, "anonymous"])
def test_no_internal_content_reaches_customers(world, role):
    client = _client(world, role)
    leaks = []
    for name, query in LEAK_PAGES:
        response = client.get(build_url(name, world), query)
        body = _body(response)
        leaked = [m for m in W.MARKERS if m.encode() in body]
        if leaked:
            leaks.append((name, query, leaked))
        # The signed survey token is itself the credential (the link in alice's e-mail):
        # whoever holds it sees the subject of the rated ticket, by design.
        if role == "customer_b" and name != "surveys:feedback" and b"Sec ticket A" in body:
            leaks.append((name, query, "org A's ticket"))
        if role == "customer_b" and b"sec_alice" in body:
            leaks.append((name, query, "org A's user"))
    assert not leaks, leaks


def test_staff_do_see_the_markers(world):
    """The markers are really rendered to staff: the leak checks are not vacuous."""
    lead = _client(world, "lead_x")
    assert W.INTERNAL_NOTE.encode() in _body(lead.get(build_url("agent:ticket", world)))
    assert W.INCIDENT_NOTE.encode() in _body(lead.get(build_url("incidents:room", world)))
    assert W.INTERNAL_ARTICLE.encode() in _body(lead.get(build_url("kb-articles", world)))
    assert W.QA_COMMENT.encode() in _body(_client(world, "qa").get(build_url("qa:review",
                                                                             world)))


# --- POST as the wrong user: refused, nothing changes --------------------------------------

def test_customer_b_cannot_post_on_org_a_ticket(world):
    from tickets.models import Message, Ticket

    client = _client(world, "customer_b")
    ticket = Ticket.objects.get(pk=world.ids["ticket"])
    before = (Message.objects.count(), ticket.status)
    for name, data in [("portal:reply", {"body": "hijack"}), ("portal:solve", {}),
                       ("portal:reopen", {}), ("agent:reply", {"body": "hijack"}),
                       ("agent:transition", {"status": "closed"}),
                       ("incidents:add_entry", {"kind": "note", "body": "hijack"}),
                       ("qa:acknowledge", {}), ("casework:add_feedback", {"body": "x"})]:
        response = client.post(build_url(name, world), data)
        assert response.status_code in (403, 404), (name, response.status_code)
    ticket.refresh_from_db()
    assert (Message.objects.count(), ticket.status) == before
    assert not Message.objects.filter(body="hijack").exists()


def test_agent_of_team_y_cannot_reply_on_team_x_ticket(world):
    from tickets.models import Message

    response = _client(world, "agent_y").post(build_url("agent:reply", world),
                                              {"body": "hijack", "public": "on"})
    assert response.status_code in (403, 404)
    assert not Message.objects.filter(body="hijack").exists()
