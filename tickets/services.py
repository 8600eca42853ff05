"""Every write to a ticket: validated, inside a transaction, audited, then announced.

Views, the API, admin actions, Celery tasks and management commands all call these.
"""
from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from helpdesk.models import Organization, Team, User

from . import assignment, batch, events, field_definitions, routing
from . import custom_fields as cf
from .attachments import guess_content_type, safe_filename, validate_uploads
from .batch import BulkResult
from .field_rules import (
    CUSTOMER_CHANNELS,
    StaffOnlyField,
    refuse_staff_fields,
    refuse_staff_inputs,
)
from .models import (
    Attachment,
    Category,
    Channel,
    Escalation,
    EventKind,
    Macro,
    Message,
    Priority,
    ProductArea,
    Tag,
    Ticket,
    TicketEvent,
)
from .rules import engine as rule_engine
from .state_machine import (
    ASSIGNEE,
    PACKET,
    REASON,
    TO_TEAM,
    WAITING_STATUSES,
    Status,
    Transition,
    TransitionError,
    check,
    check_merge,
)

__all__ = [
    "TransitionError", "HandoffPacket", "StaffOnlyField", "refuse_staff_inputs",
    "create_ticket", "transition", "add_reply", "update_ticket", "assign", "escalate",
    "return_escalation", "merge", "apply_macro", "add_system_note", "bulk_update",
    "close_stale_resolved", "set_custom_fields",
]

@dataclass(frozen=True)
class HandoffPacket:
    """What the next tier needs so it never rebuilds the case."""

    issue_summary: str
    troubleshooting_done: str
    reason: str
    customer_expectation: str
    next_steps: str

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> HandoffPacket | None:
        if not data:
            return None
        values = {f: str(data.get(f) or "").strip() for f in Escalation.PACKET_FIELDS}
        missing = [f for f, v in values.items() if not v]
        if missing:
            raise TransitionError(
                "The handoff packet is incomplete: "
                + ", ".join(f.replace("_", " ") for f in missing) + ".",
                missing=[f"packet.{m}" for m in missing],
            )
        return cls(**values)


def _record(ticket: Ticket, kind: str, *, actor: User | None, field: str = "",
            before: Any = "", after: Any = "", note: str = "", public: bool = False,
            at=None) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket, actor=actor, kind=kind, field=field,
        before="" if before is None else str(before), after="" if after is None else str(after),
        note=note or rule_engine.acting_note(), is_public=public,
        created_at=at or timezone.now(),
    )


def _event(ticket: Ticket, kind: str, *, actor: User | None, field: str = "",
           before: Any = "", after: Any = "", note: str = "", public: bool = False,
           at: datetime) -> TicketEvent:
    """An audit row not written yet (for bulk_create)."""
    return TicketEvent(
        ticket=ticket, actor=actor, kind=kind, field=field,
        before="" if before is None else str(before), after="" if after is None else str(after),
        note=note or rule_engine.acting_note(), is_public=public, created_at=at,
    )


def _actor_id(actor: User | None) -> int | None:
    return actor.pk if actor else None


def _is_agent(user: User | None) -> bool:
    return bool(user and user.is_agent)


def _lock(ticket: Ticket) -> Ticket:
    """Re-read the ticket under a row lock so concurrent writers serialise."""
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _lock_and_touch(ticket: Ticket, *, now: datetime, first_response: bool) -> Ticket:
    """Lock the ticket's row for a new message and stamp its update time (and, for an
    agent's public reply, the first response if none yet).

    On PostgreSQL one statement: UPDATE ... RETURNING takes the same row lock as SELECT ...
    FOR UPDATE and returns the status checked under it (the caller's copy gets the new
    values; a later transition re-reads the row anyway). Elsewhere: read, then save.
    """
    if connection.vendor != "postgresql":
        ticket = _lock(ticket)
        ticket.updated_at = now
        if first_response and ticket.first_response_at is None:
            ticket.first_response_at = now
        ticket.save(update_fields=["updated_at", "first_response_at"])
        return ticket
    quote = connection.ops.quote_name
    first = quote("first_response_at")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(Ticket._meta.db_table)} SET {quote('updated_at')} = %s, "  # noqa: S608
            f"{first} = CASE WHEN {first} IS NULL AND %s THEN %s ELSE {first} END "
            f"WHERE {quote('id')} = %s RETURNING {quote('status')}, {first}",
            [now, first_response, now, ticket.pk])
        row = cursor.fetchone()
    if row is None:
        raise Ticket.DoesNotExist(f"No ticket {ticket.pk}.")
    ticket.status, ticket.first_response_at = row
    ticket.updated_at = now
    return ticket


def _store_attachments(message: Message, files: Sequence[UploadedFile], *,
                       sender_only: bool = False) -> list[Attachment]:
    stored = []
    for f in files:
        name = safe_filename(f.name)
        att = Attachment(
            message=message, filename=name, size=f.size,
            content_type=guess_content_type(name), sender_only=sender_only,
        )
        att.file.save(name, f, save=False)
        att.save()
        stored.append(att)
    return stored


# --- creation -------------------------------------------------------------------------

