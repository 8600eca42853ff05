"""Triggers and automations: ordering, the once-only rule, the loop guard, dry runs and
each action, with time travel."""
from __future__ import annotations

import importlib
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from helpdesk.models import Notification, SupportTier
from helpdesk.roles import Role
from mailgate.models import OutboundEmail
from sla.models import Clock
from tests.factories import make_ticket, make_user, team
from tickets import services
from tickets.models import Automation, RuleFire, Ticket, TicketEvent, Trigger
from tickets.rules import dryrun, runner
from webhooks.models import Delivery, Endpoint

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def trigger(name: str, events: list[str], conditions: list, actions: list, *, order: int = 10,
            **kw) -> Trigger:
    return Trigger.objects.create(name=name, events=events, conditions=conditions,
                                  actions=actions, order=order, **kw)


def cond(field: str, op: str, value) -> dict:
    return {"field": field, "op": op, "value": value}


def act(action: str, value=None) -> dict:
    return {"action": action, "value": value}


def tags_of(ticket: Ticket) -> set[str]:
    return set(Ticket.objects.get(pk=ticket.pk).tags.values_list("name", flat=True))


# --- triggers on creation ------------------------------------------------------------

def test_a_p1_from_an_enterprise_customer_is_routed_before_its_clocks_are_targeted(
        customer_a, agent, django_capture_on_commit_callbacks):
    l2 = team("l2-technical")
    trigger("Enterprise outage", ["created"],
            [cond("org_tier", "is", SupportTier.ENTERPRISE), cond("text", "contains", "outage")],
            [act("set_priority", 1), act("set_team", l2.name), act("add_tags", "page-oncall"),
             act("add_note", "Paged the on-call.")])
    with time_machine.travel(MONDAY, tick=False), \
            django_capture_on_commit_callbacks(execute=True):
        ticket = make_ticket(customer_a, subject="Total outage", description="All down")
        plain = services.create_ticket(requester=customer_a, subject="x", description="y",
                                       priority=1, actor=agent)
    assert (ticket.priority, ticket.team) == (1, l2)
    assert tags_of(ticket) == {"page-oncall"}
    # The clocks were started with the rule's priority: the same targets as a P1 filed so.
    due = {c.metric: c.due_at for c in Clock.objects.filter(ticket=ticket)}
    assert due and due == {c.metric: c.due_at for c in Clock.objects.filter(ticket=plain)}
    assert ticket.messages.get(is_public=False).body.startswith("Paged the on-call.")
    audit = ticket.events.filter(kind="rule")
    assert [e.after for e in audit] == ["Enterprise outage", "Enterprise outage"]
    assert "priority \u2192 P1" in audit[0].note
    assert RuleFire.objects.filter(trigger__name="Enterprise outage", ticket=ticket).count() == 1


def test_any_conditions_match_when_one_holds(customer_b):
    trigger("Billing words", ["created"],
            [cond("text", "contains", "invoice"), cond("channel", "is", "phone")],
            [act("add_tags", "billing")], match_all=False)
    assert tags_of(make_ticket(customer_b, subject="My invoice")) == {"billing"}
    assert tags_of(make_ticket(customer_b, subject="Login")) == set()


# --- triggers on events ----------------------------------------------------------------

def test_a_customer_reply_triggers_in_order_each_change_named(customer_a, agent,
                                                              django_capture_on_commit_callbacks):
    ticket = make_ticket(customer_a)
    services.assign(ticket, assignee=agent, actor=agent)
    trigger("Second: tag angry replies urgent", ["customer_reply"],
            [cond("tags", "includes", "angry")], [act("set_priority", 2)], order=20)
    trigger("First: spot anger", ["customer_reply"], [cond("text", "contains", "unacceptable")],
            [act("add_tags", "angry"), act("notify", {"to": "assignee"})], order=10)
    trigger("Agents only", ["agent_reply"], [], [act("add_tags", "agent-answered")])
    with django_capture_on_commit_callbacks(execute=True):
        services.add_reply(ticket, author=customer_a, body="This is unacceptable!")
    ticket.refresh_from_db()
    assert tags_of(ticket) == {"angry"} and ticket.priority == 2
    fired = list(ticket.events.filter(kind="rule").order_by("id").values_list("after", flat=True))
    assert fired == ["First: spot anger", "Second: tag angry replies urgent"]
    priority = ticket.events.get(field="priority")
    assert priority.actor is None and "Second: tag angry replies urgent" in priority.note
    assert Notification.objects.filter(recipient=agent, source="tickets.rule").count() == 1


