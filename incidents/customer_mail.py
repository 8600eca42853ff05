"""Customers hear of an incident once per public update: one e-mail each, listing all of
their linked tickets (through mailgate's notices), instead of one e-mail per ticket."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from helpdesk.models import User
from mailgate import notices
from tickets.models import Ticket

from .models import Incident, IncidentTicket, PublicUpdate, UpdateDelivery

CASCADE_STAMP_WITHIN = dt.timedelta(minutes=1)


def cascade_reason(incident: Incident) -> str:
    """The reason on the status event of each ticket the resolution cascade moved."""
    return f"{incident.reference} resolved"


def told_by_incident(notice: str, ticket_id: int, message_id: int | None,
                     at: dt.datetime) -> bool:
    """mailgate suppressor: the per-ticket reply of an update, and the status change of
    the resolution cascade, reach the customer in the incident's own e-mail instead."""
    if notice == "customer.reply":
        return message_id is not None and \
            UpdateDelivery.objects.filter(message_id=message_id).exists()
    if notice in ("customer.resolved", "customer.waiting"):
        # The cascade stamps the link right after moving the ticket, in one transaction.
        return IncidentTicket.objects.filter(
            ticket_id=ticket_id, cascade_outcome=IncidentTicket.Outcome.MOVED,
            cascaded_at__gte=at, cascaded_at__lte=at + CASCADE_STAMP_WITHIN).exists()
    return False


def told_by_incident_many(notice: str,
                          items: Sequence[tuple[int, int | None, dt.datetime]]) -> set[int]:
    """`told_by_incident` for many notices: the replies of an update in one query."""
    if notice in ("customer.resolved", "customer.waiting"):
        stamps: dict[int, list[dt.datetime]] = defaultdict(list)
        for ticket_id, at in IncidentTicket.objects.filter(
                ticket_id__in={t for t, _, _ in items},
                cascade_outcome=IncidentTicket.Outcome.MOVED,
                cascaded_at__gte=min(at for _, _, at in items)).values_list(
                "ticket_id", "cascaded_at"):
            stamps[ticket_id].append(at)
        return {i for i, (t, _, at) in enumerate(items)
                if any(at <= stamp <= at + CASCADE_STAMP_WITHIN for stamp in stamps[t])}
    if notice != "customer.reply":
        return {i for i, item in enumerate(items) if told_by_incident(notice, *item)}
    told = set(UpdateDelivery.objects.filter(
        message_id__in=[m for _, m, _ in items if m is not None])
        .values_list("message_id", flat=True))
    return {i for i, (_, m, _) in enumerate(items) if m in told}


def queue_customer_digest(update_id: int) -> int:
    """After the fan-out: one e-mail per customer of the tickets the update reached
    (requesters and CCs). Safe to run again: each (update, person) is written once."""
    update = PublicUpdate.objects.select_related("incident").get(pk=update_id)
    incident = update.incident
    reached = UpdateDelivery.objects.filter(update_id=update_id, message_id__isnull=False)
    tickets = (Ticket.objects.filter(pk__in=reached.values("ticket_id"))
               .select_related("requester").prefetch_related("ccs").only(
                   "pk", "requester__id", "requester__email", "requester__is_active",
                   "requester__first_name", "requester__last_name",
                   "requester__username", "requester__time_zone", "requester__language"))
    tickets = list(tickets)
    staff = notices.staff_ids({t.requester_id for t in tickets}
                              | {p.pk for t in tickets for p in t.ccs.all()})
    tickets_of: dict[User, list[int]] = defaultdict(list)
    for ticket in tickets:
        for person in notices.customers_of(ticket, staff=staff):
            tickets_of[person].append(ticket.pk)
    if not tickets_of:
        return 0
    path = (reverse("status:incident", args=[incident.pk]) if incident.is_public
            else reverse("status:page"))
    rows = notices.queue_incident_update(
        update_id, tickets_of=dict(tickets_of), title=incident.title,
        text=_update_text_in_language(update),
        status_url=f"{settings.HELPDESK_BASE_URL}{path}")
    return len(rows)


def _update_text_in_language(update: PublicUpdate) -> Callable[[User], str]:
    """The update as the e-mail quotes it, its kind ("Resolution: ...") in the language of
    the person it goes to (kept in the queued row, rendered later): once per language."""
    texts: dict[str, str] = {}

    def text(person: User) -> str:
        language = person.language or settings.LANGUAGE_CODE
        if language not in texts:
            with translation.override(language):
                texts[language] = f"{update.get_kind_display()}: {update.body}"
        return texts[language]

    return text