def create_ticket(
    *,
    requester: User,
    subject: str,
    description: str,
    channel: str = Channel.WEB,
    priority: int | None = None,
    category: Category | None = None,
    product_area: ProductArea | None = None,
    organization: Organization | None = None,
    tags: Iterable[str] = (),
    actor: User | None = None,
    attachments: Sequence[UploadedFile] = (),
    max_attachments: int | None = None,
    sender_only_attachments: Sequence[UploadedFile] = (),
    custom_fields: Mapping[str, Any] | None = None,
) -> Ticket:
    """Open a ticket, apply the creation triggers, route to a team and assign per its strategy.

    `sender_only_attachments` are records the system itself attaches (the original
    e-mail): not uploads, so not held to the upload limits, and shown to staff and the
    requester only. `max_attachments` raises the per-message count for a channel that
    cannot ask the sender to split (e-mail).

    `actor` is who files it: an agent may file for any requester, with a priority, tags
    and any channel; a customer files for themselves through a self-service channel, and
    the triggers decide the rest. Without an actor the system files (e-mail intake with
    its mailbox's defaults) and the requester is recorded as its author.

    `custom_fields` ({key: value}) are checked against the definitions (a customer may
    give only the fields they may edit, and must give those the portal requires for the
    category) and stored with the ticket's INSERT: no extra write, and intake rules see
    them.
    """
    tags = [t for t in tags if t and str(t).strip()]
    if actor is not None:
        refuse_staff_fields(actor, {
            "priority": priority is not None, "tags": bool(tags),
            "requester": requester.pk != actor.pk,
            "organization": organization is not None
            and organization.pk != actor.organization_id,
            "channel": channel not in CUSTOMER_CHANNELS,
        })
    subject = (subject or "").strip()
    description = (description or "").strip()
    if not subject:
        raise ValidationError({"subject": _("A subject is required.")})
    if not description:
        raise ValidationError({"description": _("Please describe the problem.")})
    if channel not in Channel.values:
        raise ValidationError({"channel": _("Unknown channel %(channel)s.")
                                          % {"channel": repr(channel)}})
    if priority is not None and priority not in Priority.values:
        raise ValidationError({"priority": _("Priority must be 1 (P1) to 5 (P5).")})
    validate_uploads(attachments, max_count=max_attachments)
    values = _new_custom_values(custom_fields, actor=actor, category=category,
                                product_area=product_area)
    actor = actor or requester
    now = timezone.now()
    with events.atomic():
        # Routed and assigned in memory, then written in one INSERT with its audit rows
        # in one more: a new ticket is invisible to everyone else until commit, so it
        # needs no lock and no re-read.
        ticket = Ticket(
            subject=subject[:255], description=description, requester=requester,
            organization=organization or requester.organization, channel=channel,
            priority=priority or Priority.P3, category=category, product_area=product_area,
            created_at=now, updated_at=now, status_changed_at=now, custom_fields=values,
        )
        audit = [_event(ticket, EventKind.CREATED, actor=actor, after=ticket.subject,
                        public=True, at=now)]
        # Triggers on "created", before the insert: their priority and team are what
        # the SLA clocks are targeted with; what needs the row waits for it.
        pending = rule_engine.on_create(
            ticket, tags=tags,
            record=lambda t, kind, **kw: audit.append(_event(t, kind, **kw, at=now)),
            now=now)
        if ticket.team_id is None:
            ticket.team = routing.default_team()
        assigned = None
        if ticket.team and ticket.assignee_id is None:
            agent = assignment.pick_assignee(ticket, ticket.team)
            if agent is not None:
                # Kept in the audit trail: the English label, whoever's language this is.
                with translation.override(None):
                    reason = str(ticket.team.get_assignment_strategy_display())
                step = check(Status.NEW, Status.ASSIGNED, {REASON: reason, ASSIGNEE: agent,
                                                           PACKET: None, TO_TEAM: None})
                ticket.assignee = agent
                ticket.status = step.target.value
                audit.append(_event(ticket, EventKind.FIELD, actor=None, field="assignee",
                                    after=agent.display_name, at=now))
                audit.append(_event(ticket, EventKind.STATUS, actor=None, field="status",
                                    before=Status.NEW.value, after=step.target.value,
                                    note=reason, public=True, at=now))
                assigned = agent
        # Apps above fill their denormalised columns (the SLA due time) in this INSERT.
        events.before_insert(ticket, now)
        ticket.save(force_insert=True)
        for row in audit:
            row.ticket = ticket
        TicketEvent.objects.bulk_create(audit)
        if attachments or sender_only_attachments:
            # A message of the requester's, read in the portal and quoted in their e-mail:
            # written in their language (the agents see the files, not the sentence).
            with translation.override(requester.language or settings.LANGUAGE_CODE):
                opening = (_("Attachments sent with the request.") if attachments
                           else _("The original message."))
            first = Message.objects.create(
                ticket=ticket, author=requester, is_public=True, by_agent=_is_agent(requester),
                body=opening, channel=channel, created_at=now,
            )
            _store_attachments(first, attachments)
            _store_attachments(first, sender_only_attachments, sender_only=True)
        if pending.add_tags or pending.remove_tags:
            removed = set(pending.remove_tags)
            tags = [t for t in [*tags, *pending.add_tags] if t.strip().lower() not in removed]
        # The new ticket's tags, in hand: whoever shows it need not ask.
        _prefetched_tags(ticket, _add_tags(ticket, tags, new_ticket=True) if tags else [])
        if assigned is not None:
            # The same events, in the same order, as transition() to "assigned" sends.
            events.emit(events.Assigned(ticket.pk, None, now, assigned.pk, ticket.team_id))
            events.emit(events.AssigneeChanged(ticket.pk, None, now, None, assigned.pk,
                                               audit[-2].pk))
            events.emit(events.StatusChanged(ticket.pk, None, now, Status.NEW.value,
                                             ticket.status))
        if pending.fires:
            rule_engine.record_fires(ticket, pending.fires, now=now)
        if pending.later:
            rule_engine.run_later(ticket, pending, now=now)
        else:
            # Nothing changed the row since its INSERT: the SLA reaction may start the
            # clocks from this object instead of reading it again (events.new_ticket).
            events.keep_new_ticket(ticket)
        events.emit(events.TicketCreated(ticket.pk, _actor_id(actor), now))
    return ticket


