"""Email channel, outbound: agents' replies mailed once and threaded, retries, and the
`helpdesk.mail` hook that threads notifications and surveys and holds automatic mail to
bouncing addresses."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Sequence
from email.utils import formataddr, make_msgid, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.mail import OutgoingMail, mail_domain
from helpdesk.models import User
from tickets.models import Message, Ticket

from . import bounces, notices, parsing, send_queue
from .models import OutboundEmail, OutboundStatus
from .services import ticket_token, token_prefix
from .threads import (  # noqa: F401 - part of this module's interface
    angle,
    is_mail_ticket,
    mailbox_for,
    thread_ids,
    threaded_subject,
)

logger = logging.getLogger(__name__)

MAX_SEND_ATTEMPTS = 5


# --- outbound replies -----------------------------------------------------------------

def queue_reply(message_id: int) -> OutboundEmail | None:
    """Queue the e-mail of an agent's public reply, once (unique key per message).

    Every channel: the requester and CCs get it by e-mail (unless they turned e-mail off
    entirely, or they wrote it). Internal notes are never sent; a reply that another app
    tells in its own way (an incident update, in its per-customer digest) is left out.
    This runs in the agent's request: it only writes the row; who gets it and the thread
    headers are worked out when it is sent (`prepare_reply`).
    """
    message = (Message.objects.select_related("ticket")
               .filter(pk=message_id).first())
    if message is None or not message.is_public or not message.by_agent:
        return None
    ticket = message.ticket
    if not notices.enabled() or notices.suppressed("customer.reply", ticket.pk, message.pk,
                                                   message.created_at):
        return None
    mailbox = mailbox_for(ticket)
    domain = mailbox.address.rsplit("@", 1)[-1] if mailbox else mail_domain()
    with transaction.atomic():
        row, created = OutboundEmail.objects.get_or_create(
            key=f"reply:{message.pk}",
            defaults={
                "kind": "reply", "notice": "customer.reply", "ticket": ticket,
                "ticket_message": message, "mailbox": mailbox,
                "message_id": parsing.normalise_msgid(make_msgid("hd", domain=domain)),
                "to": "", "subject": f"Re: {ticket.subject}"[:300],
            },
        )
    # A row still waiting for its first attempt is queued again: the process that wrote it
    # may have died before queueing it (a replayed event). Sending is once (row lock).
    if created or (row.status == OutboundStatus.QUEUED and row.attempts == 0):
        _enqueue(row.pk)
    return row


def queue_replies(message_ids: Sequence[int]) -> None:
    """`queue_reply` for replies written together (an incident update on many tickets):
    the suppressors are asked once for all of them, and only the replies they let
    through go `queue_reply`'s way (an incident's are told in its digest: none)."""
    if not notices.enabled() or not message_ids:
        return
    rows = list(Message.objects.filter(pk__in=message_ids, is_public=True, by_agent=True)
                .order_by("pk").values_list("pk", "ticket_id", "created_at"))
    told = notices.suppressed_many("customer.reply",
                                   [(ticket_id, pk, at) for pk, ticket_id, at in rows])
    for i, (pk, _ticket_id, _at) in enumerate(rows):
        if i not in told:
            queue_reply(pk)


def prepare_reply(row: OutboundEmail) -> bool:
    """At the first attempt: the recipients and thread headers of a queued reply (kept
    for the retries); False when nobody is to get it."""
    if row.attempts > 1 or row.to:
        return bool(row.recipients)
    message = row.ticket_message
    if message is None:
        return False
    row.to = ", ".join(notices.reply_recipients(message))
    in_reply_to, refs = thread_ids(row.ticket, exclude_pk=row.pk)
    row.in_reply_to, row.references = in_reply_to, " ".join(refs)
    row.save(update_fields=["to", "in_reply_to", "references"])
    return bool(row.to)


def _enqueue(outbound_id: int) -> None:
    send_queue.enqueue(outbound_id)


def backoff_seconds(attempts: int) -> int:
    """1, 2, 4, 8 … minutes between attempts, at most an hour."""
    return min(60 * 2 ** max(attempts - 1, 0), 3600)


def _reply_email(row: OutboundEmail) -> EmailMultiAlternatives:
    """An agent's reply, its footer in the requester's language."""
    requester = row.ticket.requester if row.ticket_id else None
    with translation.override(getattr(requester, "language", "") or settings.LANGUAGE_CODE):
        return _reply_email_in_language(row)


def _reply_email_in_language(row: OutboundEmail) -> EmailMultiAlternatives:
    message = row.ticket_message
    ticket = row.ticket
    mailbox = row.mailbox
    address = mailbox.address if mailbox else settings.DEFAULT_FROM_EMAIL
    agent_name = message.author.display_name if message and message.author else _("Support")
    context = {"ticket": ticket, "message": message, "agent_name": agent_name,
               "token": ticket_token(ticket.pk),
               "portal_url": f"{settings.HELPDESK_BASE_URL}"
                             f"{reverse('portal:ticket', args=[ticket.pk])}"}
    headers = {"Message-ID": angle(row.message_id),
               "X-Auto-Response-Suppress": "OOF, AutoReply",
               f"X-{token_prefix()}-Ticket": str(ticket.pk)}
    if row.in_reply_to:
        headers["In-Reply-To"] = angle(row.in_reply_to)
    if row.references:
        headers["References"] = " ".join(angle(r) for r in row.references.split())
    email = EmailMultiAlternatives(
        row.subject, render_to_string("mailgate/email/reply.txt", context),
        formataddr((_("%(agent)s via %(team)s") % {
            "agent": agent_name, "team": mailbox.name if mailbox else _("Support")},
            parseaddr(address)[1])),
        row.recipients, headers=headers, reply_to=[address],
    )
    email.attach_alternative(render_to_string("mailgate/email/reply.html", context),
                             "text/html")
    return email


def send_outbound(outbound_id: int) -> str:
    """Send one queued e-mail at most once: "sent", "skipped", "retry" or "failed".

    The row is locked while the mail is handed over and marked sent in the same
    transaction, so a task run twice (or by two workers) sends it once.
    """
    with transaction.atomic():
        row = (OutboundEmail.objects.select_for_update()
               .filter(pk=outbound_id, status=OutboundStatus.QUEUED).first())
        if row is None:
            return "skipped"
        row = (OutboundEmail.objects.select_related("ticket", "ticket_message__author", "mailbox")
               .get(pk=row.pk))
        row.attempts += 1
        row.last_attempt_at = timezone.now()
        if row.kind == "reply" and row.notice and not prepare_reply(row):
            row.status = OutboundStatus.SUPPRESSED  # nobody wants it (preferences)
            row.save(update_fields=["status", "attempts", "last_attempt_at"])
            return "skipped"
        try:
            if row.notice:
                email = notices.notice_email(row)
                row.save(update_fields=["subject", "in_reply_to", "references"])
            else:  # rows queued before notices existed
                email = _reply_email(row)
            email.send()
        except Exception as exc:  # SMTP refused, network down, bad address…
            logger.warning("Outbound e-mail %s failed (attempt %s): %s", row.key,
                           row.attempts, exc)
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if row.attempts >= MAX_SEND_ATTEMPTS:
                row.status = OutboundStatus.FAILED
            row.save(update_fields=["attempts", "last_error", "status", "last_attempt_at"])
            return "failed" if row.status == OutboundStatus.FAILED else "retry"
        row.status = OutboundStatus.SENT
        row.sent_at = timezone.now()
        row.last_error = ""
        row.save(update_fields=["attempts", "last_error", "status", "sent_at",
                                "last_attempt_at"])
    return "sent"


# A queued send that has not happened this long after it was due was lost with the broker
# (Redis restarted without its data, or down when the task was queued).
STALL_GRACE = dt.timedelta(minutes=5)


def requeue_stalled(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Queue again the e-mails still waiting whose task was lost: never tried five minutes
    after they were written, or not tried again five minutes after their backoff ended.
    Sending is once (row lock + status), so a task that was only late sends nothing twice.
    """
    now = now or timezone.now()
    due = []
    for row in (OutboundEmail.objects.filter(status=OutboundStatus.QUEUED)
                .only("pk", "attempts", "created_at", "last_attempt_at")
                .order_by("created_at")[:limit]):
        if row.attempts == 0 or row.last_attempt_at is None:
            stalled = row.created_at + STALL_GRACE < now
        else:
            retry_at = row.last_attempt_at + dt.timedelta(seconds=backoff_seconds(row.attempts))
            stalled = retry_at + STALL_GRACE < now
        if stalled:
            due.append(row.pk)
    for pk in due:
        send_queue.enqueue_now(pk)
    if due:
        logger.warning("Queued %s stalled outbound e-mail(s) again", len(due))
    return len(due)


