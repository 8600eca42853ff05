"""Every write of the incidents app: declaring, the war room, links, public updates with
exactly-once fan-out, resolution cascade, reminders and escalations, reviews.

Rules decided here:

- The declarer becomes incident commander until someone else is assigned.
- Cadence: the next public update is due `update_every_minutes` after the last public
  update (or the declaration). An overdue update reminds the communications lead once
  per due time (unique Fire "update:<due>"), then the next reminder is one cadence later.
- Escalation steps are measured from the declaration and fire once each (unique Fire
  "escalation:<step>"); a step whose time has passed when the severity is raised fires
  at once.
- Public updates are delivered as an agent reply on every linked ticket, once: the reply
  and its UpdateDelivery row are written in one transaction per chunk (savepoint per
  ticket), and tickets already delivered are skipped, so a retry resumes. A ticket that
  cannot take a reply (closed) gets a delivery row with the reason, never a failure.
- Resolution moves every linked ticket to the chosen status through the ticket state
  machine; a ticket that cannot move is recorded (`cascade_note`) and skipped.
- A chunk's ticket events (the reply's e-mail, SLA clocks, the survey) are handled after
  its commit, for seconds; a worker killed then would lose them, since the retry skips
  what was delivered. So each row is marked once its handlers ran, and a retry first
  replays the events of unmarked rows (every ticket-event handler is idempotent).
- Everything stops when the incident resolves: all "next due" columns are cleared.
"""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import User
from helpdesk.notifications import notify
from tickets import events as ticket_events
from tickets import services as ticket_services
from tickets.models import EventKind as TicketEventKind
from tickets.models import Message, Ticket, TicketEvent
from tickets.state_machine import Status as TicketStatus
from tickets.state_machine import TransitionError

from . import customer_mail, matching, messages, severity
from .models import (
    ActionItem,
    EntryKind,
    EscalationStep,
    Fire,
    Incident,
    IncidentRole,
    IncidentTicket,
    LinkSuggestion,
    PublicUpdate,
    Review,
    RoleKind,
    Severity,
    Status,
    TimelineEntry,
    UpdateDelivery,
    UpdateKind,
)

# Tickets per chunk: each chunk is one transaction holding those tickets' row locks; at
# ~20 ms of writes per ticket (reply, audit event, ticket row) 200 keeps it to seconds.
CHUNK = 200
REVIEW_REMINDER_EVERY = timedelta(days=1)
RESOLVE_TARGETS = (TicketStatus.RESOLVED.value, TicketStatus.WAITING_ON_CUSTOMER.value)
# SLA levels the sla app writes on tickets once a target has passed.
BREACH_LEVELS = ("breach", "severe")
MANUAL_KINDS = (EntryKind.NOTE, EntryKind.DECISION, EntryKind.ACTION)
MAX_ROLE_RECIPIENTS = 50


# --- permissions ------------------------------------------------------------------------

def can_view(user: User) -> bool:
    """War rooms are for staff only; everybody else gets a 404."""
    return bool(user.is_authenticated and user.is_agent)


def can_declare(user: User) -> bool:
    return can_view(user) and user.has_perm("incidents.declare_incident")


def _role_user_ids(incident: Incident, *roles: str) -> set[int]:
    return set(incident.roles.filter(role__in=roles).values_list("user_id", flat=True))


def can_manage(user: User, incident: Incident) -> bool:
    """Leads and managers, or the incident's commander."""
    if not can_view(user):
        return False
    return (user.has_perm("incidents.manage_incident")
            or user.pk in _role_user_ids(incident, RoleKind.COMMANDER))


def can_publish(user: User, incident: Incident) -> bool:
    """Public updates: managers of the incident and its communications lead."""
    return can_manage(user, incident) or (
        can_view(user) and user.pk in _role_user_ids(incident, RoleKind.COMMS_LEAD))


