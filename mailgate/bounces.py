"""Bouncing addresses: the mark a delivery failure sets, the hold it puts on automatic mail,
and the agent's action that clears it.

Public surface for other apps (they must not import mailgate models directly):

- `is_held(address) -> bool`: automatic mail to this address is held.
- `held_addresses(addresses) -> set[str]`: the held ones among several.
- `hold_automatic(mail)`: the `helpdesk.mail` hook step that drops held recipients from
  an automatic e-mail and records what was held (`outbound.enrich_outgoing` calls it, so
  everything built with `helpdesk.mail.build_email` is covered).
- `clear(mark, actor=...)`: an agent clears a mark (the ticket panel's action).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from email.utils import parseaddr

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.mail import OutgoingMail
from helpdesk.models import User
from tickets import services as ticket_services
from tickets.models import Ticket

from .models import BounceMark, HeldEmail, InboundMessage, OutboundEmail

logger = logging.getLogger(__name__)


def _normal(address: str) -> str:
    return parseaddr(address or "")[1].strip().lower()


def is_held(address: str) -> bool:
    """True while automatic mail to `address` is held (it bounced; no agent cleared it)."""
    address = _normal(address)
    return bool(address) and BounceMark.objects.filter(address=address,
                                                       cleared_at__isnull=True).exists()


def held_addresses(addresses: Iterable[str]) -> set[str]:
    """The addresses among `addresses` whose automatic mail is held (lower-cased)."""
    wanted = {_normal(a) for a in addresses} - {""}
    if not wanted:
        return set()
    return set(BounceMark.objects.filter(address__in=wanted, cleared_at__isnull=True)
               .values_list("address", flat=True))


def active_marks(addresses: Iterable[str]) -> list[BounceMark]:
    wanted = {_normal(a) for a in addresses} - {""}
    if not wanted:
        return []
    return list(BounceMark.objects.filter(address__in=wanted, cleared_at__isnull=True)
                .order_by("address"))


def mark(address: str, *, status: str, reason: str, ticket: Ticket | None,
         outbound: OutboundEmail | None, report: InboundMessage | None) -> BounceMark:
    """Set (or refresh) the bounce mark of an address after a permanent delivery failure."""
    address = _normal(address)
    now = timezone.now()
    user = User.objects.filter(email__iexact=address).order_by("-is_active", "pk").first()
    values = {"user": user, "status": status[:20], "reason": reason[:2000], "bounced_at": now,
              "ticket": ticket, "outbound": outbound, "report": report}
    with transaction.atomic():
        row = BounceMark.objects.select_for_update().filter(address=address).first()
        if row is None:
            try:
                with transaction.atomic():
                    return BounceMark.objects.create(address=address, **values)
            except IntegrityError:  # a concurrent report of the same address won
                row = BounceMark.objects.select_for_update().get(address=address)
        row.failures = 1 if row.cleared_at is not None else row.failures + 1
        for name, value in values.items():
            setattr(row, name, value)
        row.cleared_at, row.cleared_by = None, None
        row.save()
    logger.info("Address %s marked as bouncing (%s)", address, status)
    return row


def clear(mark: BounceMark, *, actor: User, ticket: Ticket | None = None) -> BounceMark:
    """An agent clears a mark: automatic mail to the address goes out again. Recorded as
    an internal note by the agent on `ticket` (where they cleared it from)."""
    if not actor.is_agent:
        raise PermissionDenied(_("Only agents clear a bounce mark."))
    with transaction.atomic():
        row = BounceMark.objects.select_for_update().get(pk=mark.pk)
        if row.cleared_at is not None:
            return row
        row.cleared_at, row.cleared_by = timezone.now(), actor
        row.save(update_fields=["cleared_at", "cleared_by"])
        if ticket is not None:
            held = row.held.count()
            ticket_services.add_reply(
                ticket, author=actor, public=False,
                body=f"Cleared the bounce mark on {row.address} ({row.status or 'bounced'}): "
                     f"automatic e-mail to it is sent again"
                     + (f"; {held} e-mail{'s' if held != 1 else ''} had been held." if held
                        else "."))
    logger.info("Bounce mark on %s cleared by %s", row.address, actor.pk)
    return row


def hold_automatic(mail: OutgoingMail) -> list[str]:
    """Drop held addresses from an automatic e-mail's recipients and record each hold;
    returns the addresses held. An e-mail left with no recipient is not sent at all
    (Django sends nothing to nobody)."""
    marks = {m.address: m for m in active_marks(mail.to)}
    if not marks:
        return []
    kept, held = [], []
    for recipient in mail.to:
        address = _normal(recipient)
        if address in marks:
            held.append(address)
        else:
            kept.append(recipient)
    mail.to = kept
    now = timezone.now()
    for address in held:
        HeldEmail.objects.get_or_create(key=mail.key[:100], address=address, defaults={
            "mark": marks[address], "kind": mail.kind[:20], "subject": mail.subject[:300],
            "ticket_id": mail.ticket_id, "held_at": now})
    logger.info("Automatic e-mail %s held for %s (bouncing)", mail.key, ", ".join(held))
    return held
