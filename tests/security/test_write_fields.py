"""Issue 28: the write matrix, field by field. Who may set which field, per route and role.

The route-level matrix (test_leaks_mail_exports.py, WRITES) says who gets past a route's
check at all. Here every route a customer can write lists the fields it takes and the
roles that may set each; every other write route is staff-only as a whole, so each of its
fields belongs to the roles of the route. Held by:

- completeness: every route a customer can reach has its fields listed; every field of
  every API write (from the OpenAPI schema) and every field of every form a customer is
  shown (parsed from the pages) is in the table;
- behaviour: a customer (requester, colleague, the organization's admin contact) who
  gives a staff-only value (assignee, team, priority, tags, requester, organization,
  channel, internal visibility, handoff packet, time, status) through the API, a portal
  form or an e-mail is refused (403, nothing written) or, where the route does not take
  the field at all, the value has no effect; an agent of the ticket's team giving the same
  value through the API gets it applied (so the checks can see an effect).

The defect this holds: `POST /api/v1/tickets/<id>/transition/ {"to": "resolved",
"assignee": <staff id>}` by a customer assigned that person.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import format_datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from helpdesk.models import Team
from tests.factories import PACKET
from tickets.models import Escalation, Message, Ticket, TimeEntry

from . import world as W
from .kwargs import build_url
from .test_authz_matrix import CUSTOMERS, OWNER, RULES, STAFF, TEAM_X, _client
from .test_leaks_mail_exports import WRITES, WRITES_ELSEWHERE
from .written import rows_written

ANYONE = frozenset(W.ROLES)  # whoever gets past the route's own check (WRITES)
MANAGERS = frozenset({"manager", "admin"})

# --- the table: route -> field -> roles that may set it ---------------------------------

FIELDS: dict[tuple[str, str], dict[str, frozenset[str]]] = {
    # REST API
    ("ticket-list", "post"): {
        **dict.fromkeys(("subject", "description", "category", "product_area",
                         "attachments"), ANYONE),
        "channel": ANYONE,  # by value: customers web, email or api; phone and chat: staff
        **dict.fromkeys(("requester", "priority", "tags"), STAFF),
        # by field: customers only the fields an admin lets them edit (issue 23)
        "custom_fields": ANYONE,
    },
    ("ticket-transition", "post"): {
        "to": ANYONE, "reason": ANYONE,  # the state machine says which moves are whose
        **dict.fromkeys(("assignee", "to_team", "packet"), TEAM_X),
    },
    ("ticket-messages", "post"): {
        "body": ANYONE, "attachments": ANYONE,
        "public": ANYONE,  # by value: false (an internal note) is staff-only
    },
    ("ticket-detail", "patch"): dict.fromkeys(
        ("priority", "category", "product_area", "team", "assignee", "subject", "tags",
         "custom_fields"), TEAM_X),
    ("organization-list", "post"): dict.fromkeys(
        ("name", "domain", "support_tier", "csm"), MANAGERS),
    **{("organization-detail", m): dict.fromkeys(
        ("name", "domain", "support_tier", "csm"), MANAGERS) for m in ("patch", "put")},
    ("mail-outbound-retry", "post"): {},
    ("casework-link-status", "post"): {"status": TEAM_X},
    ("api-token", "post"): {"username": ANYONE, "password": ANYONE},
    # customer portal: the forms take no staff-only field (see UNOFFERED below)
    ("portal:new_ticket", "post"): dict.fromkeys(
        ("subject", "description", "category", "product_area", "attachments"), ANYONE),
    ("portal:reply", "post"): {"body": ANYONE, "attachments": ANYONE},
    ("portal:solve", "post"): {},
    ("portal:reopen", "post"): {"reason": ANYONE},
    # the custom fields an admin lets customers edit, named cf_<key> (issue 23)
    ("portal:custom_fields", "post"): {},
    # issue 22: one's own language (and time zone); a visitor's language
    ("notifications:language", "post"): dict.fromkeys(("language", "time_zone"), ANYONE),
    ("set_language", "post"): {"language": ANYONE},
    # the rest a customer can post: their own settings, answers and votes
    ("notifications:preferences", "post"): {
        **dict.fromkeys(("email_enabled", "in_app_enabled", "muted", "quiet_start",
                         "quiet_end"), ANYONE),
        **dict.fromkeys(("digest_minutes", "unassigned_replies"), STAFF),
    },
    ("notifications:read_all", "post"): {},
    ("mailgate:preferences", "post"): dict.fromkeys(
        ("all_email", "status_updates", "reminders", "incident_updates"), ANYONE),
    ("mailgate:unsubscribe", "post"): {},  # the signed token in the URL says who and what
    ("surveys:feedback", "post"): dict.fromkeys(("rating", "nps", "comment"), ANYONE),
    ("knowledge:vote", "post"): dict.fromkeys(("helpful", "reason", "comment"), ANYONE),
    ("knowledge:solved", "post"): {"article": ANYONE},
    ("password_change", "post"): dict.fromkeys(
        ("old_password", "new_password1", "new_password2"), ANYONE),
    ("home", "post"): {}, ("healthz", "post"): {}, ("sla:index", "post"): {},
    # e-mail: the sender, subject, text and files; nothing in a message sets a staff field
    ("mailgate:inbound", "post"): dict.fromkeys(
        ("from", "subject", "body", "attachments"), ANYONE),
    ("signup", "post"): dict.fromkeys(
        ("username", "email", "first_name", "last_name", "password1", "password2"), ANYONE),
    ("login", "post"): {"username": ANYONE, "password": ANYONE},
    ("password_reset", "post"): {"email": ANYONE},
    ("password_reset_confirm", "post"): {
        "new_password1": ANYONE, "new_password2": ANYONE},
    ("logout", "post"): {},
    # issue 24: one's own second factor and re-authentication (nothing about anyone else)
    ("two_factor_setup", "post"): {"code": ANYONE},
    ("two_factor_verify", "post"): {"code": ANYONE},
    ("reauthenticate", "post"): {"password": ANYONE, "code": ANYONE},
    ("two_factor_recovery", "post"): {},  # new recovery codes for oneself
    ("oidc_logout", "post"): {},
}

# Staff-only values a customer might try, with how to see that one took effect.
UNOFFERED = ("assignee", "team", "priority", "tags", "requester", "organization", "channel",
             "public", "visibility", "time_minutes", "status", "set_status", "to_team",
             "packet", "subject")


def _team_y() -> Team:
    return Team.objects.get(slug="l2-technical")


@pytest.fixture
def world(world: W.World) -> W.World:
    """The matrix world, plus a customer of a third organization: whom a customer would
    name as the requester or organization of a ticket that is not theirs."""
    from helpdesk.roles import Role
    from tests.factories import make_org, make_user

    victim = make_user(Role.CUSTOMER, org=make_org("Initech", domain="initech.example"),
                       username="sec_victor")
    world.ids.update(victim=victim.pk, victim_org=victim.organization_id)
    return world


def staff_value(w: W.World, field: str) -> Any:
    return {
        "assignee": w.users["agent_y"].pk, "team": _team_y().pk, "to_team": _team_y().pk,
        "priority": 1, "tags": ["vip"], "requester": w.ids["victim"],
        "organization": w.ids["victim_org"], "channel": "phone",
        "public": False, "visibility": "internal", "time_minutes": 30, "status": "closed",
        "set_status": "closed", "packet": PACKET, "subject": "Renamed by a customer",
    }[field]


EFFECT: dict[str, Callable[[W.World, Ticket], bool]] = {
    "assignee": lambda w, t: t.assignee_id == w.users["agent_y"].pk,
    "team": lambda w, t: t.team_id == _team_y().pk,
    "to_team": lambda w, t: t.team_id == _team_y().pk,
    "priority": lambda w, t: t.priority == 1,
    "tags": lambda w, t: t.tags.filter(name="vip").exists(),
    "requester": lambda w, t: t.requester_id == w.ids["victim"],
    "organization": lambda w, t: t.organization_id == w.ids["victim_org"],
    "channel": lambda w, t: t.channel == "phone",
    "public": lambda w, t: Message.objects.filter(ticket=t, is_public=False,
                                                  body__startswith="Field test").exists(),
    "visibility": lambda w, t: Message.objects.filter(ticket=t, is_public=False,
                                                      body__startswith="Field test").exists(),
    "time_minutes": lambda w, t: TimeEntry.objects.filter(ticket=t).exists(),
    "status": lambda w, t: t.status == "closed",
    "set_status": lambda w, t: t.status == "closed",
    "packet": lambda w, t: Escalation.objects.filter(ticket=t).exists(),
    "subject": lambda w, t: t.subject == "Renamed by a customer",
}


# --- completeness -----------------------------------------------------------------------

def test_every_route_a_customer_can_write_lists_its_fields():
    customer_routes = {key for key, rule in WRITES.items() if rule.allow & CUSTOMERS}
    customer_routes |= {(name, "post") for name in WRITES_ELSEWHERE}
    missing = customer_routes - FIELDS.keys()
    assert not missing, f"customer-reachable writes without a field table: {sorted(missing)}"
    stale = {name for name, _ in FIELDS} - RULES.keys()
    assert not stale, stale


def test_every_field_of_every_api_write_is_in_the_table():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    unlisted = []
    for path, operations in schema["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        name = resolve(concrete).view_name
        for method, operation in operations.items():
            if method not in ("post", "put", "patch"):
                continue
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content["schema"].get("$ref", "")
                properties = components[ref.rsplit("/", 1)[-1]].get("properties", {}) \
                    if ref else content["schema"].get("properties", {})
                table = FIELDS.get((name, method))
                for prop in properties:
                    if table is None or prop not in table:
                        unlisted.append(f"{method.upper()} {path} {prop}")
    assert not unlisted, "API write fields missing from the table:\n" + "\n".join(unlisted)


class _Forms(HTMLParser):
    """The POST forms of a page: action -> names of their fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, set[str]]] = []
        self._current: set[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._current = set()
            self.forms.append((a.get("action") or "", self._current))
        elif tag in ("input", "select", "textarea", "button") and self._current is not None \
                and a.get("name"):
            self._current.add(a["name"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


# Form fields that are not data: the CSRF token, where to go next, htmx/no-js helpers.
PLUMBING = {"csrfmiddlewaretoken", "next"}


def test_every_field_of_every_form_a_customer_is_shown_is_in_the_table(world):
    """Every page a customer can open (the GET matrix), every POST form on it: the route
    it posts to is in the table, and so is every field it offers."""
    unlisted = []
    for role in ("customer_a", "org_admin_a", "anonymous"):
        client = _client(world, role)
        for name, rule in sorted(RULES.items()):
            if rule.expected(role) != 200 or rule.post:
                continue
            url = build_url(name, world)
            response = client.get(url)
            if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                continue
            parser = _Forms()
            parser.feed(response.content.decode())
            for action, fields in parser.forms:
                try:
                    target = resolve(action.split("?")[0] or url).view_name
                except Resolver404:
                    unlisted.append(f"{name}: form to unknown {action}")
                    continue
                table = FIELDS.get((target, "post"))
                if table is None:
                    unlisted.append(f"{name} ({role}): form to {target} has no field table")
                    continue
                unlisted += [f"{name} ({role}): {target} field {f}"
                             for f in sorted(fields - PLUMBING - table.keys())]
    assert not unlisted, "\n".join(sorted(set(unlisted)))


# --- behaviour: the API ----------------------------------------------------------------

def _json(client: Client, method: str, url: str, data: dict[str, Any]):
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


@dataclass(frozen=True)
class ApiRoute:
    name: str
    method: str
    base: Callable[[W.World], dict[str, Any]]  # a request that succeeds without the field
    ticket: Callable[[W.World], Ticket]  # where the field would land


def _world_ticket(w: W.World) -> Ticket:
    return Ticket.objects.get(pk=w.ids["ticket"])


def _newest_ticket(w: W.World) -> Ticket:
    return Ticket.objects.latest("pk")


API_ROUTES = {
    "create": ApiRoute("ticket-list", "post", lambda w: {
        "subject": "Field test", "description": "Field test"}, _newest_ticket),
    "transition": ApiRoute("ticket-transition", "post", lambda w: {
        "to": "resolved", "reason": "Field test"}, _world_ticket),
    "reply": ApiRoute("ticket-messages", "post", lambda w: {
        "body": "Field test reply"}, _world_ticket),
    "patch": ApiRoute("ticket-detail", "patch", lambda w: {}, _world_ticket),
}
# The staff-only fields of each route, and the roles the route itself lets through.
# The staff-only fields of each route (by the table, or by value: a phone channel, an
# internal note).
API_CASES = {route: [f for f, roles in FIELDS[(r.name, r.method)].items()
                     if roles != ANYONE and f in EFFECT]
             for route, r in API_ROUTES.items()}
API_CASES["create"].append("channel")
API_CASES["reply"].append("public")


def _control(route: str, r: ApiRoute, w: W.World, field: str) -> dict[str, Any]:
    """What an agent of the ticket's team sends to set `field` through the route."""
    control = {**r.base(w), field: staff_value(w, field)}
    if route == "transition":
        control["to"] = "in_progress" if field == "assignee" else "escalated"
        if field != "assignee":  # an escalation: to a team, with a complete packet
            control.update(to_team=_team_y().pk, packet=PACKET)
    return control


@pytest.mark.parametrize("route", sorted(API_CASES))
def test_a_customer_giving_a_staff_only_api_field_is_refused_and_nothing_is_written(
        world, route):
    r = API_ROUTES[route]
    url = build_url(r.name, world)
    clients = {role: _client(world, role)
               for role in sorted(WRITES[(r.name, r.method)].allow & CUSTOMERS)}
    for field in API_CASES[route]:
        with transaction.atomic():  # each field from the same starting point
            for role, client in clients.items():
                before = rows_written()
                response = _json(client, r.method, url,
                                 {**r.base(world), field: staff_value(world, field)})
                assert response.status_code == 403, (role, field, response.content)
                assert rows_written() == before, f"{role}: the refused {field} wrote rows"
                assert not EFFECT[field](world, r.ticket(world)), (role, field)
            # The control: an agent of the ticket's team gives the same value: it sticks.
            response = _json(_client(world, "agent_x"), r.method, url,
                             _control(route, r, world, field))
            assert response.status_code in (200, 201), (field, response.content)
            assert EFFECT[field](world, r.ticket(world)), field
            transaction.set_rollback(True)


def test_customer_cannot_choose_the_assignee_through_a_transition(world):
    """The reported defect, as reported: a customer resolving their own ticket with
    `assignee` set to the manager; and the org admin contact on a colleague's ticket."""
    url = build_url("ticket-transition", world)
    before = _world_ticket(world)
    for role in ("customer_a", "org_admin_a"):
        response = _json(_client(world, role), "post", url, {
            "to": "resolved", "assignee": world.users["manager"].pk})
        assert response.status_code == 403, response.content
        assert response.json()["detail"] == "Only agents can set assignee."
        ticket = _world_ticket(world)
        assert (ticket.assignee_id, ticket.status) == (before.assignee_id, before.status)
    # Without the staff field the customer's own move is theirs to make.
    response = _json(_client(world, "customer_a"), "post", url, {"to": "resolved"})
    assert response.status_code == 200
    assert _world_ticket(world).assignee_id == world.users["agent_x"].pk


def test_an_unknown_and_a_real_user_id_get_the_same_refusal(world):
    """The refusal comes before the id is looked up: no way to learn which ids exist."""
    url = build_url("ticket-transition", world)
    client = _client(world, "customer_a")
    answers = {_json(client, "post", url, {"to": "resolved", "assignee": pk}).content
               for pk in (world.users["agent_y"].pk, W.MISSING)}
    assert len(answers) == 1


# --- behaviour: the portal and e-mail (the fields are not offered: no effect) ---------

@dataclass(frozen=True)
class FormRoute:
    name: str
    base: dict[str, Any]
    ticket: Callable[[W.World], Ticket]


FORM_ROUTES = {
    "portal:new_ticket": FormRoute("portal:new_ticket", {
        "subject": "Field test", "description": "Field test"}, _newest_ticket),
    "portal:reply": FormRoute("portal:reply", {"body": "Field test reply"}, _world_ticket),
    "portal:solve": FormRoute("portal:solve", {}, _world_ticket),
}


def _form_value(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, dict) else value


@pytest.mark.parametrize("route", sorted(FORM_ROUTES))
def test_staff_only_fields_posted_to_a_portal_form_have_no_effect(world, route):
    r = FORM_ROUTES[route]
    offered = FIELDS[(r.name, "post")]
    extra = {f: _form_value(staff_value(world, f)) for f in UNOFFERED if f not in offered}
    for role in sorted(WRITES[(r.name, "post")].allow & CUSTOMERS):
        response = _client(world, role).post(build_url(r.name, world), {**r.base, **extra})
        assert response.status_code == 302, (role, response.status_code)
        ticket = r.ticket(world)
        took = [f for f in extra if EFFECT[f](world, ticket)]
        assert not took, f"{route} as {role}: {took} took effect"


def test_portal_reopen_with_staff_only_fields_has_no_effect(world):
    ticket = _world_ticket(world)
    Ticket.objects.filter(pk=ticket.pk).update(status="resolved")
    extra = {f: _form_value(staff_value(world, f)) for f in UNOFFERED if f != "status"}
    response = _client(world, "org_admin_a").post(build_url("portal:reopen", world), {
        "reason": "Field test: it broke again", **extra})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    took = [f for f in UNOFFERED if f != "status" and EFFECT[f](world, ticket)]
    assert not took, took


def test_an_email_naming_staff_fields_sets_none_of_them(world, monkeypatch, client,
                                                         django_capture_on_commit_callbacks):
    """A customer's e-mail with priority headers and command-like lines: the ticket gets
    the mailbox's defaults, not what the message asks for."""
    from mailgate.models import Mailbox

    monkeypatch.setenv("SEC_FIELDS_TOKEN", "fields-token")
    Mailbox.objects.create(name="support", address="support@helpdesk.test", imap_host="",
                           webhook_token_env="SEC_FIELDS_TOKEN")
    agent_y = world.users["agent_y"]
    raw = ("From: Alice <" + world.users["customer_a"].email + ">\r\n"
           "To: support@helpdesk.test\r\nSubject: Field test by mail\r\n"
           "X-Priority: 1 (Highest)\r\nImportance: high\r\nPriority: urgent\r\n"
           "Message-ID: <fields-1@acme.example>\r\n"
           f"Date: {format_datetime(timezone.now())}\r\n\r\n"
           f"assignee: {agent_y.username}\r\n#assign {agent_y.email}\r\npriority: 1\r\n"
           "team: l2-technical\r\ntags: vip\r\nstatus: closed\r\n").encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mailgate:inbound", args=["support"]), data=raw,
                               content_type="message/rfc822",
                               HTTP_AUTHORIZATION="Bearer fields-token")
    assert response.status_code == 202, response.content
    ticket = Ticket.objects.get(subject="Field test by mail")
    assert ticket.priority == 3 and ticket.channel == "email"
    took = [f for f in ("assignee", "team", "priority", "tags", "status")
            if EFFECT[f](world, ticket)]
    assert not took, took


def test_customers_get_403_on_every_staff_only_field_of_ticket_patch(world):
    """PATCH is staff-only as a whole: each field, from each customer who sees the
    ticket, is refused and writes nothing."""
    url = build_url("ticket-detail", world)
    for role in sorted(OWNER):
        client = _client(world, role)
        for field in FIELDS[("ticket-detail", "patch")]:
            before = rows_written()
            response = _json(client, "patch", url,
                             {field: staff_value(world, field)
                              if field in EFFECT else "Renamed"})
            assert response.status_code == 403, (role, field)
            assert rows_written() == before