def _check(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


# --- helpers ----------------------------------------------------------------------------

def _entry(incident: Incident, kind: str, body: str, *, actor: User | None = None,
           at: datetime | None = None) -> TimelineEntry:
    return TimelineEntry.objects.create(incident=incident, kind=kind, body=body[:5000],
                                        author=actor, created_at=at or timezone.now())


def _lock(incident: Incident | int) -> Incident:
    pk = incident.pk if isinstance(incident, Incident) else incident
    return Incident.objects.select_for_update().select_related("severity").get(pk=pk)


def _fire(incident: Incident, key: str, at: datetime) -> bool:
    """Record that `key` fired; False if it already had (a retry or a second worker)."""
    try:
        with transaction.atomic():
            Fire.objects.create(incident=incident, key=key, created_at=at)
    except IntegrityError:
        return False
    return True


def _cadence(sev: Severity) -> timedelta | None:
    return timedelta(minutes=sev.update_every_minutes) if sev.update_every_minutes else None


def _next_escalation(incident: Incident) -> datetime | None:
    fired = set(incident.fires.filter(key__startswith="escalation:")
                .values_list("key", flat=True))
    for step in incident.severity.steps.order_by("after_minutes", "pk"):
        if f"escalation:{step.pk}" not in fired:
            return incident.declared_at + timedelta(minutes=step.after_minutes)
    return None


def _room_url(incident: Incident) -> str:
    return reverse("incidents:room", args=[incident.pk])


def _after_commit(task_name: str, *args: int) -> None:
    """Queue a task of ours once the current transaction commits."""
    from . import tasks

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args))


# --- declaring --------------------------------------------------------------------------

def declare(*, title: str, users_affected: str, impact: str, actor: User,
            level: int | None = None, reason: str = "", description: str = "",
            keywords: str = "", tickets: Iterable[Ticket] = (),
            is_public: bool = True) -> Incident:
    """Open an incident; the severity is the matrix's unless overridden with a reason."""
    _check(can_declare(actor), "You are not allowed to declare incidents.")
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "Give the incident a title."})
    try:
        suggested = severity.suggest(users_affected, impact)
    except (KeyError, ValueError) as exc:
        raise ValidationError("Choose who is affected and how badly.") from exc
    chosen = int(level or suggested)
    reason = (reason or "").strip()
    if severity.needs_reason(suggested, chosen) and not reason:
        raise ValidationError({"reason": f"The matrix suggests {severity.label(suggested)}; "
                                         f"say why you chose {severity.label(chosen)}."})
    sev = Severity.objects.filter(level=chosen).first()
    if sev is None:
        raise ValidationError({"level": f"SEV{chosen} is not configured."})
    now = timezone.now()
    with transaction.atomic():
        cadence = _cadence(sev)
        incident = Incident.objects.create(
            title=title[:200], description=description, keywords=keywords[:255],
            users_affected=users_affected, impact=impact, suggested_level=int(suggested),
            severity=sev, severity_reason=reason[:255] if chosen != suggested else "",
            is_public=is_public, declared_by=actor, declared_at=now,
            next_update_due_at=now + cadence if cadence else None,
        )
        IncidentRole.objects.create(incident=incident, role=RoleKind.COMMANDER, user=actor,
                                    assigned_at=now)
        note = f"Incident declared as {sev} (matrix: {severity.label(suggested)}"
        note += f"; override: {reason})" if chosen != suggested else ")"
        _entry(incident, EntryKind.STATUS, note + ". Status: investigating.", actor=actor,
               at=now)
        _entry(incident, EntryKind.ROLE, f"{actor.display_name} is incident commander.",
               actor=actor, at=now)
        incident.next_escalation_at = _next_escalation(incident)
        incident.save(update_fields=["next_escalation_at"])
        tickets = list(tickets)
        if tickets:
            link_tickets(incident, tickets, actor=actor)
        if incident.next_escalation_at and incident.next_escalation_at <= now:
            _after_commit("escalate_incident", incident.pk)  # "on-call at once"
    return incident


# --- war room ---------------------------------------------------------------------------

def add_entry(incident: Incident, *, kind: str, body: str, actor: User) -> TimelineEntry:
    """A note, decision or action written in the room; the server stamps the time."""
    _check(can_declare(actor), "You cannot write in this war room.")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write something first."})
    if kind not in MANUAL_KINDS:
        raise ValidationError({"kind": "Choose note, decision or action."})
    return _entry(incident, kind, body, actor=actor)