def _new_custom_values(raw: Mapping[str, Any] | None, *, actor: User | None,
                       category: Category | None, product_area: ProductArea | None
                       ) -> dict[str, Any]:
    """The custom field values of a new ticket, checked; {} without a query when none."""
    customer = actor is not None and not _is_agent(actor)
    category_id, area_id = _pk(category), _pk(product_area)
    values = cf.merge_values({}, field_definitions.clean_values(
        raw, customer=customer, category_id=category_id, product_area_id=area_id)) \
        if raw else {}
    if customer:
        missing = field_definitions.missing_required(values, category_id, area_id)
        if missing:
            raise ValidationError({f"custom_fields.{a.field.key}": _("This field is required.")
                                   for a in missing})
    return values


def _add_tags(ticket: Ticket, names: Iterable[str], *, new_ticket: bool = False) -> list[Tag]:
    """Add the tags (created when new) the ticket lacks; returns the ones added."""
    wanted = {n.strip().lower() for n in names if n and n.strip()}
    if not wanted:
        return []
    existing = set() if new_ticket else set(ticket.tags.values_list("name", flat=True))
    added = [Tag.objects.get_or_create(name=name[:50])[0]
             for name in sorted(wanted - existing)]
    if added:
        ticket.tags.add(*added)  # one INSERT
    return added


def _prefetched_tags(ticket: Ticket, tags: list[Tag]) -> None:
    """Hold a new ticket's tags as if prefetched (Tag's order: by name)."""
    held = Tag.objects.none() if not tags else Tag.objects.filter(
        pk__in=[t.pk for t in tags])
    if tags:
        held._result_cache = sorted(tags, key=lambda t: t.name)
        held._prefetch_done = True
    ticket._prefetched_objects_cache = {"tags": held}


def _prefetched_attachments(message: Message, stored: list[Attachment]) -> None:
    """Hold a new message's attachments as if prefetched: whoever shows it (the agent
    page's htmx answer) need not ask for what this write just stored."""
    held = Attachment.objects.none() if not stored else Attachment.objects.filter(
        pk__in=[a.pk for a in stored])
    if stored:
        held._result_cache = list(stored)
        held._prefetch_done = True
    message._prefetched_objects_cache = {"attachments": held}


# --- status ---------------------------------------------------------------------------

def transition(
    ticket: Ticket,
    to: str,
    *,
    actor: User | None,
    reason: str = "",
    assignee: User | None = None,
    packet: Mapping[str, Any] | None = None,
    to_team: Team | None = None,
) -> Ticket:
    """Move a ticket through the state machine; a refused move raises and changes nothing.

    Customers may only make the moves the state machine marks as theirs, on tickets they
    may act on, and never choose an assignee, a team or a handoff packet.
    """
    customer = actor is not None and not _is_agent(actor)
    refuse_staff_fields(actor, {"assignee": assignee is not None,
                                 "to_team": to_team is not None, "packet": bool(packet)})
    with events.atomic():
        ticket = _lock(ticket)
        provided = {
            REASON: (reason or "").strip(),
            ASSIGNEE: assignee or ticket.assignee,
            PACKET: packet,
            TO_TEAM: to_team,
        }
        step = check(ticket.status, to, provided, customer=customer)
        if customer and ticket.requester_id != actor.pk and not _customer_can_act(ticket, actor):
            raise PermissionDenied(_("Only the requester can change this ticket."))
        handoff = HandoffPacket.from_mapping(packet) if PACKET in step.requires else None
        if assignee is not None and not assignee.is_agent:
            raise TransitionError(_("Tickets can only be assigned to agents."))
        now = timezone.now()
        if handoff is not None:
            _write_escalation(ticket, handoff, actor=actor, to_team=to_team, now=now,
                              engineering=step.target == Status.ENGINEERING)
        if assignee is not None and assignee.pk != ticket.assignee_id:
            _set_assignee(ticket, assignee, actor=actor)
        _apply(ticket, step, actor=actor, note=reason.strip(), now=now)
    return ticket


def _apply(ticket: Ticket, step: Transition, *, actor: User | None, note: str,
           now: datetime) -> None:
    """Write a checked transition: the status and its timestamps, the audit event and the
    domain event. Every status change of a ticket goes through here (inside the caller's
    transaction, the row locked)."""
    before = ticket.status
    target = step.target
    ticket.status = target.value
    ticket.status_changed_at = now
    ticket.updated_at = now
    ticket.waiting_reason = note[:255] if target in WAITING_STATUSES else ""
    if target == Status.RESOLVED:
        ticket.resolved_at = now
    if target == Status.CLOSED:
        ticket.closed_at = now
    if step.name == "reopen":
        ticket.reopen_count += 1
        ticket.resolved_at = None
    if step.name == "return to queue":
        _set_assignee(ticket, None, actor=actor)
    ticket.save()
    _record(ticket, EventKind.STATUS, actor=actor, field="status", before=before,
            after=target.value, note=note, public=True, at=now)
    events.emit(events.StatusChanged(ticket.pk, _actor_id(actor), now, before, target.value))
    if step.name == "reopen":
        events.emit(events.Reopened(ticket.pk, _actor_id(actor), now))


