"""Writes to many tickets at once: the rows and domain events of the one-ticket services,
written set-wise (an incident's public update on a thousand tickets, the queue's bulk bar).

Each function keeps the one-ticket rules (`tickets.services.add_reply`, `update_ticket`,
`transition`: the state machine decides every move, one audit event per change) and
changes only the storage: the tickets are locked in one statement, the messages and
audit events inserted in bulk, the ticket rows updated in one statement per column set,
and the domain events dispatched together after commit (`events.emit_many`), so the
apps that react can do so set-wise too.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.bulkload import update_rows
from helpdesk.models import User

from . import events
from .models import Channel, EventKind, Message, Tag, Ticket, TicketEvent
from .rules import engine as rule_engine
from .state_machine import (
    ASSIGNEE,
    PACKET,
    REASON,
    TO_TEAM,
    WAITING_STATUSES,
    Status,
    TransitionError,
    check,
)


@dataclass
class BatchReplies:
    """What `add_public_replies` wrote: the message per ticket, and why others got none."""

    messages: dict[int, Message] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)


def closed_refusal(ticket: Ticket) -> str:
    """Why a closed ticket takes no reply (add_reply's words)."""
    return (_("This ticket is closed. Please open a new request and mention %(reference)s.")
            % {"reference": ticket.reference})


def add_public_replies(ticket_ids: Iterable[int], *, author: User,
                       body: str | Callable[[str], str],
                       channel: str = Channel.WEB,
                       leave_out: Callable[[list[int]], Collection[int]] | None = None,
                       ) -> BatchReplies:
    """An agent's public reply, the same text, on many tickets: what `add_reply` writes
    for each (message, "reply" audit event, `updated_at`, the first response time if it
    had none, a PublicReply event after commit), in a fixed number of statements.

    `body` is the text, or a function giving it for a requester's language (their
    `language`, "" when they chose none): asked once per language among the tickets, the
    languages read with the tickets' lock, so a mixed chunk costs no more statements.

    A closed ticket is refused (listed in `refused` with add_reply's reason), a ticket
    that no longer exists is left out. `leave_out(locked ids)` is asked once the tickets
    are locked and returns those not to write to (e.g. already handled by another worker).
    Call inside a transaction to make it part of a larger unit (the incidents' delivery
    rows).
    """
    if not (author and author.is_agent):
        raise PermissionDenied(_("Only agents reply to many tickets at once."))
    texts: dict[str, str] = {}

    def text_for(language: str) -> str:
        if language not in texts:
            text = body(language) if callable(body) else body
            texts[language] = (text or "").strip()
            if not texts[language]:
                raise ValidationError({"body": _("The message is empty.")})
        return texts[language]

    if not callable(body):
        text_for("")
    ids = sorted(set(ticket_ids))
    result = BatchReplies()
    if not ids:
        return result
    with transaction.atomic():
        # Locked in id order, as every batch writer does, so two batches never deadlock;
        # only the tickets (the requester's language is read, its row not locked).
        tickets = list(Ticket.objects.select_for_update(of=("self",)).filter(pk__in=ids)
                       .order_by("pk").only("pk", "status", "first_response_at")
                       .annotate(reader_language=F("requester__language")))
        skip = set(leave_out([t.pk for t in tickets])) if leave_out else set()
        now = timezone.now()
        open_: list[Ticket] = []
        for ticket in tickets:
            if ticket.pk in skip:
                continue
            if ticket.status == Status.CLOSED:
                result.refused[ticket.pk] = closed_refusal(ticket)
            else:
                open_.append(ticket)
        if not open_:
            return result
        messages = Message.objects.bulk_create([
            Message(ticket_id=t.pk, author=author, is_public=True, by_agent=True,
                    body=text_for(t.reader_language if callable(body) else ""),
                    channel=channel, created_at=now) for t in open_])
        TicketEvent.objects.bulk_create([
            TicketEvent(ticket_id=m.ticket_id, actor=author, kind=EventKind.REPLY,
                        note=f"message {m.pk}", is_public=True, created_at=now)
            for m in messages])
        # One statement, so each ticket row is rewritten once (its indexes too).
        Ticket.objects.filter(pk__in=[t.pk for t in open_]).update(
            updated_at=now, first_response_at=Coalesce(F("first_response_at"), Value(now)))
        result.messages = {m.ticket_id: m for m in messages}
        events.emit_many([events.PublicReply(m.ticket_id, author.pk, now, m.pk, True)
                          for m in messages])
    return result


def add_system_notes(ticket_ids: Collection[int], *, body: str) -> dict[int, Message]:
    """`services.add_system_note` on many tickets (an automation's note): the tickets
    locked in id order, one INSERT of notes, one of audit rows, one UPDATE."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("The note is empty.")})
    now = timezone.now()
    with transaction.atomic():
        ids = list(Ticket.objects.select_for_update().filter(pk__in=sorted(set(ticket_ids)))
                   .order_by("pk").values_list("pk", flat=True))
        if not ids:
            return {}
        messages = Message.objects.bulk_create([
            Message(ticket_id=pk, author=None, is_public=False, by_agent=True, body=body,
                    channel=Channel.WEB, created_at=now) for pk in ids])
        TicketEvent.objects.bulk_create([
            TicketEvent(ticket_id=m.ticket_id, actor=None, kind=EventKind.NOTE,
                        note=f"message {m.pk}", created_at=now) for m in messages])
        Ticket.objects.filter(pk__in=ids).update(updated_at=now)
    return {m.ticket_id: m for m in messages}


def change_tags_many(ticket_ids: Collection[int], *, add: Iterable[str] = (),
                     remove: Iterable[str] = (), actor: User | None = None
                     ) -> dict[int, tuple[list[str], list[str]]]:
    """`update_ticket(changes={"tags": ...})` on many tickets (a trigger's tag action on a
    bulk change): tags added and removed where that changes the ticket's set, a "tags"
    audit row and a TagsChanged event per changed ticket; the tickets locked in id order,
    a fixed number of statements. Returns (added, removed) per changed ticket."""
    adding = {n.strip().lower()[:50] for n in add if n and n.strip()}
    removing = {n.strip().lower()[:50] for n in remove if n and n.strip()} - adding
    if not ticket_ids or not (adding or removing):
        return {}
    through = Ticket.tags.through
    with transaction.atomic():
        ids = list(Ticket.objects.select_for_update().filter(pk__in=sorted(set(ticket_ids)))
                   .order_by("pk").values_list("pk", flat=True))
        current: dict[int, set[str]] = {pk: set() for pk in ids}
        for pk, name in through.objects.filter(ticket_id__in=ids).values_list(
                "ticket_id", "tag__name"):
            current[pk].add(name)
        wanted = {pk: (names | adding) - removing for pk, names in current.items()}
        changed = [pk for pk in ids if wanted[pk] != current[pk]]
        if not changed:
            return {}
        if adding:
            Tag.objects.bulk_create([Tag(name=n) for n in sorted(adding)],
                                    ignore_conflicts=True)
            tag_ids = dict(Tag.objects.filter(name__in=adding).values_list("name", "pk"))
            through.objects.bulk_create(
                [through(ticket_id=pk, tag_id=tag_ids[n]) for pk in changed
                 for n in sorted(adding - current[pk])], ignore_conflicts=True)
        if removing:
            through.objects.filter(ticket_id__in=changed, tag__name__in=removing).delete()
        now = timezone.now()
        note = rule_engine.acting_note()
        TicketEvent.objects.bulk_create([
            TicketEvent(ticket_id=pk, actor=actor, kind=EventKind.FIELD, field="tags",
                        before=", ".join(sorted(current[pk])),
                        after=", ".join(sorted(wanted[pk])), note=note, created_at=now)
            for pk in changed])
        Ticket.objects.filter(pk__in=changed).update(updated_at=now)
        events.emit_many([events.TagsChanged(pk, _pk(actor), now, tuple(sorted(current[pk])),
                                             tuple(sorted(wanted[pk]))) for pk in changed])
    return {pk: (sorted(wanted[pk] - current[pk]), sorted(current[pk] - wanted[pk]))
            for pk in changed}


# --- the queue's bulk bar ---------------------------------------------------------------

@dataclass
class BulkResult:
    """Per ticket: changed (ids, in order) or refused (id -> why); nothing else moved."""

    changed: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    left: dict[int, str] = field(default_factory=dict)  # left alone by the caller's rule


# The ticket columns a bulk change may write (one UPDATE for all changed tickets).
_BULK_COLUMNS = ["assignee_id", "status", "status_changed_at", "updated_at", "waiting_reason",
                 "resolved_at", "closed_at", "reopen_count"]


class _Plan:
    """One ticket's share of a bulk change, built in memory and kept only if every step
    passes: its audit rows and domain events, in the order the one-ticket path writes
    them (the events name their audit row, known once the rows are inserted)."""

    def __init__(self, ticket: Ticket, actor: User | None, now: datetime) -> None:
        self.ticket = ticket
        self.actor = actor
        self.now = now
        self.rows: list[TicketEvent] = []
        self.emits: list[Callable[[], events.TicketEvent]] = []

    def record(self, **kwargs: Any) -> TicketEvent:
        row = TicketEvent(ticket_id=self.ticket.pk, actor=self.actor, created_at=self.now,
                          **kwargs)
        self.rows.append(row)
        return row

    def set_assignee(self, agent: User | None, names: Mapping[int, str]) -> None:
        """`services._set_assignee`: the audit row and Assigned + AssigneeChanged."""
        ticket = self.ticket
        before = ticket.assignee_id
        after = agent.pk if agent else None
        if before == after:
            return
        ticket.assignee_id = after
        row = self.record(kind=EventKind.FIELD, field="assignee",
                          before=names.get(before, "") if before else "",
                          after=agent.display_name if agent else "")
        actor_id, team_id, now = _pk(self.actor), ticket.team_id, self.now
        self.emits.append(lambda: events.Assigned(ticket.pk, actor_id, now, after, team_id))
        self.emits.append(lambda: events.AssigneeChanged(ticket.pk, actor_id, now, before,
                                                         after, row.pk))

    def move(self, to: str, *, reason: str, names: Mapping[int, str]) -> None:
        """`services.transition` by an agent with no assignee, packet or team given:
        checked by the state machine (a refusal raises), then what `_apply` writes."""
        ticket = self.ticket
        provided = {REASON: (reason or "").strip(), ASSIGNEE: ticket.assignee_id or None,
                    PACKET: None, TO_TEAM: None}
        step = check(ticket.status, to, provided, customer=False)
        before, target, note = ticket.status, step.target, (reason or "").strip()
        ticket.status = target.value
        ticket.status_changed_at = ticket.updated_at = self.now
        ticket.waiting_reason = note[:255] if target in WAITING_STATUSES else ""
        if target == Status.RESOLVED:
            ticket.resolved_at = self.now
        if target == Status.CLOSED:
            ticket.closed_at = self.now
        if step.name == "reopen":
            ticket.reopen_count += 1
            ticket.resolved_at = None
        if step.name == "return to queue":
            self.set_assignee(None, names)
        self.record(kind=EventKind.STATUS, field="status", before=before, after=target.value,
                    note=note, is_public=True)
        actor_id, now = _pk(self.actor), self.now
        self.emits.append(lambda: events.StatusChanged(ticket.pk, actor_id, now, before,
                                                       target.value))
        if step.name == "reopen":
            self.emits.append(lambda: events.Reopened(ticket.pk, actor_id, now))


def bulk_update(ticket_ids: Iterable[int], *, actor: User, assignee: User | None = None,
                unassign: bool = False, status: str = "", reason: str = "") -> BulkResult:
    """One change to many tickets (the queue's bulk bar): each ticket succeeds or is
    refused on its own, with the one-ticket rules (`update_ticket`'s assignment and the
    lifecycle step it implies, then `transition`), one audit event per change; written
    in a fixed number of statements, the domain events dispatched together."""
    if not (actor and actor.is_agent):
        raise PermissionDenied(_("Only agents can change tickets in bulk."))
    assigning = assignee is not None or unassign

    def apply(plan: _Plan, names: dict[int, str]) -> None:
        if assigning:
            _assign(plan, assignee, names)
        if status and status != plan.ticket.status:
            plan.move(status, reason=reason, names=names)

    return _change_many(ticket_ids, actor=actor, apply=apply,
                        names={assignee.pk: assignee.display_name} if assignee else {})


def move_many(ticket_ids: Iterable[int], to: str, *, actor: User | None, reason: str = "",
              leave_alone: Callable[[Ticket], str] | None = None) -> BulkResult:
    """`transition(ticket, to, actor=actor, reason=reason)` on many tickets (an agent, or
    the system without actor): each moves or is refused on its own. `leave_alone(ticket)`
    is asked under the row lock and returns why a ticket is to be left as it is (listed
    in `left`), or "" to move it."""
    if actor is not None and not actor.is_agent:
        raise PermissionDenied(_("Only agents or the system move tickets in bulk."))

    def apply(plan: _Plan, names: dict[int, str]) -> None:
        plan.move(to, reason=reason, names=names)

    return _change_many(ticket_ids, actor=actor, apply=apply, leave_alone=leave_alone)


def _change_many(ticket_ids: Iterable[int], *, actor: User | None,
                 apply: Callable[[_Plan, dict[int, str]], None],
                 names: Mapping[int, str] | None = None,
                 leave_alone: Callable[[Ticket], str] | None = None) -> BulkResult:
    """Lock the tickets in id order, plan each one's change in memory (a refusal keeps
    nothing of it), then write every plan's audit rows and ticket columns at once."""
    result = BulkResult()
    ids = sorted(set(ticket_ids))
    if not ids:
        return result
    with transaction.atomic():
        tickets = list(Ticket.objects.select_for_update(of=("self",)).filter(pk__in=ids)
                       .order_by("pk"))
        known = {u.pk: u.display_name for u in User.objects.filter(
            pk__in={t.assignee_id for t in tickets if t.assignee_id})}
        known.update(names or {})
        now = timezone.now()
        plans: list[_Plan] = []
        for ticket in tickets:
            why = leave_alone(ticket) if leave_alone else ""
            if why:
                result.left[ticket.pk] = why
                continue
            plan = _Plan(ticket, actor, now)
            saved = {name: getattr(ticket, name) for name in _BULK_COLUMNS}
            try:
                apply(plan, known)
            except (TransitionError, ValidationError) as exc:
                for name, value in saved.items():  # nothing of a refused ticket is kept
                    setattr(ticket, name, value)
                result.refused[ticket.pk] = _message_of(exc)
                continue
            result.changed.append(ticket.pk)
            if plan.rows:
                plans.append(plan)
        TicketEvent.objects.bulk_create([row for plan in plans for row in plan.rows])
        update_rows(Ticket, _BULK_COLUMNS, [
            (p.ticket.pk, *(getattr(p.ticket, name) for name in _BULK_COLUMNS))
            for p in plans])
        events.emit_many([make() for plan in plans for make in plan.emits])
    return result


def _pk(user: User | None) -> int | None:
    return user.pk if user else None


def _assign(plan: _Plan, agent: User | None, names: Mapping[int, str]) -> None:
    """`update_ticket(changes={"assignee": agent})` on the plan's ticket."""
    if agent is not None and not agent.is_agent:
        raise ValidationError({"assignee": _("Tickets can only be assigned to agents.")})
    ticket = plan.ticket
    if ticket.assignee_id == (agent.pk if agent else None):
        return
    plan.set_assignee(agent, names)
    ticket.updated_at = plan.now
    # Giving an untouched ticket to someone is the "assign" step of the lifecycle;
    # taking it away from an assigned one puts it back in the queue.
    if ticket.assignee_id and ticket.status in (Status.NEW, Status.TRIAGED):
        plan.move(Status.ASSIGNED, reason="", names=names)
    elif not ticket.assignee_id and ticket.status == Status.ASSIGNED:
        plan.move(Status.TRIAGED, reason="unassigned", names=names)


def _message_of(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(exc.messages)
    if isinstance(exc, TransitionError):
        return exc.translated(_)
    return str(exc)
