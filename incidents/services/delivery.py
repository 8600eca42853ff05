"""Exactly-once fan-out of a public update to every linked ticket (run by a job)."""
from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.models import User
from tickets import batch as ticket_batch
from tickets import events as ticket_events
from tickets import services as ticket_services
from tickets.models import Message, Ticket
from tickets.state_machine import TransitionError

from .. import customer_mail, messages
from ..models import (
    IncidentTicket,
    PublicUpdate,
    UpdateDelivery,
)
from ._base import CHUNK, FanOutStats, _commit_clock


def deliver_chunk(update_id: int, *, limit: int = CHUNK,
                  stats: FanOutStats | None = None) -> int:
    """Deliver the update to the next `limit` linked tickets not yet delivered, in one
    short transaction; returns how many tickets it handled (0: nothing left)."""
    update = PublicUpdate.objects.select_related("incident", "created_by").get(pk=update_id)
    ids = _pending(update, limit)
    if not ids:
        return 0
    author = update.created_by or update.incident.declared_by
    if author is None or not author.is_agent:
        # Never post as a non-agent: a customer-authored reply would reopen tickets.
        raise PermissionDenied(_("The update's author is no longer an agent; publish it again."))
    body = _reply_in_language(update)
    started = time.perf_counter()
    with transaction.atomic():
        committed = _commit_clock()
        try:
            with transaction.atomic():  # savepoint: the whole chunk, set-wise
                delivered, skipped, mine = _deliver_batch(update, ids, author=author,
                                                          body=body)
        except IntegrityError:
            # A delivery row another worker wrote that the lock did not show us: the
            # chunk again ticket by ticket, where such a conflict skips only its ticket.
            delivered, skipped, mine = _deliver_one_by_one(update, ids, author=author,
                                                           body=body)
        _mark_after_handlers(UpdateDelivery.objects.filter(update_id=update_id,
                                                           ticket_id__in=mine), "dispatched_at")
    if stats is not None:
        stats.add(started=started, committed=committed, done=delivered, skipped=skipped)
    return len(ids)


def _reply_in_language(update: PublicUpdate) -> Callable[[str], str]:
    """The reply for a requester's language (theirs, else the site's): the update's words
    as its author wrote them, the frame around them (the kind, the status page line) in
    the language the customer reads the ticket in. Built once per language."""
    texts: dict[str, str] = {}

    def body(language: str) -> str:
        language = language or settings.LANGUAGE_CODE
        if language not in texts:
            with translation.override(language):
                texts[language] = messages.as_reply(update)
        return texts[language]

    return body


def _pending(update: PublicUpdate, limit: int) -> list[int]:
    """The next `limit` linked tickets without a delivery row, in id order."""
    return list(IncidentTicket.objects.filter(incident_id=update.incident_id)
                .filter(~Exists(UpdateDelivery.objects.filter(
                    update_id=update.pk, ticket_id=OuterRef("ticket_id"))))
                .order_by("ticket_id").values_list("ticket_id", flat=True)[:limit])


def _delivered_among(update_id: int, ticket_ids: list[int]) -> set[int]:
    return set(UpdateDelivery.objects.filter(update_id=update_id, ticket_id__in=ticket_ids)
               .values_list("ticket_id", flat=True))


def _deliver_batch(update: PublicUpdate, ids: list[int], *, author: User,
                   body: Callable[[str], str]) -> tuple[int, int, list[int]]:
    """The replies and their delivery rows for the chunk in a fixed number of statements
    (tickets.batch): returns (delivered, skipped, tickets delivered by this run)."""
    result = ticket_batch.add_public_replies(
        ids, author=author, body=body,
        # Asked under the tickets' row locks: a worker that delivered one committed first.
        leave_out=lambda locked: _delivered_among(update.pk, locked))
    now = timezone.now()
    UpdateDelivery.objects.bulk_create(
        [UpdateDelivery(update=update, ticket_id=tid, message_id=msg.pk, created_at=now)
         for tid, msg in result.messages.items()]
        + [UpdateDelivery(update=update, ticket_id=tid, skipped=why[:255] or "refused",
                          created_at=now) for tid, why in result.refused.items()])
    return len(result.messages), len(result.refused), sorted(result.messages)


def _deliver_one_by_one(update: PublicUpdate, ids: list[int], *, author: User,
                        body: Callable[[str], str]) -> tuple[int, int, list[int]]:
    """The chunk through the one-ticket reply, each ticket in its own savepoint."""
    tickets = Ticket.objects.select_related("requester").in_bulk(ids)
    delivered = skipped = 0
    mine: list[int] = []
    for tid in ids:
        ticket = tickets.get(tid)
        if ticket is None:
            continue
        now = timezone.now()
        try:
            with transaction.atomic():  # savepoint: the reply and its delivery row
                msg = ticket_services.add_reply(ticket, author=author,
                                                body=body(ticket.requester.language),
                                                public=True)
                UpdateDelivery.objects.create(update=update, ticket_id=tid,
                                              message_id=msg.pk, created_at=now)
            delivered += 1
            mine.append(tid)
        except IntegrityError:
            continue  # another worker delivered it meanwhile
        except (TransitionError, ValidationError, PermissionDenied) as exc:
            with transaction.atomic():
                UpdateDelivery.objects.get_or_create(
                    update=update, ticket_id=tid,
                    defaults={"skipped": str(exc)[:255] or "refused", "created_at": now})
            skipped += 1
    return delivered, skipped, mine


def _mark_after_handlers(rows: QuerySet, column: str) -> None:
    """After commit, once the ticket events of the chunk were handled, stamp `column`.

    Registered after every event of the chunk, so it runs after their handlers (Django
    runs on-commit callbacks in order).
    """
    def mark() -> None:
        rows.filter(**{f"{column}__isnull": True}).update(**{column: timezone.now()})

    transaction.on_commit(mark)


def _replay_replies(update_id: int, *, batch: int = CHUNK) -> int:
    """Hand the replies a killed worker committed, but never handed to the ticket-event
    handlers, to them now (their e-mails were never queued); returns how many."""
    replayed = 0
    while rows := list(UpdateDelivery.objects.filter(
            update_id=update_id, dispatched_at__isnull=True, message_id__isnull=False)
            .order_by("ticket_id").values_list("pk", "message_id")[:batch]):
        ticket_events.dispatch_many([
            ticket_events.PublicReply(msg.ticket_id, msg.author_id, msg.created_at, msg.pk,
                                      msg.by_agent)
            for msg in Message.objects.filter(pk__in=[m for _, m in rows]).order_by("pk")])
        UpdateDelivery.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            dispatched_at=timezone.now())
        replayed += len(rows)
    return replayed


def fan_out(update_id: int, *, chunk: int = CHUNK) -> FanOutStats:
    """Deliver an update to every linked ticket, chunk by chunk; resumes where it stopped."""
    stats = FanOutStats()
    _replay_replies(update_id, batch=chunk)
    while deliver_chunk(update_id, limit=chunk, stats=stats) == chunk:
        pass
    # Customers get the update once each, listing their tickets (never one per ticket).
    customer_mail.queue_customer_digest(update_id)
    PublicUpdate.objects.filter(pk=update_id, fanout_completed_at__isnull=True).update(
        fanout_completed_at=timezone.now())
    return stats
