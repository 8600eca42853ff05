"""Issue 11, beyond the GET matrix: e-mails, exports, and every POST / PATCH against objects
owned by others.

- E-mails: the real flows (mail ticket, agent notes and replies, macros, QA review and
  dispute, incident updates and resolution, surveys, every scheduled job) run with the
  marker-carrying content present; no message addressed to a customer carries a marker
  (subject, text, HTML alternative, headers), while staff mail does where it should.
- Exports: every CSV / calendar / file download answers customers and anonymous users
  with 404 or the login page; the customer-facing ones never carry a marker.
- Writes: every route that accepts POST (or PATCH/PUT) is tried by every role on the
  world's real objects: denied roles get 404 (403 where they may see the object), and one
  allowed role gets through, so the 404s are not just "no such id".
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import format_datetime, parseaddr
from importlib import import_module
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import User

from . import world as W
from .kwargs import build_url
from .test_authz_matrix import (
    API,
    LEAD_UP,
    LOGGED_IN,
    LOGIN,
    OWNER,
    QA_UP,
    REDIRECT,
    RULES,
    STAFF,
    TEAM_X,
    _actual,
    _body,
    _client,
    _matches,
)

# =========================================================================================
# Writes: every POST / PATCH / PUT route x every role, on the world's real objects
# =========================================================================================


@dataclass(frozen=True)
class Write:
    allow: frozenset[str]  # roles that get past the permission check
    anon: int | str = LOGIN
    method: str = "post"
    data: Callable[[W.World], dict[str, Any]] | None = None
    over: dict[str, int | str] = field(default_factory=dict)  # denied roles: not 404
    note: str = ""

    def denied(self, role: str) -> int | str:
        return self.over.get(role, 404)


def w_(allow, anon=LOGIN, **kw) -> Write:
    return Write(frozenset(allow), anon, **kw)


SEES_ROTATION_ONLY = {"agent_x": 403, "agent_y": 403, "qa": 403}  # see it, may not plan it
FOLLOW_UP_HANDLERS = {"lead_x", "qa", "manager", "admin"}  # owner, team lead, sees-all

WRITES: dict[tuple[str, str], Write] = {
    **{(n, "post"): w for n, w in {
        "home": w_(LOGGED_IN),
        "healthz": w_(LOGGED_IN, anon=200),
        "password_change": w_(LOGGED_IN),
        "api-token": w_(LOGGED_IN, anon=400, note="credentials in the body"),
        # issue 24: a user's own second factor and re-authentication; privacy admins
        "two_factor_setup": w_(LOGGED_IN),
        "two_factor_verify": w_(LOGGED_IN),
        "two_factor_recovery": w_(LOGGED_IN),
        "reauthenticate": w_(LOGGED_IN),
        "privacy:request_export": w_({"admin"}),
        "privacy:request_erasure": w_({"admin"}),
        "privacy:approve_erasure": w_({"admin"}, note="asked by the admin: refused, 2 people"),
        # agent workspace: the ticket is loaded through visible_tickets before any form
        "agent:bulk": w_(STAFF),
        "agent:saved_filter": w_(STAFF),
        "agent:new_ticket": w_(STAFF),
        **{f"agent:{n}": w_(TEAM_X) for n in (
            "reply", "transition", "update", "escalate", "merge", "macro", "timer_start",
            "timer_stop", "follow", "custom_fields", "presence", "assign_me")},
        "agent:queue_columns": w_(STAFF, note="the agent's own column choice"),
        # portal
        "portal:new_ticket": w_(LOGGED_IN),
        **{f"portal:{n}": w_(OWNER | TEAM_X) for n in ("reply", "solve", "reopen")},
        # Whoever sees the request gets 403: this world has no field a customer may edit
        # (and staff edit on the agent page); tests/tickets/test_custom_fields.py edits.
        "portal:custom_fields": w_(frozenset(), over=dict.fromkeys(OWNER | TEAM_X, 403)),
        # SLA, workforce, notifications, surveys
        "sla:index": w_(LOGGED_IN, anon=REDIRECT),
        "sla:exempt": w_(TEAM_X, data=lambda w: {"reason": "hijack"}),
        **{f"workforce_oncall:{n}": w_(LEAD_UP, over=SEES_ROTATION_ONLY) for n in (
            "add_override", "swap", "remove_override")},
        "workforce_oncall:acknowledge": w_({"agent_x"}),  # agent X's own page
        "workforce_schedules:decide_time_off": w_(LEAD_UP, data=lambda w: {
            "decision": "approve"}),
        "workforce_schedules:add_shift": w_(LEAD_UP),
        "workforce_schedules:my_status": w_(STAFF),
        "workforce_schedules:time_off": w_(STAFF),
        "notifications:read": w_({"agent_x"}),  # agent X's own notification
        "notifications:read_all": w_(LOGGED_IN),
        "notifications:preferences": w_(LOGGED_IN),
        "notifications:language": w_(LOGGED_IN, note="one's own language and time zone"),
        "set_language": w_(LOGGED_IN, anon=REDIRECT, note="the visitor's own language"),
        "surveys:handle_follow_up": w_(FOLLOW_UP_HANDLERS, data=lambda w: {
            "outcome": "hijack"}),
        "surveys:feedback": w_(LOGGED_IN, anon=400, note="the signed token is the key"),
        # knowledge
        "knowledge:solved": w_(LOGGED_IN, anon=REDIRECT),
        "knowledge:vote": w_(LOGGED_IN, anon=REDIRECT),
        "knowledge:flag": w_(TEAM_X),
        "knowledge:draft_from_ticket": w_(TEAM_X),
        "knowledge:new": w_(STAFF),
        "knowledge:edit": w_(STAFF),
        # QA: reviews and sessions are seen by QA, leads and managers; leads resolve
        **{f"qa:{n}": w_(QA_UP) for n in (
            "save", "claim", "acknowledge", "raise_dispute", "start_review", "preview",
            "calibration_new", "calibration_item", "calibration_close")},
        **{f"qa:{n}": w_(LEAD_UP) for n in (
            "ticket_of_week", "flag", "coaching_new", "dispute")},
        # incidents: the war room is open to all staff; ticket links need the ticket
        **{f"incidents:{n}": w_(STAFF) for n in (
            "declare", "bulk_declare", "action_state", "add_entry", "status", "severity",
            "assign_role", "remove_role", "link", "publish", "resolve", "review",
            "add_action")},
        "incidents:unlink": w_(TEAM_X),
        "incidents:suggestion": w_(TEAM_X),
        "incidents:link_from_ticket": w_(TEAM_X, data=lambda w: {
            "incident": w.ids["incident"]}),
        # mail and casework: the ticket's team (and those who see every ticket)
        "mailgate:retry": w_(TEAM_X),
        "mailgate:clear_bounce": w_(TEAM_X, data=lambda w: {"ticket": w.ids["ticket"]}),
        "mailgate:preferences": w_(LOGGED_IN, data=lambda w: {"all_email": "on"}),
        "casework:voc_generate": w_(QA_UP),
        **{f"casework:{n}": w_(TEAM_X) for n in (
            "save_investigation", "add_evidence", "verify_evidence", "start_playbook",
            "check_step", "draft_playbook", "draft_article", "add_link", "sync_link",
            "add_feedback", "flag_champion", "return_escalation")},
        # API
        "ticket-list": w_(LOGGED_IN, anon=API),
        "ticket-messages": w_(OWNER | TEAM_X, anon=API),
        "ticket-transition": w_(OWNER | TEAM_X, anon=API),
        "organization-list": w_({"manager", "admin"}, anon=API, over=dict.fromkeys(
            LOGGED_IN - {"manager", "admin"}, 403)),
        "mail-outbound-retry": w_(TEAM_X, anon=API),
        "casework-link-status": w_(TEAM_X, anon=API),
    }.items()},
    # customers of org A see their ticket but may not edit it through the API
    ("ticket-detail", "patch"): w_(TEAM_X, anon=API, over=dict.fromkeys(OWNER, 403)),
    **{("organization-detail", m): w_({"manager", "admin"}, anon=API, over=dict.fromkeys(
        LOGGED_IN - {"manager", "admin", "customer_b"}, 403)) for m in ("patch", "put")},
}

# Routes that take a POST but are not tried here, and where they are tested instead.
WRITES_ELSEWHERE = {
    "login": "throttled sign-in: tests/helpdesk/test_security.py",
    "signup": "throttled sign-up: tests/helpdesk/test_security.py",
    "password_reset": "tests/helpdesk/test_security.py (a reset link works once)",
    "password_reset_confirm": "tests/helpdesk/test_security.py (a reset link works once)",
    "mailgate:inbound": "bearer token, no session: tests/mailgate/test_inbound_endpoints.py",
    "mailgate:unsubscribe": "signed token, no session (RFC 8058): "
                            "tests/mailgate/test_customer_notices.py",
    "logout": "logs out whoever asks, then the login page: nothing to refuse",
    "oidc_logout": "logs out whoever asks, like logout",
}
CONTROL_ORDER = ("agent_x", "customer_a", "lead_x", "qa", "manager", "admin", "agent_y",
                 "org_admin_a", "customer_b")


def _send(client: Client, method: str, url: str, data: dict[str, Any]):
    if method == "post":
        return client.post(url, data)
    return getattr(client, method)(url, data, content_type="application/json")


def test_write_rules_name_existing_routes():
    """Routes missing from WRITES are held to "GET only" below; this keeps the table free of
    names that no longer exist."""
    stale = {name for name, _ in WRITES} - RULES.keys()
    assert not stale, f"write rules for URL names that no longer exist: {sorted(stale)}"


def test_writes_by_denied_roles_are_refused(world):
    """Every role outside a route's allowed set is refused (404 unless it may see the
    object), and anonymous users are sent to log in; GET-only routes refuse every write."""
    wrong, clients = [], {role: _client(world, role) for role in W.ROLES}  # one login each
    for (name, method), rule in WRITES.items():
        url = build_url(name, world)
        # Valid data (a missing check would act) and, where it differs, an empty form (a
        # check made after validation would answer "fill this in": the object exists).
        tries = [rule.data(world), {}] if rule.data else [{}]
        for role in W.ROLES:
            if role in rule.allow and role != "anonymous":
                continue
            expected = rule.anon if role == "anonymous" else rule.denied(role)
            for data in tries:
                actual = _actual(_send(clients[role], method, url, data))
                if not _matches(expected, actual):
                    wrong.append(f"{method.upper()} {name} {role} {data}: expected {expected}, "
                                 f"got {actual}")
    refused = (405, 404, 401, 403, LOGIN)
    for name in sorted(RULES.keys() - {n for n, _ in WRITES} - WRITES_ELSEWHERE.keys()):
        url = build_url(name, world)
        for role in W.ROLES:
            actual = _actual(clients[role].post(url, {}))
            if actual not in refused:
                wrong.append(f"POST {name} {role}: a GET-only route answered {actual}")
    # The API offers no DELETE and no PUT beyond the rules above.
    for name in sorted(n for n, rule in RULES.items() if rule.anon == API):
        url = build_url(name, world)
        for method in ("delete", "put"):
            if (name, method) in WRITES:
                continue
            for role in W.ROLES:
                actual = _actual(_send(clients[role], method, url, {}))
                if actual not in refused:
                    wrong.append(f"{method.upper()} {name} {role}: answered {actual}")
    assert not wrong, "\n".join(wrong)


def test_writes_by_an_allowed_role_get_past_the_check(world):
    """The control: one allowed role per route is not refused, so the objects are real and
    the refusals above come from the permission check."""
    wrong = []
    for (name, method), rule in WRITES.items():
        role = next((r for r in CONTROL_ORDER if r in rule.allow), None)
        if role is None:
            continue
        data = rule.data(world) if rule.data else {}
        actual = _actual(_send(_client(world, role), method, build_url(name, world), data))
        if actual in (LOGIN, 401, 403, 404, 405) or (isinstance(actual, int) and actual >= 500):
            wrong.append(f"{method.upper()} {name} {role}: refused with {actual}")
    assert not wrong, "\n".join(wrong)


# =========================================================================================
# E-mails
# =========================================================================================

MAIL_TOKEN = "sec-webhook-token"
CAROL = "carol@acme.example"  # a new org A customer, who writes in by e-mail


def _mail_texts(message: EmailMessage) -> list[str]:
    """Everything a recipient can read: subject, envelope, headers, text, HTML, files,
    both as built and as encoded on the wire (quoted-printable/base64 decoded again)."""
    texts = [message.subject, message.body, str(message.from_email), *message.to,
             *message.cc, *message.reply_to]
    texts += [str(content) for content, _mime in getattr(message, "alternatives", [])]
    texts += [f"{k}: {v}" for k, v in message.extra_headers.items()]
    mime = message.message()
    texts += [f"{k}: {v}" for k, v in mime.items()]
    for part in mime.walk():
        payload = part.get_payload(decode=True)
        if payload:
            texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return texts


def _markers_in(message: EmailMessage) -> list[str]:
    texts = _mail_texts(message)
    return [m for m in W.MARKERS if any(m in t for t in texts)]


def _recipients(message: EmailMessage) -> set[str]:
    return {parseaddr(a)[1].lower() for a in (*message.to, *message.cc, *message.bcc)}


def _staff_addresses() -> set[str]:
    return {u.email.lower() for u in User.objects.exclude(email="") if u.is_agent}


def _customer_mail() -> list[EmailMessage]:
    """Mail with at least one recipient who is not staff (customers, CCs, strangers)."""
    staff = _staff_addresses()
    return [m for m in mail.outbox if _recipients(m) - staff]


def _mail_to(address: str) -> list[EmailMessage]:
    return [m for m in mail.outbox if address.lower() in _recipients(m)]


def _joined(messages: list[EmailMessage]) -> str:
    return "\n".join(t for m in messages for t in _mail_texts(m))


def _assert_no_marker_reaches_a_customer() -> None:
    leaks = [(m.subject, sorted(_recipients(m)), _markers_in(m)) for m in _customer_mail()
             if _markers_in(m)]
    assert not leaks, f"internal content e-mailed to customers: {leaks}"


def test_the_mail_scanner_reads_every_part():
    """Control of the helpers: a marker hidden in any one part is found."""
    marker = W.INTERNAL_NOTE
    cases = {
        "subject": EmailMultiAlternatives(marker, "text", to=["x@example.com"]),
        "text": EmailMultiAlternatives("s", f"line\n{marker}", to=["x@example.com"]),
        "header": EmailMultiAlternatives("s", "t", to=["x@example.com"],
                                         headers={"X-Note": marker}),
    }
    cases["html"] = EmailMultiAlternatives("s", "t", to=["x@example.com"])
    cases["html"].attach_alternative(f"<p>{marker}</p>", "text/html")
    cases["attached file"] = EmailMultiAlternatives("s", "t", to=["x@example.com"])
    cases["attached file"].attach("note.txt", marker * 3, "text/plain")
    missed = [name for name, message in cases.items() if _markers_in(message) != [marker]]
    assert not missed


@pytest.fixture
def mail_ticket(world, monkeypatch, client, django_capture_on_commit_callbacks):
    """Carol e-mails org A's support address; the ticket is team X's, Amanda is in CC."""
    from helpdesk.models import Team
    from mailgate.models import Mailbox
    from tickets.models import Ticket

    monkeypatch.setenv("SEC_MAILGATE_TOKEN", MAIL_TOKEN)
    Mailbox.objects.create(name="support", address="support@helpdesk.test", imap_host="",
                           webhook_token_env="SEC_MAILGATE_TOKEN")
    raw = (f"From: Carol Customer <{CAROL}>\r\nTo: support@helpdesk.test\r\n"
           f"Subject: Exports fail\r\nMessage-ID: <sec-carol-1@acme.example>\r\n"
           f"Date: {format_datetime(timezone.now())}\r\n\r\n"
           f"Our exports fail since this morning.\r\n").encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("mailgate:inbound", args=["support"]), data=raw,
                               content_type="message/rfc822",
                               HTTP_AUTHORIZATION=f"Bearer {MAIL_TOKEN}")
    assert response.status_code == 202, response.content
    ticket = Ticket.objects.get(requester__email=CAROL)
    Ticket.objects.filter(pk=ticket.pk).update(team=Team.objects.get(slug=world.ids["team_slug"]),
                                               assignee=world.users["agent_x"])
    ticket.ccs.add(world.users["org_admin_a"])
    return ticket


def _as(world: W.World, role: str, name: str, data: dict[str, Any], capture, **kw) -> Any:
    with capture(execute=True):
        response = _client(world, role).post(build_url(name, world, **kw), data)
    assert response.status_code in (200, 302), (name, role, response.status_code)
    return response


def test_mail_ticket_story_sends_customers_public_text_only(
        world, mail_ticket, django_capture_on_commit_callbacks):
    """From Carol's first e-mail to her survey: everything staff do on her ticket, with every
    kind of internal content written alongside; customers get only the public parts."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from knowledge.models import Article
    from qa import services as qs
    from qa.models import Scorecard
    from tickets import tasks as ticket_tasks
    from tickets.models import Macro

    capture, pk = django_capture_on_commit_callbacks, mail_ticket.pk
    Article.objects.filter(pk=world.ids["internal_pk"]).update(owner=world.users["lead_x"])
    note_macro = Macro.objects.create(name="Sec note", body=f"{W.INTERNAL_NOTE} macro note",
                                      is_public=False)
    reply_macro = Macro.objects.create(name="Sec reply", is_public=True,
                                       body="PUBLIC-MACRO Hello {{ requester_first_name }}")
    ticket = {"pk": pk}
    # The agent's internal note (with a file), public reply, both macros, a status change.
    _as(world, "agent_x", "agent:reply", {
        "body": f"{W.INTERNAL_NOTE}: the customer's DB is on the old cluster",
        "visibility": "note",
        "attachments": SimpleUploadedFile(f"{W.INTERNAL_NOTE}.txt", W.INTERNAL_NOTE.encode(),
                                          "text/plain")}, capture, **ticket)
    _as(world, "agent_x", "agent:reply", {"body": "PUBLIC-REPLY please retry the export",
                                          "visibility": "public"}, capture, **ticket)
    _as(world, "agent_x", "agent:macro", {"macro": note_macro.pk}, capture, **ticket)
    _as(world, "agent_x", "agent:macro", {"macro": reply_macro.pk}, capture, **ticket)
    _as(world, "agent_x", "agent:transition", {"to": "waiting_on_customer",
                                               "reason": "asked for logs"}, capture, **ticket)
    # QA reviews the agent's work; the agent disputes, quoting the review to the lead.
    card = Scorecard.objects.get(is_current=True)
    with capture(execute=True):
        review = qs.create_review(ticket=mail_ticket, actor=world.users["qa"],
                                  agent=world.users["agent_x"], reviewer=world.users["qa"])
        qs.submit_review(review, actor=world.users["qa"], data=qs.ScoreInput(
            summary=W.QA_COMMENT, levels={d.pk: d.levels.order_by("points").first().pk
                                          for d in card.dimensions.all()}))
    _as(world, "agent_x", "qa:raise_dispute", {"reason": f"Unfair: {W.QA_COMMENT}"}, capture,
        pk=review.pk)
    # The agent flags the internal article from the ticket; its owner (lead X) is told.
    _as(world, "agent_x", "knowledge:flag", {"article": world.ids["internal_pk"],
                                             "kind": "wrong",
                                             "note": f"{W.INTERNAL_ARTICLE} is wrong"},
        capture, **ticket)
    # The incident: an internal war-room note, the link, a public update, the resolution.
    _as(world, "lead_x", "incidents:add_entry", {"kind": "note",
                                                 "body": f"{W.INCIDENT_NOTE} failover"},
        capture)
    _as(world, "lead_x", "incidents:link", {"tickets": str(pk)}, capture)
    _as(world, "lead_x", "incidents:publish", {"kind": "update",
                                               "body": "PUBLIC-INCIDENT-UPDATE exports slow"},
        capture)
    _as(world, "lead_x", "incidents:resolve", {"body": "PUBLIC-RESOLUTION exports fixed",
                                               "ticket_status": "resolved"}, capture)
    # Two hours later the survey goes out.
    with time_machine.travel(timezone.now() + timedelta(hours=3)), capture(execute=True):
        ticket_tasks.send_due_surveys()

    _assert_no_marker_reaches_a_customer()
    carol = _joined(_mail_to(CAROL))
    for public in ("PUBLIC-REPLY", "PUBLIC-MACRO Hello Carol", "PUBLIC-INCIDENT-UPDATE",
                   "PUBLIC-RESOLUTION", f"How did we do on ticket #{pk}"):
        assert public in carol, f"Carol never got {public!r}"
    amanda = _joined(_mail_to(world.users["org_admin_a"].email))
    assert "PUBLIC-REPLY" in amanda, "the CC gets the replies"
    assert not _mail_to(world.users["customer_b"].email)
    # Control: staff mail carries internal content where it is meant to.
    lead = _joined(_mail_to(world.users["lead_x"].email))
    assert W.QA_COMMENT in lead, "the dispute (quoting the review) reaches the lead"
    assert W.INTERNAL_ARTICLE in lead, "the flag note reaches the article's owner"