def _customer_can_act(ticket: Ticket, actor: User) -> bool:
    if actor.is_org_admin and actor.organization_id == ticket.organization_id:
        return True
    return ticket.ccs.filter(pk=actor.pk).exists()


# --- conversation ---------------------------------------------------------------------

def add_reply(
    ticket: Ticket,
    *,
    author: User,
    body: str,
    public: bool = True,
    attachments: Sequence[UploadedFile] = (),
    channel: str = Channel.WEB,
    set_status: str = "",
    status_reason: str = "",
    time_minutes: int | None = None,
    max_attachments: int | None = None,
    sender_only_attachments: Sequence[UploadedFile] = (),
    locked: bool = False,
) -> Message:
    """Add a public reply or an internal note.

    A customer reply brings a waiting ticket back into work and reopens a resolved one;
    an agent's first public reply stamps the first response time. `time_minutes` (agents
    only) logs time spent, linked to the message, in the same transaction.
    `max_attachments` and `sender_only_attachments` are as for `create_ticket`.
    `locked`: the caller holds `ticket` read FOR UPDATE inside its own `events.atomic()`
    block (the agent page's reply), and a failure rolls that block back as a whole.
    """
    agent = _is_agent(author)
    if not agent and not public:
        raise PermissionDenied(_("Customers cannot write internal notes."))
    refuse_staff_fields(author, {"time_minutes": bool(time_minutes),
                                  "set_status": bool(set_status)})
    body = (body or "").strip()
    if not body and not attachments:
        raise ValidationError({"body": _("The message is empty.")})
    validate_uploads(attachments, max_count=max_attachments)
    with events.atomic(savepoint=not locked):
        now = timezone.now()
        if locked:
            # The caller read it FOR UPDATE in this transaction: stamp it with the
            # write's one UPDATE of the row, at its end.
            ticket.updated_at = now
            if agent and public and ticket.first_response_at is None:
                ticket.first_response_at = now
            events.write_ticket_later(ticket.pk, updated_at=now,
                                      first_response_at=ticket.first_response_at)
            # As the row will be: the in-request reactions (the SLA clocks) need not
            # read it again.
            events.hold_ticket(ticket)
        else:
            ticket = _lock_and_touch(ticket, now=now, first_response=agent and public)
        if ticket.status == Status.CLOSED:
            raise TransitionError(
                _("This ticket is closed. Please open a new request and mention %(reference)s.")
                % {"reference": ticket.reference}
            )
        message = Message.objects.create(
            ticket=ticket, author=author, is_public=public, by_agent=agent,
            body=body or "(attachments)", channel=channel, created_at=now,
        )
        stored = _store_attachments(message, attachments) if attachments else []
        stored += _store_attachments(message, sender_only_attachments, sender_only=True)
        _prefetched_attachments(message, stored)
        if time_minutes:
            from .timetracking import log_time

            log_time(ticket, agent=author, minutes=time_minutes, message=message)
        _record(ticket, EventKind.REPLY if public else EventKind.NOTE, actor=author,
                note=f"message {message.pk}", public=public, at=now)
        if public:
            events.emit(events.PublicReply(ticket.pk, author.pk, now, message.pk, agent))
        else:
            events.emit(events.NoteAdded(ticket.pk, author.pk, now, message.pk))
        if not agent:
            if ticket.status == Status.WAITING_ON_CUSTOMER:
                transition(ticket, Status.IN_PROGRESS, actor=None,
                           reason="customer replied")
            elif ticket.status == Status.RESOLVED:
                transition(ticket, Status.IN_PROGRESS, actor=None,
                           reason="customer replied after resolution")
        elif set_status and set_status != ticket.status:
            transition(ticket, set_status, actor=author, reason=status_reason)
    return message