def test_status_change_trigger_sets_status_and_assignee(customer_a, agent, lead):
    ticket = make_ticket(customer_a)
    trigger("Escalate waiting P1s", ["priority_changed"], [cond("priority", "is", 1)],
            [act("set_assignee", lead.email), act("remove_tags", "low")])
    services.update_ticket(ticket, actor=agent, changes={"tags": ["low", "x"]})
    services.update_ticket(ticket, actor=agent, changes={"priority": 1})
    ticket.refresh_from_db()
    assert ticket.assignee == lead and ticket.status == "assigned"
    assert tags_of(ticket) == {"x"}


def test_a_rule_fires_once_per_update_and_a_ping_pong_stops_with_a_warning(customer_a, agent):
    ticket = make_ticket(customer_a)
    up = trigger("P1 becomes P2", ["priority_changed"], [cond("priority", "is", 1)],
                 [act("set_priority", 2)], order=1)
    down = trigger("P2 becomes P1", ["priority_changed"], [cond("priority", "is", 2)],
                   [act("set_priority", 1)], order=2)
    services.update_ticket(ticket, actor=agent, changes={"priority": 1})
    ticket.refresh_from_db()
    assert ticket.priority == 1  # agent P1 -> rule P2 -> rule P1, then the guard
    assert RuleFire.objects.filter(trigger=up).count() == 1
    assert RuleFire.objects.filter(trigger=down).count() == 1
    up.refresh_from_db()
    assert "would fire again" in up.last_warning and f"#{ticket.pk}" in up.last_warning
    down.refresh_from_db()
    assert down.last_warning == ""  # it fired once and did not match again
    # The next update is a new update: each may fire once again.
    services.update_ticket(ticket, actor=agent, changes={"priority": 2})
    assert RuleFire.objects.filter(trigger=down).count() == 2


def test_a_rule_re_matched_by_its_own_change_is_skipped_without_a_warning(customer_a, agent):
    ticket = make_ticket(customer_a)
    rule = trigger("Tag P1 updates", ["updated"], [cond("priority", "is", 1)],
                   [act("add_tags", "hot")])
    services.update_ticket(ticket, actor=agent, changes={"priority": 1})
    assert tags_of(ticket) == {"hot"}
    assert RuleFire.objects.filter(trigger=rule).count() == 1
    rule.refresh_from_db()
    assert rule.last_warning == ""


def test_an_action_that_cannot_apply_is_skipped_with_a_warning(customer_a, agent):
    ticket = make_ticket(customer_a)
    rule = trigger("Bad team", ["priority_changed"], [],
                   [act("set_team", "No such team"), act("add_tags", "seen")])
    services.update_ticket(ticket, actor=agent, changes={"priority": 2})
    assert tags_of(ticket) == {"seen"}
    rule.refresh_from_db()
    assert "No such team" in rule.last_warning