def change_status(incident: Incident, *, status: str, actor: User, note: str = "") -> Incident:
    """Investigating → identified → monitoring (any order); resolving goes through resolve."""
    _check(can_declare(actor), "You cannot change this incident.")
    if status not in (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING):
        raise ValidationError({"status": "Use Resolve to resolve the incident."})
    with transaction.atomic():
        incident = _lock(incident)
        if not incident.is_open:
            raise ValidationError("This incident is resolved.")
        if incident.status == status:
            return incident
        before = incident.get_status_display()
        incident.status = status
        incident.save(update_fields=["status"])
        text = f"Status: {before} → {incident.get_status_display()}."
        _entry(incident, EntryKind.STATUS, f"{text} {note.strip()}".strip(), actor=actor)
    return incident


def change_severity(incident: Incident, *, level: int, reason: str, actor: User) -> Incident:
    _check(can_manage(actor, incident), "Only the incident commander or a lead can do this.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the severity changes."})
    sev = Severity.objects.filter(level=level).first()
    if sev is None:
        raise ValidationError({"level": f"SEV{level} is not configured."})
    with transaction.atomic():
        incident = _lock(incident)
        if not incident.is_open:
            raise ValidationError("This incident is resolved.")
        if incident.severity_id == sev.pk:
            return incident
        before = incident.severity
        incident.severity = sev
        incident.severity_reason = reason[:255]
        last = incident.updates.order_by("-created_at").values_list("created_at", flat=True)
        cadence = _cadence(sev)
        base = last.first() or incident.declared_at
        incident.next_update_due_at = base + cadence if cadence else None
        incident.next_escalation_at = _next_escalation(incident)
        incident.save(update_fields=["severity", "severity_reason", "next_update_due_at",
                                     "next_escalation_at"])
        _entry(incident, EntryKind.SEVERITY, f"Severity {before.label} → {sev.label}: {reason}",
               actor=actor)
        if incident.next_escalation_at and incident.next_escalation_at <= timezone.now():
            _after_commit("escalate_incident", incident.pk)
    return incident


def assign_role(incident: Incident, *, role: str, user: User, actor: User) -> IncidentRole:
    """Give a role to an agent; the commander, leads and scribe are one person each."""
    _check(can_manage(actor, incident), "Only the incident commander or a lead assigns roles.")
    if role not in RoleKind.values:
        raise ValidationError({"role": "Unknown role."})
    if not user.is_agent:
        raise ValidationError({"user": "Incident roles go to agents."})
    now = timezone.now()
    with transaction.atomic():
        incident = _lock(incident)
        if role == RoleKind.SME:
            row, created = IncidentRole.objects.get_or_create(
                incident=incident, role=role, user=user, defaults={"assigned_at": now})
            if not created:
                return row
        else:
            row = IncidentRole.objects.filter(incident=incident, role=role).first()
            if row and row.user_id == user.pk:
                return row
            if row:
                row.user, row.assigned_at = user, now
                row.save(update_fields=["user", "assigned_at"])
            else:
                row = IncidentRole.objects.create(incident=incident, role=role, user=user,
                                                  assigned_at=now)
        label = RoleKind(role).label
        _entry(incident, EntryKind.ROLE, f"{user.display_name}: {label.lower()}.", actor=actor,
               at=now)
    notify(user, title=f"You are {label.lower()} of {incident.reference}: {incident.title}",
           source="incidents.role", url=_room_url(incident),
           urgent=incident.severity.level == 1,
           dedupe_key=f"incident:{incident.pk}:role:{row.pk}:{user.pk}:{now.isoformat()}")
    return row


def remove_role(row: IncidentRole, *, actor: User) -> None:
    incident = row.incident
    _check(can_manage(actor, incident), "Only the incident commander or a lead assigns roles.")
    with transaction.atomic():
        _entry(incident, EntryKind.ROLE,
               f"{row.user.display_name} is no longer {row.get_role_display().lower()}.",
               actor=actor)
        row.delete()


# --- linked tickets ---------------------------------------------------------------------

