"""Tickets linked to an incident, and the suggested links."""
from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import User
from tickets.models import Ticket

from .. import matching
from ..models import (
    EntryKind,
    Incident,
    IncidentTicket,
    LinkSuggestion,
    Status,
)
from ..permissions import can_declare
from ._base import CHUNK, _check, _entry


def link_tickets(incident: Incident, tickets: Iterable[Ticket], *, actor: User) -> int:
    """Link tickets (already linked ones are left as they are); returns how many are new."""
    _check(can_declare(actor), _("You cannot link tickets to incidents."))
    if not incident.is_open:
        raise ValidationError(_("This incident is resolved; declare a new one."))
    tickets = list(tickets)
    now = timezone.now()
    with transaction.atomic():
        already = set(IncidentTicket.objects.filter(
            incident=incident, ticket__in=[t.pk for t in tickets]).values_list("ticket_id",
                                                                               flat=True))
        new = [t for t in tickets if t.pk not in already]
        IncidentTicket.objects.bulk_create(
            [IncidentTicket(incident=incident, ticket=t, linked_by=actor, linked_at=now)
             for t in new], ignore_conflicts=True, batch_size=CHUNK)
        if new:
            refs = ", ".join(t.reference for t in new[:20])
            more = f" and {len(new) - 20} more" if len(new) > 20 else ""
            _entry(incident, EntryKind.LINK, f"Linked {refs}{more}.", actor=actor, at=now)
            LinkSuggestion.objects.filter(incident=incident,
                                          ticket__in=[t.pk for t in new]).delete()
    return len(new)


def unlink_ticket(incident: Incident, ticket: Ticket, *, actor: User) -> bool:
    _check(can_declare(actor), _("You cannot unlink tickets."))
    with transaction.atomic():
        deleted, _rows = IncidentTicket.objects.filter(incident=incident, ticket=ticket).delete()
        if deleted:
            _entry(incident, EntryKind.LINK, f"Unlinked {ticket.reference}.", actor=actor)
    return bool(deleted)


def suggest_links(ticket_id: int) -> list[LinkSuggestion]:
    """A new ticket mentioning an open incident's keywords is suggested for linking."""
    open_incidents = list(Incident.objects.exclude(status=Status.RESOLVED)
                          .exclude(keywords="").only("pk", "keywords")[:200])
    if not open_incidents:
        return []
    ticket = Ticket.objects.filter(pk=ticket_id).only("subject", "description").first()
    if ticket is None:
        return []
    text = f"{ticket.subject}\n{ticket.description}"
    made = []
    now = timezone.now()
    for incident in open_incidents:
        found = matching.matches(matching.parse_keywords(incident.keywords), text)
        if not found:
            continue
        if IncidentTicket.objects.filter(incident=incident, ticket_id=ticket_id).exists():
            continue
        row, created = LinkSuggestion.objects.get_or_create(
            incident=incident, ticket_id=ticket_id,
            defaults={"matched": ", ".join(found)[:255], "created_at": now})
        if created:
            made.append(row)
    return made


def accept_suggestion(suggestion: LinkSuggestion, *, actor: User) -> int:
    return link_tickets(suggestion.incident, [suggestion.ticket], actor=actor)


def dismiss_suggestion(suggestion: LinkSuggestion, *, actor: User) -> None:
    _check(can_declare(actor), _("You cannot change suggestions."))
    LinkSuggestion.objects.filter(pk=suggestion.pk).update(dismissed=True)