def test_web_ticket_activity_mails_customers_public_text_only(
        world, django_capture_on_commit_callbacks):
    """Org A's web ticket: the public reply and the resolution reach the customer by
    e-mail (issue 18); the internal note written alongside never does."""
    capture = django_capture_on_commit_callbacks
    _as(world, "agent_x", "agent:reply", {"body": f"{W.INTERNAL_NOTE} again",
                                          "visibility": "note"}, capture)
    _as(world, "agent_x", "agent:reply", {"body": "Public web answer", "visibility": "public"},
        capture)
    _as(world, "agent_x", "agent:transition", {"to": "resolved", "reason": "fixed"}, capture)
    alice = _joined(_mail_to(world.users["customer_a"].email))
    assert "Public web answer" in alice  # "resolved" is automatic: held, her mail bounces
    assert "Resolved: Sec ticket A" not in alice
    _assert_no_marker_reaches_a_customer()


def test_every_customer_notice_carries_public_text_only(
        world, django_capture_on_commit_callbacks):
    """Issue 18: each customer notice template (acknowledgement, reply, waiting, reminder,
    automatic resolution, resolved, closed, merged, incident update) is sent at least
    once in a world full of internal content, and none carries any of it."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from incidents import services as inc
    from incidents.models import Incident
    from mailgate import waiting
    from mailgate.models import BounceMark, OutboundEmail, OutboundStatus
    from tickets import services as ts
    from tickets.models import Channel, Ticket

    capture, u = django_capture_on_commit_callbacks, world.users
    BounceMark.objects.update(cleared_at=timezone.now())  # the world's mark would hold all
    t = Ticket.objects.get(pk=world.ids["ticket"])
    agent = u["agent_x"]

    def run(fn, *args, **kwargs):
        with capture(execute=True):
            return fn(*args, **kwargs)

    # A phone ticket logged by the agent (acknowledgement), answered with a note nearby.
    phone = run(ts.create_ticket, requester=u["customer_a"], subject="Sec phone call",
                description="Called about exports", channel=Channel.PHONE, actor=agent)
    run(ts.add_reply, phone, author=agent, public=False, body=f"{W.INTERNAL_NOTE} on call",
        attachments=[SimpleUploadedFile(f"{W.INTERNAL_NOTE}.txt", b"x", "text/plain")])
    run(ts.add_reply, phone, author=agent, body="PUBLIC-PHONE-REPLY try again")
    run(ts.transition, phone, "resolved", actor=agent)
    run(ts.close_stale_resolved, days=0)
    # Waiting on Alice, reminded, then resolved for lack of an answer.
    run(ts.add_reply, t, author=agent, public=False, body=f"{W.INTERNAL_NOTE} before asking")
    # By the lead: the agent's reply a moment ago would make this "the reply that asks".
    run(ts.transition, t, "in_progress", actor=u["lead_x"])
    run(ts.transition, t, "waiting_on_customer", actor=u["lead_x"], reason="Send the logs")
    for days in (3, 6, 12):
        with time_machine.travel(timezone.now() + timedelta(days=days)):
            run(waiting.scan)
    # A duplicate merged into Alice's other ticket; an incident update.
    dup = run(ts.create_ticket, requester=u["customer_a"], subject="Sec duplicate",
              description="Same as the phone call")
    other = run(ts.create_ticket, requester=u["customer_a"], subject="Sec survivor",
                description="Exports fail")
    run(ts.merge, dup, into=other, actor=agent)
    incident = Incident.objects.get(pk=world.ids["incident"])
    run(inc.link_tickets, incident, [other], actor=u["lead_x"])
    run(inc.publish_update, incident, kind="update", body="PUBLIC-INC exports slow",
        actor=u["lead_x"])
    # A trigger's e-mail from a template (issue 23), on a ticket with an internal note.
    from tickets.models import Trigger
    Trigger.objects.create(
        name="Tell the customer work started", events=["status_changed"],
        conditions=[{"field": "subject", "op": "contains", "value": "Sec rule"}],
        actions=[{"action": "email_requester",
                  "value": {"template": "customer.update", "text": "PUBLIC-RULE on it"}}])
    ruled = run(ts.create_ticket, requester=u["customer_a"], subject="Sec rule ticket",
                description="Exports time out")
    run(ts.add_reply, ruled, author=agent, public=False, body=f"{W.INTERNAL_NOTE} rule")
    run(ts.transition, ruled, "in_progress", actor=agent)

    sent = set(OutboundEmail.objects.filter(status=OutboundStatus.SENT, notice__gt="")
               .values_list("notice", flat=True))
    from helpdesk.notice_templates import default_keys
    assert sent == {k for k in default_keys() if k.startswith("customer.")}
    _assert_no_marker_reaches_a_customer()
    alice = _joined(_mail_to(u["customer_a"].email))
    for public in ("PUBLIC-PHONE-REPLY", "Send the logs", "PUBLIC-INC exports slow",
                   "PUBLIC-RULE on it"):
        assert public in alice


def _run_every_scheduled_job(capture) -> list[str]:
    """Each beat entry's task, called as the worker would (eager, after commit)."""
    ran = []
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        module, _, name = entry["task"].rpartition(".")
        task = getattr(import_module(module), name)
        with capture(execute=True):
            task(*entry.get("args", ()), **entry.get("kwargs", {}))
        ran.append(entry["task"])
    return ran