def link_tickets(incident: Incident, tickets: Iterable[Ticket], *, actor: User) -> int:
    """Link tickets (already linked ones are left as they are); returns how many are new."""
    _check(can_declare(actor), "You cannot link tickets to incidents.")
    if not incident.is_open:
        raise ValidationError("This incident is resolved; declare a new one.")
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
    _check(can_declare(actor), "You cannot unlink tickets.")
    with transaction.atomic():
        deleted, _ = IncidentTicket.objects.filter(incident=incident, ticket=ticket).delete()
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
    _check(can_declare(actor), "You cannot change suggestions.")
    LinkSuggestion.objects.filter(pk=suggestion.pk).update(dismissed=True)


# --- public updates and their fan-out ---------------------------------------------------

def publish_update(incident: Incident, *, kind: str, body: str, actor: User) -> PublicUpdate:
    """Post a public update: status page now, every linked ticket's requester by a task."""
    _check(can_publish(actor, incident), "Only the communications lead or the commander "
                                         "publishes updates.")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "The update is empty."})
    if kind not in (UpdateKind.INITIAL, UpdateKind.UPDATE):
        raise ValidationError({"kind": "Resolve the incident to send the resolution."})
    now = timezone.now()
    with transaction.atomic():
        incident = _lock(incident)
        if not incident.is_open:
            raise ValidationError("This incident is resolved.")
        update = PublicUpdate.objects.create(incident=incident, kind=kind,
                                             status=incident.status, body=body,
                                             created_by=actor, created_at=now)
        cadence = _cadence(incident.severity)
        incident.next_update_due_at = now + cadence if cadence else None
        incident.save(update_fields=["next_update_due_at"])
        _entry(incident, EntryKind.UPDATE, f"Public {update.get_kind_display().lower()}: "
                                           f"{body}", actor=actor, at=now)
        _after_commit("fan_out_update", update.pk)
    return update


@dataclass
class FanOutStats:
    """Figures of a fan-out or cascade run, for the benchmark and the logs."""

    chunks: int = 0
    delivered: int = 0
    skipped: int = 0
    # A chunk's transaction: from BEGIN to COMMIT (what holds row locks).
    max_transaction_seconds: float = 0.0
    # The whole chunk, including the ticket-event handlers that run after commit
    # (SLA clocks, outbound e-mail): what the worker spends per chunk.
    max_chunk_seconds: float = 0.0
    chunk_seconds: list[float] = field(default_factory=list)

    def add(self, *, started: float, committed: list[float], done: int, skipped: int) -> None:
        ended = time.perf_counter()
        self.chunks += 1
        self.delivered += done
        self.skipped += skipped
        self.chunk_seconds.append(ended - started)
        self.max_chunk_seconds = max(self.max_chunk_seconds, ended - started)
        commit = committed[0] if committed else ended
        self.max_transaction_seconds = max(self.max_transaction_seconds, commit - started)


def _commit_clock() -> list[float]:
    """A list that gets the commit instant: our hook is the first one registered."""
    marks: list[float] = []
    transaction.on_commit(lambda: marks.append(time.perf_counter()))
    return marks


