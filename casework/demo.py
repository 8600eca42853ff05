"""Demo data of the casework app, added by `manage.py demo` after tickets and accounts exist."""
from __future__ import annotations

from decimal import Decimal
from typing import TextIO

from django.db import transaction
from django.utils import timezone

from helpdesk.models import Organization, User
from tickets.models import Category, ProductArea, Ticket

from . import services
from .models import Investigation, Playbook, PlaybookStep, VocReport

# The tickets demo escalates this scenario ticket to L2 Technical.
DEMO_SUBJECT = "Webhook deliveries to hooks.acme.example time out"
PLAYBOOKS = [
    ("Webhook deliveries failing or timing out", "integrations", "webhooks", [
        ("Replay three failed deliveries", "Delivery ids, response codes and durations",
         "All time out at the same duration: our egress side; mixed: the endpoint."),
        ("Check the egress proxy logs", "Proxy log lines for the delivery ids",
         "Proxy timeouts: escalate to L3 with the log lines."),
        ("Confirm the endpoint from outside", "curl timing from a public host",
         "Fast from outside but slow from us: network path; slow everywhere: customer side."),
    ]),
    ("SSO sign-in loop", "login", "sso", [
        ("Capture a SAML trace", "SAML tracer export (HAR) of one attempt",
         "No assertion posted: IdP side; assertion present: continue."),
        ("Compare certificates", "IdP signing certificate fingerprint",
         "Mismatch: the customer uploads the new certificate."),
        ("Check clock skew", "IdP server time against ours",
         "More than 3 minutes: ask the customer to fix NTP."),
    ]),
]


def _playbooks(stdout: TextIO) -> list[Playbook]:
    made = []
    for name, category, area, steps in PLAYBOOKS:
        playbook, created = Playbook.objects.get_or_create(
            name=name, defaults={"created_at": timezone.now(), "is_active": True,
                                 "description": "Demo playbook."})
        if created:
            playbook.categories.set(Category.objects.filter(slug=category))
            playbook.product_areas.set(ProductArea.objects.filter(slug=area))
            PlaybookStep.objects.bulk_create(
                PlaybookStep(playbook=playbook, order=i, title=t, collect=c, decide=d)
                for i, (t, c, d) in enumerate(steps, start=1))
            stdout.write(f"  casework: playbook “{name}”")
        made.append(playbook)
    return made


def _investigation(playbook: Playbook, stdout: TextIO) -> None:
    """Investigate the L2 scenario ticket of the tickets demo (never creates a ticket)."""
    l2_agent = User.objects.filter(username="l2agent").first()
    ticket = (Ticket.objects.filter(subject=DEMO_SUBJECT, team__slug="l2-technical").first()
              or Ticket.objects.filter(team__slug="l2-technical", resolved_at__isnull=True)
              .order_by("-created_at").first())
    if l2_agent is None or ticket is None or Investigation.objects.filter(ticket=ticket).exists():
        return
    services.save_investigation(ticket, actor=l2_agent, data={
        "goal": "Receive order webhooks on hooks.acme.example",
        "actual": "About 40 % of deliveries time out after 30 seconds",
        "environment": "Production, EU region", "version": "Webhooks v2",
        "hypothesis": "Our egress proxy drops long-lived connections at 30 s",
        "next_step": "Compare proxy timeouts with the failed delivery ids",
    })
    services.add_evidence(ticket, actor=l2_agent, kind="reproduction", verified=True,
                          summary="Three replays all time out at exactly 30.0 s")
    services.add_evidence(ticket, actor=l2_agent, kind="log",
                          summary="Proxy log: upstream idle timeout 30 s on egress-2")
    run = services.start_playbook(ticket, playbook, actor=l2_agent)
    for step in playbook.steps.all()[:2]:
        services.check_step(run, step, actor=l2_agent, done=True)
    services.tag_feedback(ticket, actor=l2_agent, kind="feature",
                          title="Configurable webhook timeout",
                          quote="Our ERP needs up to a minute to acknowledge",
                          use_case="Order sync into SAP")
    stdout.write(f"  casework: investigation on {ticket.reference}")


def seed_demo(stdout: TextIO) -> None:
    """Idempotent: a second run changes nothing."""
    with transaction.atomic():
        playbooks = _playbooks(stdout)
        Organization.objects.filter(name="Acme Corp", annual_value__isnull=True).update(
            annual_value=Decimal("250000"))
        _investigation(playbooks[0], stdout)
    if not VocReport.objects.exists():
        services.generate_voc_report()