def test_scheduled_jobs_and_at_risk_alerts_mail_staff_only(
        world, mail_ticket, django_capture_on_commit_callbacks):
    """Reports, reminders and alerts (at-risk, QA sample, stale articles, SLA, on-call,
    incident reminders, follow-ups, the weekly voice of customer) reach staff only; the one
    scheduled mail for customers is the survey, and it carries nothing internal."""
    from helpdesk.models import Organization
    from knowledge.models import Article

    capture, u = django_capture_on_commit_callbacks, world.users
    Organization.objects.filter(pk=u["customer_a"].organization_id).update(csm=u["manager"])
    Article.objects.filter(pk=world.ids["internal_pk"]).update(
        owner=u["lead_x"], review_due_on=timezone.localdate() - timedelta(days=1))
    # A churn phrase from the customer, a champion departure noted by the agent.
    _as(world, "customer_a", "portal:reply", {"body": "We are looking at alternatives."},
        capture)
    _as(world, "agent_x", "casework:flag_champion",
        {"note": f"{W.INTERNAL_NOTE}: their admin left"}, capture)
    _as(world, "agent_x", "agent:transition", {"to": "resolved", "reason": "done"}, capture,
        pk=mail_ticket.pk)
    ran = []
    for days in (0, 8):  # now, and a week on: weekly jobs, overdue reminders, surveys
        with time_machine.travel(timezone.now() + timedelta(days=days, hours=3)):
            ran += _run_every_scheduled_job(capture)
    assert "casework.tasks.generate_weekly_voc_report" in ran

    _assert_no_marker_reaches_a_customer()
    subjects = {m.subject for m in _customer_mail()}
    survey = f"How did we do on ticket #{mail_ticket.pk}?"
    # The survey and the customer notices of issue 18 (status changes, reminders).
    notices = ("We received your request", "Resolved", "Closed", "Reminder",
               "We need your answer", "Re: ")
    assert any(s.startswith(survey) for s in subjects), subjects
    assert all(s.startswith((survey, *notices)) for s in subjects), subjects
    # Control: the alerts and reminders went out, to staff, with their internal detail.
    manager = _joined(_mail_to(u["manager"].email))
    assert "At-risk: Acme" in manager and W.INTERNAL_NOTE in manager
    assert re.search(r"help-center articles? needs? a review", _joined(_mail_to(u["lead_x"].email)))