def deliver_chunk(update_id: int, *, limit: int = CHUNK,
                  stats: FanOutStats | None = None) -> int:
    """Deliver the update to the next `limit` linked tickets not yet delivered, in one
    short transaction; returns how many tickets it handled (0: nothing left)."""
    update = PublicUpdate.objects.select_related("incident", "created_by").get(pk=update_id)
    pending = (IncidentTicket.objects.filter(incident_id=update.incident_id)
               .filter(~Exists(UpdateDelivery.objects.filter(
                   update_id=update_id, ticket_id=OuterRef("ticket_id"))))
               .order_by("ticket_id").values_list("ticket_id", flat=True)[:limit])
    ids = list(pending)
    if not ids:
        return 0
    author = update.created_by or update.incident.declared_by
    if author is None or not author.is_agent:
        # Never post as a non-agent: a customer-authored reply would reopen tickets.
        raise PermissionDenied("The update's author is no longer an agent; publish it again.")
    tickets = Ticket.objects.in_bulk(ids)
    body = messages.as_reply(update)
    started = time.perf_counter()
    delivered = skipped = 0
    mine: list[int] = []  # tickets this run delivered to (not another worker)
    with transaction.atomic():
        committed = _commit_clock()
        for tid in ids:
            ticket = tickets.get(tid)
            if ticket is None:
                continue
            now = timezone.now()
            try:
                with transaction.atomic():  # savepoint: the reply and its delivery row
                    msg = ticket_services.add_reply(ticket, author=author, body=body,
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
        _mark_after_handlers(UpdateDelivery.objects.filter(update_id=update_id,
                                                           ticket_id__in=mine), "dispatched_at")
    if stats is not None:
        stats.add(started=started, committed=committed, done=delivered, skipped=skipped)
    return len(ids)


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
        for msg in Message.objects.filter(pk__in=[m for _, m in rows]).order_by("pk"):
            ticket_events.dispatch(ticket_events.PublicReply(
                msg.ticket_id, msg.author_id, msg.created_at, msg.pk, msg.by_agent))
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


# --- resolution -------------------------------------------------------------------------

def resolve(incident: Incident, *, body: str, actor: User,
            ticket_status: str = TicketStatus.RESOLVED.value) -> PublicUpdate:
    """Resolve: stop reminders and escalations, post the resolution message, then (by a
    task) send it to every linked ticket and move the tickets to `ticket_status`."""
    _check(can_manage(actor, incident), "Only the incident commander or a lead resolves.")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write the resolution message."})
    if ticket_status not in RESOLVE_TARGETS:
        raise ValidationError({"ticket_status": "Linked tickets move to resolved or to "
                                                "waiting on customer."})
    now = timezone.now()
    with transaction.atomic():
        incident = _lock(incident)
        if not incident.is_open:
            raise ValidationError("This incident is already resolved.")
        before = incident.get_status_display()
        incident.status = Status.RESOLVED
        incident.resolved_at = now
        incident.resolve_tickets_to = ticket_status
        incident.next_update_due_at = None
        incident.next_escalation_at = None
        needs_review = incident.severity.review_required
        incident.next_review_reminder_at = now + REVIEW_REMINDER_EVERY if needs_review else None
        incident.save()
        # Snapshot SLA breaches now: the SLA app clears the due time once clocks stop.
        breached = Q(ticket__sla_level__in=BREACH_LEVELS) | Q(ticket__sla_due_at__lte=now)
        links = IncidentTicket.objects.filter(incident=incident)
        IncidentTicket.objects.filter(pk__in=links.filter(breached).values("pk")).update(
            sla_breached=True)
        IncidentTicket.objects.filter(incident=incident, sla_breached__isnull=True).update(
            sla_breached=False)
        update = PublicUpdate.objects.create(incident=incident, kind=UpdateKind.RESOLUTION,
                                             status=Status.RESOLVED, body=body,
                                             created_by=actor, created_at=now)
        _entry(incident, EntryKind.STATUS, f"Status: {before} → Resolved. Linked tickets "
               f"move to {TicketStatus(ticket_status).value.replace('_', ' ')}.",
               actor=actor, at=now)
        _entry(incident, EntryKind.UPDATE, f"Public resolution: {body}", actor=actor, at=now)
        _after_commit("resolve_cascade", incident.pk, update.pk)
    return update


def cascade_chunk(incident_id: int, *, limit: int = CHUNK,
                  stats: FanOutStats | None = None) -> int:
    """Move the next `limit` linked tickets not yet handled; returns how many it handled."""
    incident = Incident.objects.select_related("declared_by").get(pk=incident_id)
    target = incident.resolve_tickets_to or TicketStatus.RESOLVED.value
    actor = (incident.updates.filter(kind=UpdateKind.RESOLUTION)
             .select_related("created_by").first())
    actor = actor.created_by if actor else incident.declared_by
    links = list(IncidentTicket.objects.filter(incident_id=incident_id, cascaded_at__isnull=True)
                 .select_related("ticket").order_by("ticket_id")[:limit])
    if not links:
        return 0
    started = time.perf_counter()
    moved = skipped = 0
    reason = _cascade_reason(incident)
    mine: list[int] = []  # links this run marked (not another worker)
    with transaction.atomic():
        committed = _commit_clock()
        for link in links:
            ticket = link.ticket
            outcome, note = IncidentTicket.Outcome.MOVED, ""
            if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED, target):
                outcome, note = IncidentTicket.Outcome.SKIPPED, f"already {ticket.status}"
            else:
                try:
                    with transaction.atomic():
                        ticket_services.transition(ticket, target, actor=actor, reason=reason)
                except (TransitionError, ValidationError, PermissionDenied) as exc:
                    outcome, note = IncidentTicket.Outcome.SKIPPED, str(exc)
            if outcome == IncidentTicket.Outcome.MOVED:
                moved += 1
            else:
                skipped += 1
            # Only a link still pending is marked: a second worker's write wins once.
            if IncidentTicket.objects.filter(pk=link.pk, cascaded_at__isnull=True).update(
                    cascade_outcome=outcome, cascade_note=note[:255],
                    cascaded_at=timezone.now()):
                mine.append(link.pk)
        _mark_after_handlers(IncidentTicket.objects.filter(pk__in=mine),
                             "cascade_dispatched_at")
    if stats is not None:
        stats.add(started=started, committed=committed, done=moved, skipped=skipped)
    return len(links)