def test_webhook_and_email_actions_use_the_existing_paths(customer_a, agent,
                                                           django_capture_on_commit_callbacks):
    endpoint = Endpoint.objects.create(name="CRM", url="http://127.0.0.1:9/hook", events=[])
    trigger("Tell the CRM and the customer", ["status_changed"],
            [cond("status", "is", "resolved")],
            [act("call_webhook", "CRM"),
             act("email_requester", {"template": "customer.update", "text": "Fixed for good."})])
    ticket = make_ticket(customer_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.transition(ticket, "resolved", actor=agent)
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.event_type == "ticket.rule_fired"
    assert '"name":"Tell the CRM and the customer"' in delivery.body
    mail = OutboundEmail.objects.get(ticket=ticket, notice="customer.update")
    assert mail.to == customer_a.email and mail.context["update_text"] == "Fixed for good."


def test_no_active_rule_costs_no_query(customer_a, agent):
    ticket = make_ticket(customer_a)
    services.update_ticket(ticket, actor=agent, changes={"priority": 2})
    with CaptureQueriesContext(connection) as plain:
        services.update_ticket(ticket, actor=agent, changes={"priority": 3})
    for i in range(50):  # triggers on other events, or whose conditions do not hold
        trigger(f"Rule {i}", ["created", "customer_reply"] if i % 2 else ["created"],
                [cond("text", "contains", f"zz{i}")], [act("add_tags", "x")])
    Trigger.objects.first()  # load the rule set into this process's cache
    services.update_ticket(ticket, actor=agent, changes={"priority": 2})
    with CaptureQueriesContext(connection) as with_rules:
        services.update_ticket(ticket, actor=agent, changes={"priority": 3})
    assert len(with_rules) == len(plain)


def test_a_create_with_50_triggers_costs_the_plain_create_plus_one_query_per_fire(customer_a):
    make_ticket(customer_a)
    with CaptureQueriesContext(connection) as plain:
        make_ticket(customer_a)
    for i in range(50):
        trigger(f"Rule {i}", ["created"], [cond("text", "contains", f"zz{i}")],
                [act("set_priority", 2)])
    make_ticket(customer_a)  # warm the held rule set
    with CaptureQueriesContext(connection) as none_match:
        make_ticket(customer_a)
    with CaptureQueriesContext(connection) as one_matches:
        make_ticket(customer_a, subject="zz7 here")
    assert len(none_match) == len(plain)
    assert len(one_matches) == len(plain) + 1  # the RuleFire row


# --- automations -------------------------------------------------------------------------

def _waiting(ticket: Ticket, agent) -> Ticket:
    services.assign(ticket, assignee=agent, actor=agent)
    return services.transition(ticket, "waiting_on_customer", actor=agent, reason="need logs")


def test_an_automation_reminds_once_per_wait_and_a_new_wait_is_a_new_window(customer_a, agent):
    with time_machine.travel(MONDAY, tick=False):
        ticket = _waiting(make_ticket(customer_a), agent)
        reminder = Automation.objects.create(
            name="Remind after 3 days", since="waiting", hours=72,
            actions=[act("email_requester", "customer.reminder"), act("add_tags", "reminded")])
    with time_machine.travel(MONDAY + timedelta(hours=71), tick=False):
        assert runner.scan_automations() == 0
    with time_machine.travel(MONDAY + timedelta(hours=73), tick=False):
        assert runner.scan_automations() == 1
        assert runner.scan_automations() == 0  # the same wait: never twice
    with time_machine.travel(MONDAY + timedelta(hours=90), tick=False):
        assert runner.scan_automations() == 0
        services.transition(ticket, "in_progress", actor=agent)
        _waiting_again = services.transition(ticket, "waiting_on_customer", actor=agent,
                                             reason="still need logs")
    with time_machine.travel(MONDAY + timedelta(hours=163), tick=False):
        assert runner.scan_automations() == 1  # a new wait, a new window
    assert RuleFire.objects.filter(automation=reminder, ticket=ticket).count() == 2
    assert OutboundEmail.objects.filter(ticket=ticket, notice="customer.reminder").count() == 2
    assert "reminded" in tags_of(ticket)
    assert ticket.events.filter(kind="rule", after="Remind after 3 days").count() == 2
    assert _waiting_again.status == "waiting_on_customer"


def test_the_once_only_row_holds_when_two_scans_race(customer_a, agent):
    with time_machine.travel(MONDAY, tick=False):
        ticket = make_ticket(customer_a)
        rule = Automation.objects.create(name="Tag old", since="created", hours=1,
                                         actions=[act("add_note", "Old.")])
    with time_machine.travel(MONDAY + timedelta(hours=2), tick=False):
        assert runner.scan_automations() == 1
        Automation.objects.filter(pk=rule.pk).update(scanned_until=None, scanned_id=0)
        assert runner.scan_automations() == 0  # a second worker from the start: unique row
    assert ticket.messages.filter(is_public=False).count() == 1


def test_automation_conditions_and_order(customer_a, customer_b, agent):
    with time_machine.travel(MONDAY, tick=False):
        a = make_ticket(customer_a)
        b = make_ticket(customer_b)
        Automation.objects.create(name="Second", order=2, since="created", hours=24,
                                  conditions=[cond("tags", "includes", "stale")],
                                  actions=[act("set_priority", 2)])
        Automation.objects.create(name="First", order=1, since="created", hours=24,
                                  conditions=[cond("org_tier", "is", "enterprise")],
                                  actions=[act("add_tags", "stale")])
    with time_machine.travel(MONDAY + timedelta(hours=25), tick=False):
        runner.scan_automations()
    a.refresh_from_db()
    b.refresh_from_db()
    assert tags_of(a) == {"stale"} and a.priority == 2
    assert tags_of(b) == set() and b.priority == 3


def test_business_hours_count_only_the_calendar_s_open_hours(customer_a, agent):
    from sla.models import BusinessHours, Calendar

    calendar = Calendar.objects.create(name="Office", timezone="UTC")
    for day in range(5):
        BusinessHours.objects.create(calendar=calendar, weekday=day,
                                     start=time(9), end=time(17))
    friday = datetime(2026, 12, 11, 16, 0, tzinfo=UTC)
    with time_machine.travel(friday, tick=False):
        make_ticket(customer_a)
        Automation.objects.create(name="4 business hours", since="created", hours=4,
                                  business_hours=True, calendar="Office",
                                  actions=[act("add_tags", "late")])
    with time_machine.travel(friday + timedelta(days=2, hours=20), tick=False):  # Mon 12:00
        assert runner.scan_automations() == 0  # 1 h Friday + 3 h Monday = 4 h at 12:00
    with time_machine.travel(friday + timedelta(days=2, hours=20, minutes=5), tick=False):
        assert runner.scan_automations() == 1


# --- dry runs ----------------------------------------------------------------------------

def test_dry_run_counts_the_open_tickets_it_would_match(customer_a, customer_b, agent):
    for _ in range(3):
        make_ticket(customer_a, subject="Outage again")
    make_ticket(customer_b, subject="Outage elsewhere")
    closed = make_ticket(customer_a, subject="Outage old")
    services.transition(closed, "resolved", actor=agent)
    rule = trigger("Enterprise outages", ["created"],
                   [cond("org_tier", "is", "enterprise"), cond("subject", "contains", "outage")],
                   [])
    result = dryrun.dry_run(rule)
    assert (result.matched, result.open_total) == (3, 4)
    assert result.summary == "Would match 3 of the 4 open tickets now."
    assert len(result.examples) == 3
    sampled = dryrun.dry_run(rule, sample=2)
    assert sampled.sampled == 2 and "about" in sampled.summary


def test_the_admin_shows_the_dry_run_and_the_last_fires(client, customer_a):
    admin = make_user(Role.ADMIN, username="root")
    admin.is_superuser = admin.is_staff = True
    admin.save()
    client.force_login(admin)
    rule = trigger("Tag logins", ["created"], [cond("subject", "contains", "log in")],
                   [act("add_tags", "login")])
    ticket = make_ticket(customer_a)
    page = client.get(f"/admin/tickets/trigger/{rule.pk}/change/")
    assert page.status_code == 200
    assert b"Would match 1 of the 1 open tickets now." in page.content
    assert f"#{ticket.pk}".encode() in page.content and b"tags + login" in page.content


# --- the data migration ---------------------------------------------------------------------

def test_intake_rules_become_equivalent_triggers(customer_a, customer_b, l1):
    migration = importlib.import_module("tickets.migrations.0021_intake_rules_become_triggers")
    l2 = team("l2-technical")
    old = SimpleNamespace(
        name="Acme outages", order=5, is_active=True, stop_processing=True,
        org_tiers=["enterprise"], channels=[], keywords="outage, down",
        requester_emails="@acme.example\n", set_team_id=l2.pk, set_team=l2, set_priority=1,
        categories=SimpleNamespace(values_list=lambda *a, **k: []),
        add_tags=SimpleNamespace(values_list=lambda *a, **k: ["vip"]))
    rules = SimpleNamespace(objects=SimpleNamespace(order_by=lambda *a: [old]))
    apps = SimpleNamespace(get_model=lambda app, name: rules if name == "IntakeRule" else Trigger)
    migration.intake_rules_to_triggers(apps, None)
    converted = Trigger.objects.get(name="Acme outages")
    assert converted.events == ["created"] and converted.stop_processing
    ticket = make_ticket(customer_a, subject="Site down")
    assert (ticket.team, ticket.priority, tags_of(ticket)) == (l2, 1, {"vip"})
    assert make_ticket(customer_b, subject="Site down").team == l1
    assert TicketEvent.objects.filter(ticket=ticket, kind="rule", after="Acme outages").exists()


def test_status_category_and_area_actions_and_the_sla_conditions(
        customer_a, agent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the SLA clocks start
        ticket = make_ticket(customer_a)
    services.assign(ticket, assignee=agent, actor=agent)
    trigger("Billing words", ["customer_reply"],
            [cond("text", "contains", "refund"), cond("sla_breached", "is", False),
             cond("sla_level", "in", ["", "yellow"])],
            [act("set_category", "Billing"), act("set_product_area", "1"),
             act("set_status", "in_progress")])
    services.add_reply(ticket, author=customer_a, body="I want a refund")
    ticket.refresh_from_db()
    assert ticket.category.name == "Billing" and ticket.product_area_id == 1
    assert ticket.status == "in_progress"
    moved = ticket.events.get(kind="status", after="in_progress")
    assert moved.actor is None and "Billing words" in moved.note
    assert Clock.objects.filter(ticket=ticket).update(state="breached")
    services.update_ticket(ticket, actor=agent, changes={"category": None})
    services.add_reply(ticket, author=customer_a, body="refund please")
    ticket.refresh_from_db()
    assert ticket.category is None  # breached: the rule no longer matches
