"""The mail thread of a ticket: its mailbox, the In-Reply-To and References of the next
mail, and the subject token (used by replies and by notices alike)."""
from __future__ import annotations

from tickets.models import Channel, Ticket

from .models import InboundMessage, InboundStatus, Mailbox, OutboundEmail, OutboundStatus
from .services import ticket_token

REFERENCES_KEPT = 20  # mail clients truncate long References chains the same way


def mailbox_for(ticket: Ticket) -> Mailbox | None:
    """The mailbox the conversation came through, else the first active one."""
    inbound = (InboundMessage.objects.filter(ticket=ticket, mailbox__isnull=False)
               .select_related("mailbox").order_by("received_at", "pk").first())
    if inbound is not None:
        return inbound.mailbox
    return Mailbox.objects.filter(is_active=True).order_by("pk").first()


def thread_ids(ticket: Ticket, *, exclude_pk: int | None = None) -> tuple[str, list[str]]:
    """(In-Reply-To, References) for the next mail of the ticket: the latest customer
    mail is answered; References lists the thread oldest first, capped."""
    inbound = list(InboundMessage.objects.filter(
        ticket=ticket, status__in=[InboundStatus.TICKET_CREATED, InboundStatus.REPLY_ADDED])
        .order_by("received_at", "pk").values_list("received_at", "message_id"))
    outbound = list(OutboundEmail.objects.filter(ticket=ticket)
                    .exclude(status__in=[OutboundStatus.FAILED, OutboundStatus.SUPPRESSED])
                    .exclude(pk=exclude_pk)
                    .order_by("created_at", "pk").values_list("created_at", "message_id"))
    thread = [mid for _, mid in sorted(inbound + outbound, key=lambda r: r[0])]
    refs = thread[:1] + thread[1:][-(REFERENCES_KEPT - 1):] if thread else []
    in_reply_to = inbound[-1][1] if inbound else (thread[-1] if thread else "")
    return in_reply_to, refs


def angle(message_id: str) -> str:
    """A Message-ID as a header wants it: in angle brackets."""
    return f"<{message_id}>" if message_id else ""


def threaded_subject(subject: str, ticket_id: int) -> str:
    token = ticket_token(ticket_id)
    return subject if token in subject else f"{subject} {token}"


def is_mail_ticket(ticket: Ticket) -> bool:
    return ticket.channel == Channel.EMAIL