def _cascade_reason(incident: Incident) -> str:
    """The reason on each moved ticket's status event (how a replay finds the event)."""
    return customer_mail.cascade_reason(incident)


def _replay_moves(incident_id: int, *, batch: int = CHUNK) -> int:
    """Hand the status changes a killed worker committed, but never handed to the
    ticket-event handlers (SLA clocks, the survey), to them now; returns how many."""
    reason = _cascade_reason(Incident.objects.get(pk=incident_id))
    replayed = 0
    while links := list(IncidentTicket.objects.filter(
            incident_id=incident_id, cascaded_at__isnull=False,
            cascade_dispatched_at__isnull=True)
            .order_by("ticket_id").values_list("pk", "ticket_id")[:batch]):
        # Only a move that is still the ticket's state: later changes had their own
        # handlers (a reopened ticket's resolution is void).
        moves = TicketEvent.objects.filter(
            ticket_id__in=[t for _, t in links], kind=TicketEventKind.STATUS, note=reason,
            ticket__status=F("after")).order_by("ticket_id", "created_at", "pk")
        for ev in moves:
            ticket_events.dispatch(ticket_events.StatusChanged(
                ev.ticket_id, ev.actor_id, ev.created_at, ev.before, ev.after))
        IncidentTicket.objects.filter(pk__in=[pk for pk, _ in links]).update(
            cascade_dispatched_at=timezone.now())
        replayed += len(links)
    return replayed


def cascade(incident_id: int, *, chunk: int = CHUNK) -> FanOutStats:
    """Move every linked ticket (chunk by chunk, resumable), then note the totals once."""
    stats = FanOutStats()
    _replay_moves(incident_id, batch=chunk)
    while cascade_chunk(incident_id, limit=chunk, stats=stats) == chunk:
        pass
    incident = Incident.objects.get(pk=incident_id)
    if not IncidentTicket.objects.filter(incident=incident, cascaded_at__isnull=True).exists():
        now = timezone.now()
        if _fire(incident, "cascade-summary", now):
            links = IncidentTicket.objects.filter(incident=incident)
            moved = links.filter(cascade_outcome=IncidentTicket.Outcome.MOVED).count()
            skipped = links.filter(cascade_outcome=IncidentTicket.Outcome.SKIPPED).count()
            _entry(incident, EntryKind.STATUS,
                   f"Resolution cascade: {moved} tickets moved, {skipped} skipped "
                   "(see the linked tickets).", at=now)
    return stats


# --- reminders and escalations (beat) ---------------------------------------------------

def _comms_recipients(incident: Incident) -> list[User]:
    """The communications lead; else the commander; else the declarer."""
    for role in (RoleKind.COMMS_LEAD, RoleKind.COMMANDER):
        row = incident.roles.filter(role=role).select_related("user").first()
        if row:
            return [row.user]
    return [incident.declared_by] if incident.declared_by else []