def add_system_note(ticket: Ticket, *, body: str, channel: str = Channel.WEB,
                    attachments: Sequence[UploadedFile] = ()) -> Message:
    """An internal note the system writes (a delivery report, an automatic reply): no
    author, never shown to the customer, no reply event, no status change, also on a
    closed ticket (it records, it does not reopen). `attachments` are records the system
    attaches itself, so not held to the upload limits."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("The note is empty.")})
    with events.atomic():
        ticket = _lock(ticket)
        now = timezone.now()
        message = Message.objects.create(
            ticket=ticket, author=None, is_public=False, by_agent=True, body=body,
            channel=channel, created_at=now,
        )
        _store_attachments(message, attachments)
        _record(ticket, EventKind.NOTE, actor=None, note=f"message {message.pk}", at=now)
        ticket.updated_at = now
        ticket.save(update_fields=["updated_at"])
    return message


# --- fields ---------------------------------------------------------------------------

def _set_assignee(ticket: Ticket, agent: User | None, *, actor: User | None,
                  note: str = "") -> None:
    before = ticket.assignee
    if (before.pk if before else None) == (agent.pk if agent else None):
        return
    ticket.assignee = agent
    row = _record(ticket, EventKind.FIELD, actor=actor, field="assignee",
                  before=before.display_name if before else "",
                  after=agent.display_name if agent else "", note=note)
    now = timezone.now()
    events.emit(events.Assigned(ticket.pk, _actor_id(actor), now,
                                agent.pk if agent else None, ticket.team_id))
    events.emit(events.AssigneeChanged(ticket.pk, _actor_id(actor), now,
                                       before.pk if before else None,
                                       agent.pk if agent else None, row.pk))


def assign(ticket: Ticket, *, assignee: User | None, actor: User | None) -> Ticket:
    """Give the ticket to an agent (or back to the queue); new tickets become assigned."""
    return update_ticket(ticket, actor=actor, changes={"assignee": assignee})


class ConflictError(ValidationError):
    """Someone else changed what this edit was based on: nothing was saved."""


def field_values(ticket: Ticket) -> dict[str, Any]:
    """The editable fields as comparable plain values (ids, sorted tag names)."""
    return {
        "priority": ticket.priority, "category": ticket.category_id,
        "product_area": ticket.product_area_id, "team": ticket.team_id,
        "assignee": ticket.assignee_id, "subject": ticket.subject,
        "tags": sorted(ticket.tags.values_list("name", flat=True)),
        "custom_fields": ticket.custom_fields or {},
    }


def version_of(ticket: Ticket) -> str:
    """An opaque version of the ticket (changes with every write): the API's ETag."""
    return f"{ticket.pk}-{int(ticket.updated_at.timestamp() * 1_000_000)}"


