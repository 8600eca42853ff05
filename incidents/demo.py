"""Demo data of the incidents app, added by `manage.py demo` after tickets and accounts exist.

One active SEV2 with linked tickets, roles, timeline and a public update; one resolved
SEV2 with its review and action items. Everything goes through the services.
"""
from __future__ import annotations

from datetime import timedelta
from typing import TextIO

from django.utils import timezone

from helpdesk.models import User
from tickets.models import Ticket
from tickets.state_machine import OPEN_STATUSES

from . import services
from .models import Incident, RoleKind

ACTIVE = "Login failures for some customers"
RESOLVED = "Delayed e-mail notifications"


def seed_demo(stdout: TextIO) -> None:
    """Idempotent: a second run changes nothing."""
    users = {u.username: u for u in User.objects.filter(
        username__in=["lead", "agent", "l2agent", "manager"])}
    if "lead" not in users or "agent" not in users:
        stdout.write("Incidents demo skipped: the demo accounts do not exist.")
        return
    lead, agent = users["lead"], users["agent"]
    open_tickets = list(Ticket.objects.filter(status__in=[s.value for s in OPEN_STATUSES])
                        .order_by("pk")[:8])
    made = 0
    if not Incident.objects.filter(title=ACTIVE).exists():
        incident = services.declare(
            title=ACTIVE, users_affected="multiple", impact="complete", actor=lead,
            description="Auth service errors after the 09:00 deploy.",
            keywords="login, sign in, password", tickets=open_tickets[:5])
        services.assign_role(incident, role=RoleKind.COMMS_LEAD, user=agent, actor=lead)
        if "l2agent" in users:
            services.assign_role(incident, role=RoleKind.TECH_LEAD, user=users["l2agent"],
                                 actor=lead)
        services.add_entry(incident, kind="note", body="Error rate on /login at 35 %.",
                           actor=agent)
        services.change_status(incident, status="identified", actor=lead,
                               note="Session cache misconfigured in the deploy.")
        services.add_entry(incident, kind="decision", body="Roll back to 4.1.2.", actor=lead)
        update = services.publish_update(
            incident, kind="initial", actor=agent,
            body="Some customers cannot log in. We found the cause and are rolling back; "
                 "next update within 30 minutes.")
        services.fan_out(update.pk)  # no worker needed for the demo
        made += 1
    if not Incident.objects.filter(title=RESOLVED).exists():
        incident = services.declare(
            title=RESOLVED, users_affected="all", impact="major", actor=lead,
            description="Mail queue backlog at the provider.", tickets=open_tickets[5:8])
        update = services.resolve(incident, actor=lead, ticket_status="resolved",
                                  body="Notifications are delivered normally again.")
        services.fan_out(update.pk)
        services.cascade(incident.pk)
        review = services.start_review(incident, actor=lead)
        services.save_review(review, actor=lead, complete=True, data={
            "summary": "Notification e-mails were delayed by up to 40 minutes.",
            "root_cause": "The provider throttled our account after a volume spike.",
            "went_well": "Detected by monitoring before customers noticed.",
            "to_improve": "No alert on queue age.",
        })
        services.add_action(review, title="Alert when the mail queue is older than 5 min",
                            owner=agent, due_date=timezone.localdate() + timedelta(days=7),
                            actor=lead)
        services.add_action(review, title="Agree a higher sending limit with the provider",
                            owner=users.get("manager"), actor=lead,
                            due_date=timezone.localdate() + timedelta(days=14))
        made += 1
    stdout.write(f"Incidents created: {made}" if made else "Incidents exist already.")