def fire_update_reminder(incident_id: int, *, now: datetime | None = None) -> bool:
    """Remind the communications lead that a public update is due; once per due time."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = _lock(incident_id)
        due = incident.next_update_due_at
        if not incident.is_open or due is None or due > now:
            return False
        cadence = _cadence(incident.severity)
        nxt = None
        if cadence:
            nxt = due + cadence
            while nxt <= now:  # after downtime: one reminder, not one per missed slot
                nxt += cadence
        incident.next_update_due_at = nxt
        incident.save(update_fields=["next_update_due_at"])
        key = f"update:{due.isoformat()}"
        if not _fire(incident, key, now):
            return False
        people = _comms_recipients(incident)
        names = ", ".join(p.display_name for p in people) or "nobody assigned"
        _entry(incident, EntryKind.REMINDER,
               f"Public update due at {timezone.localtime(due):%H:%M} "
               f"({incident.severity.label}: every {incident.severity.update_every_minutes} "
               f"min); reminded {names}.", at=now)
        for person in people:
            notify(person, title=f"Update due: {incident.reference} {incident.title}",
                   source="incidents.reminder", url=_room_url(incident),
                   urgent=incident.severity.level == 1,
                   dedupe_key=f"incident:{incident.pk}:{key}:{person.pk}")
    return True


def _step_people(step: EscalationStep) -> list[User]:
    if step.target == EscalationStep.Target.USER:
        return [step.user] if step.user and step.user.is_active else []
    if step.target == EscalationStep.Target.ROLE and step.role:
        group = Group.objects.filter(name=step.role).first()
        if group is None:
            return []
        return list(group.user_set.filter(is_active=True).order_by("pk")[:MAX_ROLE_RECIPIENTS])
    return []


def _run_step(incident: Incident, step: EscalationStep, key: str, now: datetime) -> str:
    """Page or notify the step's target; returns what happened, for the timeline."""
    if step.target == EscalationStep.Target.ONCALL:
        from django.apps import apps

        from workforce import services_oncall  # the one app above tickets we may call

        rotation = step.rotation or apps.get_model("workforce", "Rotation").objects.order_by(
            "name").first()
        if rotation is None:
            return f"{step.label}: no on-call rotation is configured."
        outcome = services_oncall.page(
            rotation, reason=f"{incident.reference} {incident.severity.label}: "
                             f"{incident.title}"[:255],
            priority=min(incident.severity.level, 5), at=now,
            dedupe_key=f"incident:{incident.pk}:{key}")
        if outcome.page is None:
            return f"{step.label}: page refused ({outcome.refused})."
        return f"{step.label}: paged {outcome.page.user.display_name} ({rotation.name})."
    people = _step_people(step)
    for person in people:
        notify(person, title=f"Escalation {incident.severity.label}: {incident.reference} "
                             f"{incident.title}", source="incidents.escalation",
               url=_room_url(incident), urgent=incident.severity.level == 1,
               body=f"You are on the {incident.severity.label} escalation path "
                    f"({step.label}, {step.after_minutes} min after declaration).",
               dedupe_key=f"incident:{incident.pk}:{key}:{person.pk}")
    if not people:
        return f"{step.label}: nobody to notify."
    return f"{step.label}: notified {', '.join(p.display_name for p in people[:5])}" + (
        f" and {len(people) - 5} more." if len(people) > 5 else ".")


def fire_due_escalations(incident_id: int, *, now: datetime | None = None) -> int:
    """Fire the escalation steps whose time has come, once each; returns how many fired."""
    now = now or timezone.now()
    fired = 0
    with transaction.atomic():
        incident = _lock(incident_id)
        if not incident.is_open:
            return 0
        for step in incident.severity.steps.select_related("rotation", "user").order_by(
                "after_minutes", "pk"):
            if incident.declared_at + timedelta(minutes=step.after_minutes) > now:
                break
            key = f"escalation:{step.pk}"
            if not _fire(incident, key, now):
                continue
            what = _run_step(incident, step, key, now)
            _entry(incident, EntryKind.ESCALATION,
                   f"Escalation +{step.after_minutes} min: {what}", at=now)
            fired += 1
        incident.next_escalation_at = _next_escalation(incident)
        incident.save(update_fields=["next_escalation_at"])
    return fired