def update_ticket(ticket: Ticket, *, actor: User | None, changes: Mapping[str, Any],
                  expected: Mapping[str, Any] | None = None,
                  expected_versions: Collection[str] | None = None) -> Ticket:
    """Change priority, category, product area, team, assignee, subject, tags or custom
    field values (`changes["custom_fields"]`: {key: value}, None clears), audited.

    Optimistic concurrency, checked under the row lock so two agents never overwrite each
    other silently: `expected` holds the values the editor started from for the fields it
    changes (a field someone else changed meanwhile is a conflict); `expected_versions`
    the versions of the whole ticket the editor accepts (an API If-Match: any other version
    is a conflict). A conflict saves nothing. Values equal to the current ones change
    nothing: no event, and the version stays (an ETag changes only with the ticket).
    """
    allowed = {"priority", "category", "product_area", "team", "assignee", "subject", "tags",
               "custom_fields"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(_("These fields cannot be changed here: %(unknown)s")
                              % {"unknown": sorted(unknown)})
    if actor is not None and not _is_agent(actor):
        raise PermissionDenied(_("Only agents can change ticket fields."))
    with events.atomic():
        ticket = _lock(ticket)
        if expected_versions is not None and version_of(ticket) not in expected_versions:
            raise ConflictError(_("The ticket was changed by someone else since you loaded it; "
                                  "reload it and apply your change again."))
        if expected:
            current = field_values(ticket)
            moved = [name for name in changes if name in expected
                     and _plain(expected[name]) != current[name]]
            if moved:
                raise ConflictError(
                    "Changed by someone else while you were editing: "
                    + ", ".join(f"{name.replace('_', ' ')} is now {_shown(ticket, name)}"
                                for name in moved)
                    + ". Nothing was saved; review and apply your change again.")
        now = timezone.now()
        changed = False
        if "priority" in changes:
            new = int(changes["priority"])
            if new not in Priority.values:
                raise ValidationError({"priority": _("Priority must be 1 (P1) to 5 (P5).")})
            if new != ticket.priority:
                _record(ticket, EventKind.FIELD, actor=actor, field="priority",
                        before=f"P{ticket.priority}", after=f"P{new}", at=now)
                events.emit(events.PriorityChanged(ticket.pk, _actor_id(actor), now,
                                                   ticket.priority, new))
                ticket.priority = new
                changed = True
        for name in ("category", "product_area", "team"):
            if name in changes and getattr(ticket, f"{name}_id") != _pk(changes[name]):
                _record(ticket, EventKind.FIELD, actor=actor, field=name,
                        before=getattr(ticket, name) or "", after=changes[name] or "", at=now)
                setattr(ticket, name, changes[name])
                changed = True
                if name == "team":
                    events.emit(events.Assigned(ticket.pk, _actor_id(actor), now,
                                                ticket.assignee_id, _pk(changes[name])))
        if "subject" in changes:
            subject = str(changes["subject"] or "").strip()[:255]
            if not subject:
                raise ValidationError({"subject": _("A subject is required.")})
            if subject != ticket.subject:
                _record(ticket, EventKind.FIELD, actor=actor, field="subject",
                        before=ticket.subject, after=subject, at=now)
                ticket.subject = subject
                changed = True
        if "assignee" in changes:
            agent = changes["assignee"]
            if agent is not None and not agent.is_agent:
                raise ValidationError({"assignee": _("Tickets can only be assigned to agents.")})
            if _pk(agent) != ticket.assignee_id:
                _set_assignee(ticket, agent, actor=actor)
                changed = True
        if "tags" in changes:
            wanted = {t.strip().lower() for t in changes["tags"] if t and t.strip()}
            current = set(ticket.tags.values_list("name", flat=True))
            if wanted != current:
                ticket.tags.set([Tag.objects.get_or_create(name=n[:50])[0] for n in wanted])
                _record(ticket, EventKind.FIELD, actor=actor, field="tags",
                        before=", ".join(sorted(current)), after=", ".join(sorted(wanted)),
                        at=now)
                events.emit(events.TagsChanged(ticket.pk, _actor_id(actor), now,
                                               tuple(sorted(current)), tuple(sorted(wanted))))
                changed = True
        if changes.get("custom_fields"):
            cleaned = field_definitions.clean_values(changes["custom_fields"], customer=False)
            changed = _write_custom_values(ticket, cleaned, actor=actor, now=now) or changed
        if not changed:
            return ticket
        ticket.updated_at = now
        ticket.save()
        # Giving an untouched ticket to someone is the "assign" step of the lifecycle;
        # taking it away from an assigned one puts it back in the queue.
        if ticket.assignee_id and ticket.status in (Status.NEW, Status.TRIAGED):
            ticket = transition(ticket, Status.ASSIGNED, actor=actor)
        elif not ticket.assignee_id and ticket.status == Status.ASSIGNED:
            ticket = transition(ticket, Status.TRIAGED, actor=actor, reason="unassigned")
    return ticket


def _write_custom_values(ticket: Ticket, cleaned: Mapping[str, Any], *, actor: User | None,
                         now: datetime) -> bool:
    """Apply checked values to the locked ticket in memory (the caller saves it), one audit
    row per changed field, like any other field; False when nothing changes."""
    before = ticket.custom_fields or {}
    after = cf.merge_values(before, cleaned)
    keys = sorted(k for k in cleaned if before.get(k) != after.get(k))
    if not keys:
        return False
    fields = field_definitions.by_key()
    names = field_definitions.link_names(
        (fields[k].field_type, v) for k in keys for v in (before.get(k), after.get(k))
        if v is not None and fields[k].field_type in cf.LINKS)
    TicketEvent.objects.bulk_create([
        _event(ticket, EventKind.FIELD, actor=actor, field=f"custom:{k}",
               before=cf.recorded(fields[k], before.get(k), names=names),
               after=cf.recorded(fields[k], after.get(k), names=names),
               note=fields[k].label, public=False, at=now)
        for k in keys])
    ticket.custom_fields = after
    events.emit(events.CustomFieldsChanged(ticket.pk, _actor_id(actor), now, tuple(keys)))
    return True


def set_custom_fields(ticket: Ticket, *, actor: User, values: Mapping[str, Any]) -> Ticket:
    """Change custom field values: agents any field (as update_ticket does), a customer who
    may act on the ticket only the fields they may edit that apply to it. Audited per
    field; a value equal to the current one changes nothing."""
    if _is_agent(actor):
        return update_ticket(ticket, actor=actor, changes={"custom_fields": values})
    with events.atomic():
        ticket = _lock(ticket)
        if ticket.requester_id != actor.pk and not _customer_can_act(ticket, actor):
            raise PermissionDenied(_("Only the requester can change this ticket."))
        if ticket.status == Status.CLOSED:
            raise TransitionError(_("This ticket is closed; it cannot be changed."))
        cleaned = field_definitions.clean_values(
            values, customer=True, category_id=ticket.category_id,
            product_area_id=ticket.product_area_id)
        merged = cf.merge_values(ticket.custom_fields or {}, cleaned)
        missing = field_definitions.missing_required(merged, ticket.category_id,
                                                     ticket.product_area_id)
        missing = [a for a in missing if a.field.key in cleaned]
        if missing:
            raise ValidationError({f"custom_fields.{a.field.key}": _("This field is required.")
                                   for a in missing})
        now = timezone.now()
        if _write_custom_values(ticket, cleaned, actor=actor, now=now):
            ticket.updated_at = now
            ticket.save(update_fields=["custom_fields", "updated_at"])
    return ticket


def _shown(ticket: Ticket, name: str) -> str:
    if name == "tags":
        return ", ".join(sorted(ticket.tags.values_list("name", flat=True))) or "—"
    if name == "priority":
        return f"P{ticket.priority}"
    value = getattr(ticket, name)
    return str(value) if value else "—"


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return sorted(str(v) for v in value)
    return _pk(value) if hasattr(value, "pk") else value


def _pk(value: Any) -> int | None:
    return getattr(value, "pk", value)


# --- escalation -----------------------------------------------------------------------

def _write_escalation(ticket: Ticket, packet: HandoffPacket, *, actor: User | None,
                      to_team: Team | None, now, engineering: bool) -> Escalation:
    from_team = ticket.team
    esc = Escalation.objects.create(
        ticket=ticket, actor=actor, created_at=now, from_team=from_team,
        to_team=None if engineering else to_team,
        kind=Escalation.Kind.ENGINEERING if engineering else Escalation.Kind.TIER,
        **packet.__dict__,
    )
    target = "engineering" if engineering else (to_team.name if to_team else "")
    _record(ticket, EventKind.ESCALATED, actor=actor, field="team" if not engineering else "",
            before=from_team or "", after=target, note=packet.reason, at=now)
    if not engineering and to_team is not None and to_team.pk != ticket.team_id:
        ticket.team = to_team
        _set_assignee(ticket, None, actor=actor, note="escalated to another tier")
    events.emit(events.Escalated(ticket.pk, _actor_id(actor), now, esc.pk))
    return esc


def escalate(ticket: Ticket, *, to_team: Team | None, packet: Mapping[str, Any],
             actor: User, engineering: bool = False) -> Ticket:
    """Hand the ticket to another tier (or engineering) with a complete handoff packet."""
    if not engineering and to_team is not None and to_team.pk == ticket.team_id:
        raise TransitionError(_("Escalate to a different team than the current one."))
    target = Status.ENGINEERING if engineering else Status.ESCALATED
    ticket = transition(ticket, target, actor=actor, packet=packet, to_team=to_team)
    if not engineering and ticket.team:
        agent = assignment.pick_assignee(ticket, ticket.team)
        if agent is not None:
            ticket = transition(ticket, Status.ASSIGNED, actor=None, assignee=agent)
    return ticket


def open_escalation(ticket: Ticket) -> Escalation | None:
    """The escalation the ticket is currently with, if the receiving side may return it.

    A tier escalation is open while the ticket sits with the team it was escalated to;
    an engineering escalation while the ticket's status is "with engineering".
    """
    # Newest first (the model's ordering); .all() uses the ticket page's prefetch.
    esc = next((e for e in ticket.escalations.all() if e.returned_at is None), None)
    if esc is None or ticket.status in (Status.RESOLVED, Status.CLOSED):
        return None
    if esc.kind == Escalation.Kind.ENGINEERING:
        return esc if ticket.status == Status.ENGINEERING else None
    return esc if esc.to_team_id and esc.to_team_id == ticket.team_id else None


def return_escalation(ticket: Ticket, *, actor: User, missing: str) -> Ticket:
    """The receiving tier sends the escalation back because context is missing.

    The ticket goes back to the escalating team, assigned to the agent who escalated
    (or whom that team's strategy picks); an engineering escalation goes back to work
    ("back from engineering"). The Escalation row is marked returned with what is
    missing (this is what "escalation rework" counts), the request is posted as an
    internal note, the audit trail records it, and the escalating agent is notified.
    """
    missing = (missing or "").strip()
    if not missing:
        raise ValidationError({"missing": _("Say what context is missing.")})
    if not _is_agent(actor):
        raise PermissionDenied(_("Only agents can return an escalation."))
    with events.atomic():
        ticket = _lock(ticket)
        esc = open_escalation(ticket)
        if esc is None:
            raise TransitionError(_("This ticket has no open escalation to return."))
        esc = Escalation.objects.select_for_update().get(pk=esc.pk)
        now = timezone.now()
        esc.returned_at = now
        esc.returned_by = actor
        esc.missing_context = missing
        esc.save(update_fields=["returned_at", "returned_by", "missing_context"])
        receiving = "engineering" if esc.kind == Escalation.Kind.ENGINEERING else (
            esc.to_team.name if esc.to_team else "")
        back_to = esc.from_team
        _record(ticket, EventKind.RETURNED, actor=actor, field="team",
                before=receiving, after=back_to or "", note=missing, at=now)
        Message.objects.create(
            ticket=ticket, author=actor, is_public=False, by_agent=True, created_at=now,
            body=f"**Escalation returned for missing context.**\n\n{missing}",
        )
        if esc.kind == Escalation.Kind.ENGINEERING:
            ticket.updated_at = now
            ticket.save(update_fields=["updated_at"])
            ticket = transition(ticket, Status.IN_PROGRESS, actor=actor,
                                reason="escalation returned for missing context")
        else:
            team_changed = back_to is not None and back_to.pk != ticket.team_id
            if team_changed:
                ticket.team = back_to
            escalator = esc.actor if esc.actor is not None and esc.actor.is_agent else None
            agent = escalator or (assignment.pick_assignee(ticket, back_to) if back_to else None)
            if (agent.pk if agent else None) != ticket.assignee_id:
                _set_assignee(ticket, agent, actor=actor, note="escalation returned")
            elif team_changed:  # _set_assignee announces the new team with the assignee
                events.emit(events.Assigned(ticket.pk, actor.pk, now, ticket.assignee_id,
                                            back_to.pk))
            ticket.updated_at = now
            ticket.save()
            if agent is not None and ticket.status == Status.ESCALATED:
                ticket = transition(ticket, Status.ASSIGNED, actor=actor, assignee=agent,
                                    reason="escalation returned for missing context")
            elif agent is None and ticket.status == Status.ASSIGNED:
                ticket = transition(ticket, Status.TRIAGED, actor=actor,
                                    reason="escalation returned for missing context")
        if esc.actor is not None and esc.actor.pk != actor.pk:
            from helpdesk.notifications import in_language_of, notify

            with in_language_of(esc.actor):
                title = _("Escalation of %(ticket)s returned") % {"ticket": ticket.reference}
                body = _("%(agent)s needs more context: %(missing)s") % {
                    "agent": actor.display_name, "missing": missing}
            notify(esc.actor, title=title, body=body,
                   url=ticket.get_absolute_url(), source="tickets.escalation_returned",
                   dedupe_key=f"tickets.escalation_returned:{esc.pk}")
    return ticket


# --- merge ----------------------------------------------------------------------------

def merge(duplicate: Ticket, *, into: Ticket, actor: User) -> Ticket:
    """Carry the duplicate's conversation, requester and the custom values the original
    lacks into the original, then close it."""
    if duplicate.pk == into.pk:
        raise ValidationError(_("A ticket cannot be merged into itself."))
    if not _is_agent(actor):
        raise PermissionDenied(_("Only agents can merge tickets."))
    with events.atomic():
        # Lock both rows in id order so two opposite merges cannot deadlock.
        locked = {t.pk: t for t in Ticket.objects.select_for_update().filter(
            pk__in=[duplicate.pk, into.pk]).order_by("pk")}
        duplicate, into = locked[duplicate.pk], locked[into.pk]
        if duplicate.merged_into_id:
            raise ValidationError(_("%(reference)s is already merged.")
                                  % {"reference": duplicate.reference})
        step = check_merge(duplicate.status)
        if into.merged_into_id or into.status == Status.CLOSED:
            raise ValidationError(_("%(reference)s is closed; merge into an open ticket.")
                                  % {"reference": into.reference})
        now = timezone.now()
        carried = [
            Message(ticket=into, author=m.author, is_public=m.is_public, by_agent=m.by_agent,
                    body=m.body, channel=m.channel, created_at=m.created_at,
                    merged_from=duplicate)
            for m in duplicate.messages.all()
        ]
        carried.insert(0, Message(
            ticket=into, author=duplicate.requester, is_public=True, by_agent=False,
            body=f"**{duplicate.subject}**\n\n{duplicate.description}",
            channel=duplicate.channel, created_at=duplicate.created_at, merged_from=duplicate,
        ))
        Message.objects.bulk_create(carried)
        requesters = {duplicate.requester_id, *duplicate.ccs.values_list("pk", flat=True)}
        requesters.discard(into.requester_id)
        if requesters:
            into.ccs.add(*requesters)
        _record(into, EventKind.MERGED, actor=actor, field="merged_from",
                after=duplicate.reference, note=f"{len(carried)} messages carried over",
                public=True, at=now)
        _record(duplicate, EventKind.MERGED, actor=actor, field="merged_into",
                after=into.reference, public=True, at=now)
        # The original keeps its own custom values; the ones it lacks come from the
        # duplicate (active fields only), each a field event like any other change.
        fields = field_definitions.by_key()
        mine = into.custom_fields or {}
        carried_values = {k: v for k, v in (duplicate.custom_fields or {}).items()
                          if k in fields and cf.is_empty(mine.get(k)) and not cf.is_empty(v)}
        if carried_values:
            _write_custom_values(into, carried_values, actor=actor, now=now)
        into.updated_at = now
        into.save(update_fields=["updated_at", "custom_fields"])
        duplicate.merged_into = into
        _apply(duplicate, step, actor=actor, note=f"duplicate of {into.reference}", now=now)
        events.emit(events.Merged(duplicate.pk, actor.pk, now, into.pk))
    return into


# --- macros ---------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def render_macro(macro: Macro, ticket: Ticket, agent: User) -> str:
    """Fill the whitelisted placeholders; unknown ones are left as written."""
    values = {
        "requester_name": ticket.requester.display_name,
        "requester_first_name": ticket.requester.first_name or ticket.requester.display_name,
        "ticket_id": str(ticket.pk),
        "subject": ticket.subject,
        "organization": ticket.organization.name if ticket.organization else "",
        "agent_name": agent.display_name,
        "team": ticket.team.name if ticket.team else "",
    }
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), macro.body)


