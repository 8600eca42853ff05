"""Seeding, demo and bench commands: realistic, consistent, deterministic, idempotent."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db.models import Count, F
from django.utils import timezone

from devdata.seeding import SLA_DUE_HOURS, SeedOptions, seed
from helpdesk.models import Membership, Organization, Team, User
from helpdesk.roles import Role
from tickets.models import Escalation, Macro, Message, Ticket, TicketEvent, Trigger
from tickets.state_machine import TRANSITIONS, Status

CLOSED = [Status.RESOLVED.value, Status.CLOSED.value]


@pytest.fixture
def seeded(db):
    out = io.StringIO()
    call_command("seed_data", tickets=500, seed=3, stdout=out)
    return out.getvalue()


def test_seed_data_counts(seeded):
    assert "Seeded 500 tickets" in seeded
    assert Ticket.objects.count() == 500
    assert Organization.objects.count() == 25  # tickets / 20
    customers = User.objects.filter(groups__name=Role.CUSTOMER)
    assert customers.count() >= 25
    assert not customers.filter(organization__isnull=True).exists()
    for slug in ("l1-general", "l2-technical", "l2-enterprise", "l3-specialty"):
        team = Team.objects.get(slug=slug)
        assert team.memberships.count() >= 1
        assert team.memberships.filter(is_lead=True, user__groups__name=Role.TEAM_LEAD).exists()
    assert User.objects.filter(groups__name=Role.MANAGER).count() == 1
    assert User.objects.filter(groups__name=Role.QA_REVIEWER).count() == 1
    tiers = set(Organization.objects.values_list("support_tier", flat=True))
    assert {"enterprise", "business", "free"} <= tiers
    assert not Organization.objects.filter(support_tier="enterprise", csm__isnull=True).exists()
    messages = Message.objects.count()
    assert 2.5 <= messages / 500 <= 5
    assert Message.objects.filter(is_public=False).exists()  # internal notes
    assert TicketEvent.objects.filter(kind="created").count() == 500
    assert Escalation.objects.exists()
    assert Ticket.tags.through.objects.exists()


def test_seed_data_mixes(seeded):
    share = {p: n / 500 for p, n in Ticket.objects.values_list("priority").annotate(
        n=Count("id"))}
    assert 0 < share.get(1, 0) < 0.05
    assert 0 < share.get(2, 0) < 0.15
    channels = dict(Ticket.objects.values_list("channel").annotate(n=Count("id")))
    assert max(channels, key=channels.get) == "email"
    assert set(channels) == {"email", "web", "chat", "phone", "api"}
    assert Ticket.objects.values("category").distinct().count() >= 8
    statuses = dict(Ticket.objects.values_list("status").annotate(n=Count("id")))
    open_count = sum(n for s, n in statuses.items() if s not in CLOSED)
    assert 0 < open_count <= 0.1 * 500
    assert statuses.get("closed", 0) > 0.8 * 500
    assert Ticket.objects.filter(reopen_count=1).exists()


def test_seeded_tickets_are_consistent(seeded):
    now = timezone.now()
    tickets = Ticket.objects.all()
    assert not tickets.exclude(organization_id=F("requester__organization_id")).exists()
    assert not tickets.filter(team__isnull=True).exists()
    assigned = tickets.filter(assignee__isnull=False)
    assert assigned.exists()
    for ticket in assigned.select_related("assignee"):
        assert ticket.team_id in ticket.assignee.team_ids
    assert not Message.objects.filter(created_at__lt=F("ticket__created_at")).exists()
    assert not TicketEvent.objects.filter(created_at__lt=F("ticket__created_at")).exists()
    assert not Message.objects.filter(created_at__gt=now).exists()
    assert not tickets.filter(created_at__gt=now).exists()
    done = tickets.filter(status__in=CLOSED)
    assert not done.filter(resolved_at__isnull=True).exists()
    assert not done.filter(first_response_at__isnull=True).exists()
    assert not tickets.filter(status="closed", closed_at__lt=F("resolved_at")).exists()
    assert not tickets.filter(status="closed", closed_at__isnull=True).exists()
    assert not Message.objects.filter(created_at__gt=F("ticket__resolved_at")).exists()
    assert not tickets.filter(first_response_at__lt=F("created_at")).exists()
    assert not tickets.filter(updated_at__lt=F("status_changed_at")).exists()
    open_ = tickets.exclude(status__in=CLOSED)
    assert open_.exists()
    assert not open_.filter(resolved_at__isnull=False).exists()
    assert not open_.filter(status__in=["triaged", "escalated"], assignee__isnull=False).exists()
    waiting = open_.filter(status__startswith="waiting")
    assert not waiting.filter(waiting_reason="").exists()
    # Every status change in the audit trail is one the state machine allows, and each
    # ticket's last status event lands on its current status.
    for before, after in TicketEvent.objects.filter(kind="status").values_list(
            "before", "after"):
        assert (Status(before), Status(after)) in TRANSITIONS
    for ticket in done.prefetch_related("events")[:50]:
        last = [e for e in ticket.events.all() if e.kind == "status"][-1]
        assert last.after == ticket.status
    # A reply event per message, as the services write.
    assert TicketEvent.objects.filter(kind__in=["reply", "note"]).count() == Message.objects.count()


def test_seeding_is_deterministic_and_can_run_again(db):
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    first = seed(SeedOptions(tickets=120, seed=11, now=now))
    second = seed(SeedOptions(tickets=120, seed=11, now=now))
    assert first.tickets == second.tickets == 120
    assert first.messages == second.messages
    # (Subjects may differ: the second run's organizations get "-2" domains.)
    rows = list(Ticket.objects.order_by("pk").values_list(
        "priority", "status", "channel", "created_at", "category_id", "team_id",
        "reopen_count"))
    assert rows[:120] == rows[120:]
    assert Ticket.objects.count() == 240
    assert User.objects.values("username").annotate(n=Count("id")).filter(n__gt=1).count() == 0
    # New rows made through the ORM after a seed get fresh ids.
    user = User.objects.filter(groups__name=Role.CUSTOMER).first()
    ticket = Ticket.objects.create(subject="x", description="y", requester=user,
                                   created_at=now, updated_at=now, status_changed_at=now)
    assert ticket.pk > max(Ticket.objects.exclude(pk=ticket.pk).values_list("pk", flat=True))


def test_sla_due_fills_open_tickets_only(db):
    # The rough --sla-due targets, for a run without the SLA generator (which sets the
    # real due times: see tests/devdata/test_generators.py).
    seed(SeedOptions(tickets=200, seed=5, sla_due=True, open_share=0.1, skip=("sla",)))
    open_ = Ticket.objects.exclude(status__in=CLOSED)
    assert open_.exists()
    for ticket in open_:
        assert ticket.sla_due_at == ticket.created_at + timedelta(
            hours=SLA_DUE_HOURS[ticket.priority])
    assert not Ticket.objects.filter(status__in=CLOSED, sla_due_at__isnull=False).exists()


def _counts() -> dict[str, int]:
    return {
        "users": User.objects.count(), "orgs": Organization.objects.count(),
        "tickets": Ticket.objects.count(), "messages": Message.objects.count(),
        "events": TicketEvent.objects.count(), "escalations": Escalation.objects.count(),
        "macros": Macro.objects.count(), "rules": Trigger.objects.count(),
        "memberships": Membership.objects.count(),
    }


DEMO_LOGINS = ("admin", "manager", "lead", "agent", "l2agent", "qa", "customer", "orgadmin")


def test_demo_is_idempotent_and_logins_work(db):
    out = io.StringIO()
    call_command("demo", tickets=60, stdout=out)
    first = _counts()
    call_command("demo", tickets=60, stdout=io.StringIO())
    assert _counts() == first
    assert first["tickets"] == 60 + 6
    assert first["macros"] == 2 and first["rules"] == 1
    text = out.getvalue()
    for username in DEMO_LOGINS:
        password = f"demo-{username}-pass"
        assert password in text
        user = authenticate(username=username, password=password)
        assert user is not None, username
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert User.objects.get(username="lead").memberships.get().is_lead
    acme = Organization.objects.get(name="Acme Corp")
    assert acme.domain == "acme.example" and acme.support_tier == "enterprise"
    assert User.objects.get(username="orgadmin").is_org_admin
    assert User.objects.get(username="customer").organization == acme
    customer_tickets = Ticket.objects.filter(requester__username__in=["customer", "orgadmin"])
    assert customer_tickets.count() == 6
    outage = customer_tickets.get(subject__startswith="Production outage")
    assert outage.priority == 1 and outage.team.slug == "l2-enterprise"
    escalated = customer_tickets.get(subject__startswith="Webhook deliveries")
    assert escalated.escalations.get().reason
    assert escalated.team.slug == "l2-technical"
    waiting = customer_tickets.get(subject__startswith="SSO login fails")
    assert waiting.status == "waiting_on_customer" and waiting.waiting_reason
    assert customer_tickets.get(subject__startswith="Password reset").status == "resolved"


def test_demo_resets_a_changed_password(db):
    call_command("demo", tickets=0, stdout=io.StringIO())
    user = User.objects.get(username="agent")
    user.set_password("something-else-entirely")
    user.save()
    call_command("demo", tickets=0, stdout=io.StringIO())
    assert authenticate(username="agent", password="demo-agent-pass") is not None


def test_bench_runs_and_reports(db):
    call_command("demo", tickets=40, stdout=io.StringIO())
    out = io.StringIO()
    call_command("bench", iterations=2, warmup=0, stdout=out)
    text = out.getvalue()
    assert "p50 ms" in text and "customer ticket list" in text
    assert "API ticket create" in text
    # The 50-message ticket is created once and reused.
    assert Ticket.objects.filter(subject__startswith="[bench] Long").count() == 1
    call_command("bench", iterations=1, warmup=0, stdout=io.StringIO())
    long_ticket = Ticket.objects.get(subject__startswith="[bench] Long")
    assert long_ticket.messages.count() == 50


def test_bench_writes_only_prints_the_single_writes_with_queries_and_sql_time(db):
    call_command("demo", tickets=40, stdout=io.StringIO())
    out = io.StringIO()
    call_command("bench", iterations=2, warmup=0, writes_only=True, stdout=out)
    text = out.getvalue()
    for row in ("API ticket create (POST", "agent public reply", "agent internal note"):
        assert row in text
    assert "SQL ms p50" in text and "customer ticket list" not in text
    triggers = [line for line in text.splitlines() if "50 active triggers" in line]
    assert len(triggers) == 1 and "p95" in triggers[0] and "SQL ms p50" in triggers[0]
