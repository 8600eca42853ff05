"""Following a ticket: an agent who can see it asks to hear of its replies, notes and
status changes (see `staff_notices`). Not a change to the ticket, so no audit event."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import User

from . import selectors
from .models import Ticket, TicketFollower


def is_following(ticket: Ticket, user: User) -> bool:
    return TicketFollower.objects.filter(ticket=ticket, user=user).exists()


def follow(ticket: Ticket, *, user: User) -> bool:
    """Follow `ticket`; False if `user` already did. Staff who can see it only."""
    if not (user.is_authenticated and user.is_agent
            and selectors.visible_tickets(user).filter(pk=ticket.pk).exists()):
        raise PermissionDenied(_("Only staff who can see a ticket may follow it."))
    try:
        with transaction.atomic():
            TicketFollower.objects.create(ticket=ticket, user=user, created_at=timezone.now())
    except IntegrityError:  # a double click: the unique row already says so
        return False
    return True


def unfollow(ticket: Ticket, *, user: User) -> bool:
    """Stop following; False if `user` did not follow it."""
    deleted, _ = TicketFollower.objects.filter(ticket=ticket, user=user).delete()
    return bool(deleted)