def apply_macro(ticket: Ticket, macro: Macro, *, actor: User) -> Ticket:
    """Post the macro's reply or note and apply the field changes it carries, atomically."""
    if not _is_agent(actor):
        raise PermissionDenied(_("Only agents can apply macros."))
    if not macro.is_active:
        raise ValidationError(_("This macro is disabled."))
    with events.atomic():
        _record(ticket, EventKind.MACRO, actor=actor, after=macro.name)
        if macro.body.strip():
            add_reply(ticket, author=actor, body=render_macro(macro, ticket, actor),
                      public=macro.is_public)
        changes: dict[str, Any] = {}
        if macro.set_priority:
            changes["priority"] = macro.set_priority
        if macro.set_custom_fields:
            changes["custom_fields"] = macro.set_custom_fields
        tag_names = list(macro.add_tags.values_list("name", flat=True))
        if tag_names:
            ticket.refresh_from_db()
            changes["tags"] = set(ticket.tags.values_list("name", flat=True)) | set(tag_names)
        if changes:
            update_ticket(ticket, actor=actor, changes=changes)
        ticket.refresh_from_db()
        if macro.set_status and macro.set_status != ticket.status:
            transition(ticket, macro.set_status, actor=actor,
                       reason=macro.status_reason or f"macro: {macro.name}")
        ticket.refresh_from_db()
    return ticket


# --- bulk and scheduled ---------------------------------------------------------------

def bulk_update(tickets: Iterable[Ticket], *, actor: User, assignee: User | None = None,
                unassign: bool = False, status: str = "", reason: str = "") -> BulkResult:
    """Apply one change to many tickets; each ticket succeeds or is refused on its own
    (written set-wise by `tickets.batch.bulk_update`, same rules as one by one)."""
    return batch.bulk_update([t.pk for t in tickets], actor=actor, assignee=assignee,
                             unassign=unassign, status=status, reason=reason)


def close_stale_resolved(*, days: int, limit: int = 500) -> int:
    """Close tickets resolved more than `days` ago (scheduled); safe to run twice."""
    cutoff = timezone.now() - timezone.timedelta(days=days)
    ids = list(Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lt=cutoff)
               .order_by("resolved_at").values_list("pk", flat=True)[:limit])
    closed = 0
    for pk in ids:
        ticket = Ticket.objects.get(pk=pk)
        try:
            transition(ticket, Status.CLOSED, actor=None, reason="closed automatically")
            closed += 1
        except TransitionError:
            continue  # reopened meanwhile
    return closed