def test_at_risk_alert_is_not_mailed_to_a_customer_set_as_csm(
        world, django_capture_on_commit_callbacks):
    """The CSM is picked in the admin from all users; if a customer is picked by mistake,
    the alert (with the agents' notes) must still not reach them."""
    from helpdesk.models import Organization

    capture, u = django_capture_on_commit_callbacks, world.users
    Organization.objects.filter(pk=u["customer_a"].organization_id).update(
        csm=u["org_admin_a"])
    _as(world, "agent_x", "casework:flag_champion",
        {"note": f"{W.INTERNAL_NOTE}: their admin left"}, capture)
    from casework.models import AtRiskAlert

    assert AtRiskAlert.objects.filter(signal="champion_departure").exists(), "the alert is recorded"
    assert not _mail_to(u["org_admin_a"].email)
    assert not u["org_admin_a"].notifications.exists()


# =========================================================================================
# Exports and downloads
# =========================================================================================


@dataclass(frozen=True)
class Export:
    allow: frozenset[str]
    query: dict[str, str]
    content_type: str


CSV = {"format": "csv"}
EXPORTS: dict[str, Export] = {
    "metrics:mine": Export(STAFF, CSV, "text/csv"),
    "metrics:team": Export(STAFF, CSV, "text/csv"),
    "metrics:manager": Export(STAFF, CSV, "text/csv"),
    "sla:dashboard": Export(STAFF, CSV, "text/csv"),
    "casework:dashboard": Export(QA_UP, CSV, "text/csv"),
    "casework:voc_detail": Export(STAFF, CSV, "text/csv"),
    "workforce_oncall:ical": Export(STAFF, {}, "text/calendar"),
    "portal:attachment": Export(OWNER | TEAM_X, {}, "text/plain"),  # a public reply's file
    "audit_log_csv": Export(frozenset({"admin"}), {}, "text/csv"),  # issue 24
    "agent:queue_export": Export(STAFF, {}, "text/csv"),  # issue 23: the queue they see
}