def fire_review_reminder(incident_id: int, *, now: datetime | None = None) -> bool:
    """Remind the commander that the SEV1/SEV2 review is missing; once per day."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = _lock(incident_id)
        due = incident.next_review_reminder_at
        if due is None or due > now:
            return False
        done = Review.objects.filter(incident=incident, completed_at__isnull=False).exists()
        if done or not incident.severity.review_required:
            incident.next_review_reminder_at = None
            incident.save(update_fields=["next_review_reminder_at"])
            return False
        nxt = due + REVIEW_REMINDER_EVERY
        while nxt <= now:
            nxt += REVIEW_REMINDER_EVERY
        incident.next_review_reminder_at = nxt
        incident.save(update_fields=["next_review_reminder_at"])
        key = f"review:{timezone.localdate(due).isoformat()}"
        if not _fire(incident, key, now):
            return False
        row = incident.roles.filter(role=RoleKind.COMMANDER).select_related("user").first()
        person = row.user if row else incident.declared_by
        _entry(incident, EntryKind.REMINDER, "Post-incident review not written yet; "
               f"reminded {person.display_name if person else 'nobody'}.", at=now)
        if person:
            notify(person, title=f"Write the review of {incident.reference}",
                   source="incidents.review",
                   url=reverse("incidents:review", args=[incident.pk]),
                   dedupe_key=f"incident:{incident.pk}:{key}")
    return True


def _scan(column: str, fire, *, now: datetime, limit: int) -> int:
    ids = list(Incident.objects.filter(**{f"{column}__lte": now})
               .order_by(column).values_list("pk", flat=True)[:limit])
    return sum(1 for pk in ids if fire(pk, now=now))


def run_due(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """What the beat job does each minute: scan the three indexed due columns."""
    now = now or timezone.now()
    return {
        "escalations": _scan("next_escalation_at", fire_due_escalations, now=now, limit=limit),
        "update_reminders": _scan("next_update_due_at", fire_update_reminder, now=now,
                                  limit=limit),
        "review_reminders": _scan("next_review_reminder_at", fire_review_reminder, now=now,
                                  limit=limit),
    }


# --- post-incident review ---------------------------------------------------------------

def review_draft(incident: Incident) -> dict[str, str]:
    """The review's pre-filled parts: the war-room timeline and the impact figures."""
    from . import selectors

    return {"timeline": selectors.timeline_text(incident),
            "impact": selectors.review_figures(incident).as_text()}


def start_review(incident: Incident, *, actor: User) -> Review:
    """Create the review pre-filled from the war room (idempotent)."""
    _check(can_declare(actor), "You cannot write reviews.")
    existing = Review.objects.filter(incident=incident).first()
    if existing:
        return existing
    now = timezone.now()
    review, _ = Review.objects.get_or_create(incident=incident, defaults={
        **review_draft(incident), "author": actor, "created_at": now, "updated_at": now,
    })
    return review


REVIEW_FIELDS = ("summary", "timeline", "impact", "root_cause", "went_well", "to_improve")


def save_review(review: Review, *, actor: User, data: dict[str, str],
                complete: bool = False) -> Review:
    _check(can_declare(actor), "You cannot write reviews.")
    for name in REVIEW_FIELDS:
        if name in data:
            setattr(review, name, (data[name] or "").strip())
    if complete:
        missing = [n for n in ("summary", "root_cause") if not getattr(review, n)]
        if missing:
            raise ValidationError("A complete review needs a summary and a root cause.")
    now = timezone.now()
    with transaction.atomic():
        review.updated_at = now
        if complete and review.completed_at is None:
            review.completed_at = now
            Incident.objects.filter(pk=review.incident_id).update(next_review_reminder_at=None)
            _entry(review.incident, EntryKind.NOTE, "Post-incident review completed.",
                   actor=actor, at=now)
        review.save()
    return review


def add_action(review: Review, *, title: str, actor: User, owner: User | None = None,
               due_date=None) -> ActionItem:
    _check(can_declare(actor), "You cannot add action items.")
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": "Describe the action."})
    if owner is not None and not owner.is_agent:
        raise ValidationError({"owner": "Action items are owned by staff."})
    return ActionItem.objects.create(review=review, title=title[:255], owner=owner,
                                     due_date=due_date, created_at=timezone.now())


def set_action_state(action: ActionItem, *, state: str, actor: User) -> ActionItem:
    _check(can_declare(actor), "You cannot change action items.")
    if state not in ActionItem.State.values:
        raise ValidationError({"state": "Unknown state."})
    action.state = state
    action.completed_at = timezone.now() if state == ActionItem.State.DONE else None
    action.save(update_fields=["state", "completed_at"])
    return action