def retry_outbound(row: OutboundEmail, *, actor: User) -> OutboundEmail:
    """An agent asks to send a failed e-mail again (same Message-ID, so still one mail)."""
    with transaction.atomic():
        row = OutboundEmail.objects.select_for_update().get(pk=row.pk)
        if row.status != OutboundStatus.FAILED:
            return row
        row.status = OutboundStatus.QUEUED
        row.attempts = 0
        row.save(update_fields=["status", "attempts"])
        logger.info("Outbound e-mail %s queued again by %s", row.key, actor.pk)
        _enqueue(row.pk)
    return row


# --- notifications and surveys: threading headers for helpdesk.mail ------------------

def enrich_outgoing(mail: OutgoingMail) -> None:
    """helpdesk.mail hook for every automatic e-mail (notifications, surveys...): the
    RFC 3834 auto header, the HTML part from our templates, no recipient whose mail bounces
    (held and recorded), for a mail ticket the thread headers and token, and its
    Message-ID remembered so that a reply or a bounce finds what it answers."""
    mail.headers.setdefault("Auto-Submitted", "auto-generated")
    bounces.hold_automatic(mail)
    if not mail.html:
        with contextlib.suppress(TemplateDoesNotExist):  # kinds without a template
            mail.html = render_to_string(f"mailgate/email/{mail.kind}.html",
                                         {"mail": mail, "base_url": settings.HELPDESK_BASE_URL,
                                          **mail.context})
    ticket = Ticket.objects.filter(pk=mail.ticket_id).first() if mail.ticket_id else None
    mailbox, in_reply_to, refs = None, "", []
    # Surveys thread on every ticket (customers get its other mail by e-mail too); staff
    # notifications stay unthreaded, so an agent's answer to one never posts a reply.
    if ticket is not None and (is_mail_ticket(ticket) or mail.kind == "survey"):
        mailbox = mailbox_for(ticket)
        in_reply_to, refs = thread_ids(ticket)
        if in_reply_to:
            mail.headers["In-Reply-To"] = angle(in_reply_to)
        if refs:
            mail.headers["References"] = " ".join(angle(r) for r in refs)
        mail.subject = threaded_subject(mail.subject, ticket.pk)
        if mailbox is not None:
            mail.reply_to = [mailbox.address]
    if not mail.to:
        return  # every recipient held: nothing goes out
    OutboundEmail.objects.get_or_create(key=mail.key[:100], defaults={
        "kind": mail.kind[:20], "ticket": ticket, "mailbox": mailbox,
        "message_id": parsing.normalise_msgid(mail.headers["Message-ID"]),
        "to": ", ".join(mail.to), "subject": mail.subject[:300],
        "status": OutboundStatus.EXTERNAL, "in_reply_to": in_reply_to,
        "references": " ".join(refs),
    })