def _is_download(response) -> bool:
    return response.get("Content-Disposition", "").startswith("attachment")


def test_every_download_is_listed(world):
    """Found, not listed by hand: every URL that answers an admin with a file (plain, or
    with ?format=csv) is in EXPORTS, so a new export cannot skip the checks below."""
    admin = _client(world, "admin")
    found = set()
    for name in sorted(RULES):
        url = build_url(name, world)
        for query in ({}, CSV):
            if _is_download(admin.get(url, query)):
                found.add(name)
    assert found == EXPORTS.keys(), (sorted(found - EXPORTS.keys()),
                                      sorted(EXPORTS.keys() - found))


@pytest.mark.parametrize("name", sorted(EXPORTS))
def test_export_is_for_its_roles_only(world, name):
    export, url = EXPORTS[name], build_url(name, world)
    wrong = []
    for role in W.ROLES:
        response = _client(world, role).get(url, export.query)
        actual = _actual(response)
        if role in export.allow:
            if actual != 200 or not _is_download(response) \
                    or not response["Content-Type"].startswith(export.content_type):
                wrong.append(f"{role}: expected the file, got {actual} "
                             f"{response.get('Content-Type')}")
        elif actual != (LOGIN if role == "anonymous" else 404):
            wrong.append(f"{role}: expected {LOGIN if role == 'anonymous' else 404}, "
                         f"got {actual}")
        if role not in STAFF:
            leaked = [m for m in W.MARKERS if m.encode() in _body(response)]
            if leaked:
                wrong.append(f"{role}: LEAK of {leaked}")
    assert not wrong, f"{name} {url}\n" + "\n".join(wrong)


@pytest.fixture
def internal_file(world):
    """An internal note on org A's ticket with a file named and filled with the marker."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tickets import services as ts
    from tickets.models import Ticket

    note = ts.add_reply(Ticket.objects.get(pk=world.ids["ticket"]), author=world.users["agent_x"],
                        body="see the file", public=False, attachments=[SimpleUploadedFile(
                            f"{W.INTERNAL_NOTE}.txt", W.INTERNAL_NOTE.encode(), "text/plain")])
    return note.attachments.get()


def test_internal_note_file_is_staff_only(world, internal_file):
    url = build_url("portal:attachment", world, pk=internal_file.pk)
    for role in W.ROLES:
        response = _client(world, role).get(url)
        if role in TEAM_X:  # control: the file is real and carries the marker
            assert response.status_code == 200, role
            assert W.INTERNAL_NOTE.encode() in _body(response), role
        else:
            assert _actual(response) == (LOGIN if role == "anonymous" else 404), role
            assert W.INTERNAL_NOTE.encode() not in _body(response), role


@pytest.mark.parametrize("fmt", ["json", "api"])
def test_api_renderings_for_customers_leave_internal_content_out(world, internal_file, fmt):
    """The API's other renderings (JSON, the browsable HTML page with its forms) are
    customer-facing exports too: the internal note, its file and the QA / incident /
    article markers stay out for org A's own customers."""
    leaks = []
    for role in W.CUSTOMERS:
        client = _client(world, role)
        for name in ("ticket-list", "ticket-detail", "ticket-messages", "ticket-events",
                     "incident-list", "kb-articles", "user-me", "organization-list"):
            body = _body(client.get(build_url(name, world), {"format": fmt},
                                    HTTP_ACCEPT="text/html" if fmt == "api" else "*/*"))
            leaks += [(role, name, m) for m in W.MARKERS if m.encode() in body]
    assert not leaks, leaks
    staff = _body(_client(world, "agent_x").get(build_url("ticket-messages", world),
                                                {"format": fmt}))
    assert W.INTERNAL_NOTE.encode() in staff, "control: staff do get the internal note"


# =========================================================================================
# Objects without a URL of their own
# =========================================================================================

def test_private_saved_filter_is_its_owners_only(world):
    """Saved filters are listed on the queue page: agent X's private one is not shown to
    anyone else (it may name customers or reveal what X is working on)."""
    url = reverse("agent:queue", kwargs={"name": "open"})
    for role in STAFF:
        shown = W.PRIVATE_FILTER.encode() in _body(_client(world, role).get(url))
        assert shown == (role == "agent_x"), role
