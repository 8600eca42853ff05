"""Triggers on the events of a write (inside its transaction, with the loop guard), the
actions of a rule on a saved ticket, and the automation scan (Celery beat)."""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import events
from ..models import Automation, EventKind, Message, RuleEvent, RuleFire, Ticket, Trigger
from ..models import TicketEvent as AuditRow
from ..state_machine import WAITING_STATUSES, Status
from . import engine, registry
from .registry import Context

logger = logging.getLogger(__name__)

#: Rounds of triggers reacting to triggers' changes in one write, at most.
MAX_ROUNDS = 5


@dataclass(frozen=True)
class Fire:
    """One firing, as actions see it: which rule, a key unique to it (dedupe), and when."""

    rule: Trigger | Automation
    key: str
    now: datetime

    @property
    def describe(self) -> str:
        return engine.describe(self.rule)


def run_actions(rule: Trigger | Automation, ticket: Ticket, fire: Fire,
                specs: Sequence[dict[str, Any]] | None = None) -> list[str]:
    """The rule's actions on a saved ticket, in order, each change audited as the rule's
    (the services' field events carry its name); an action that cannot apply is
    skipped with a warning on the rule."""
    changes = []
    fresh = True  # the caller's copy for the first action, re-read after each change
    with engine.acting(fire.describe):
        for spec in rule.actions if specs is None else specs:
            act = registry.action(spec.get("action", ""))
            if act is None:
                engine.warn(rule, f"unknown action {spec.get('action')!r} skipped")
                continue
            try:
                with transaction.atomic():
                    if not fresh:
                        ticket = Ticket.objects.select_related(
                            "organization", "requester", "assignee").get(pk=ticket.pk)
                    fresh = False
                    done = act.run(ticket, spec.get("value"), fire)
            except Exception as exc:  # one bad action must not lose the customer's write
                logger.exception("Rule %r, action %s on #%s", rule.name, spec.get("action"),
                                 ticket.pk)
                engine.warn(rule, f"{spec.get('action')} on #{ticket.pk} failed: {exc}")
                continue
            if done:
                changes.append(done)
    return changes


def _audit(rule: Trigger, ticket_id: int, changes: list[str], *, now: datetime) -> None:
    note = "; ".join(changes) or "no change"
    AuditRow.objects.create(ticket_id=ticket_id, actor=None, kind=EventKind.RULE,
                            field="trigger", after=rule.name, note=note, created_at=now)
    RuleFire.objects.create(trigger=rule, ticket_id=ticket_id, fired_at=now, changes=note)


# --- triggers on a write ----------------------------------------------------------------

def _names(event: events.TicketEvent) -> set[str]:
    names = {RuleEvent.UPDATED.value}
    if isinstance(event, events.TicketCreated):
        return {RuleEvent.CREATED.value}
    if isinstance(event, events.PublicReply):
        names.add(RuleEvent.AGENT_REPLY if event.by_agent else RuleEvent.CUSTOMER_REPLY)
    elif isinstance(event, events.StatusChanged):
        names.add(RuleEvent.STATUS_CHANGED)
    elif isinstance(event, events.PriorityChanged):
        names.add(RuleEvent.PRIORITY_CHANGED)
    elif isinstance(event, events.Assigned | events.AssigneeChanged):
        names.add(RuleEvent.ASSIGNED)
    elif isinstance(event, events.TagsChanged):
        names.add(RuleEvent.TAGS_CHANGED)
    elif isinstance(event, events.Reopened):
        names.add(RuleEvent.REOPENED)
    elif isinstance(event, events.Escalated):
        names.add(RuleEvent.ESCALATED)
    elif isinstance(event, events.NoteAdded):
        names.add(RuleEvent.NOTE_ADDED)
    return {str(n) for n in names}


def on_write(batch: list[events.TicketEvent]) -> None:
    """Run the triggers on what one write did (`events.register_before_publish`), inside
    its transaction and before its in-request handlers (so the SLA clocks see the
    rules' changes). Their changes are events of the same write: later rounds run the
    triggers on those. A rule fires at most once per ticket per write. One that would
    fire again because another rule changed the ticket after it (a ping-pong) is
    stopped with a warning on it; one re-matched only by its own change is skipped."""
    triggers = engine.active_triggers()
    if not triggers or not batch:
        return
    wanted = {e for t in triggers for e in (t.events or [])} - {RuleEvent.CREATED.value}
    if not wanted:
        return
    # Tickets created by this write had their creation triggers before the insert.
    created = {e.ticket_id for e in batch if isinstance(e, events.TicketCreated)}
    fired: dict[int, set[int]] = defaultdict(set)
    made_by: dict[int, int] = {}  # position in the batch -> the trigger whose action emitted it
    start = 0
    for _round in range(MAX_ROUNDS):
        end = len(batch)
        if start == end:
            return
        per_ticket: dict[int, set[str]] = defaultdict(set)
        replies: dict[int, int] = {}
        by_rules: dict[int, set[int]] = defaultdict(set)
        for position in range(start, end):
            event = batch[position]
            if event.ticket_id in created:
                continue
            per_ticket[event.ticket_id] |= _names(event)
            if position in made_by:
                by_rules[event.ticket_id].add(made_by[position])
            if isinstance(event, events.PublicReply | events.NoteAdded):
                replies[event.ticket_id] = event.message_id
        start = end
        for ticket_id, names in per_ticket.items():
            candidates = [t for t in triggers if names & set(t.events or [])]
            if candidates:
                _run_triggers(ticket_id, candidates, names, replies.get(ticket_id),
                              fired[ticket_id], batch=batch, made_by=made_by,
                              changed_by=by_rules[ticket_id])
    if len(batch) > start:
        logger.warning("Triggers stopped after %d rounds in one write", MAX_ROUNDS)


def _run_triggers(ticket_id: int, candidates: list[Trigger], names: set[str],
                  message_id: int | None, fired: set[int], *, batch: list[events.TicketEvent],
                  made_by: dict[int, int], changed_by: set[int]) -> None:
    ticket = (Ticket.objects.select_related("organization", "requester", "assignee")
              .filter(pk=ticket_id).first())
    if ticket is None:
        return
    now = timezone.now()

    def load_text() -> str:
        if message_id is None:
            return f"{ticket.subject}\n{ticket.description}"
        return Message.objects.filter(pk=message_id).values_list("body", flat=True).first() or ""

    context = Context(now=now, events=frozenset(names), load_text=load_text)
    for trigger in candidates:
        if not engine.matches(trigger, ticket, context):
            continue
        if trigger.pk in fired:
            if changed_by - {trigger.pk}:
                engine.warn(trigger, f"Stopped on #{ticket_id}: another rule changed the "
                            "ticket after this one, and it would fire again in the same "
                            "update (a loop between rules?); its actions were not repeated.")
            continue
        fired.add(trigger.pk)
        fire = Fire(trigger, f"t{trigger.pk}:{ticket_id}:{now.timestamp()}", now)
        before = len(batch)
        changes = run_actions(trigger, ticket, fire)
        made_by.update(dict.fromkeys(range(before, len(batch)), trigger.pk))
        _audit(trigger, ticket_id, changes, now=now)
        if trigger.stop_processing:
            break
        # What the rule changed is what later rules see.
        ticket = (Ticket.objects.select_related("organization", "requester", "assignee")
                  .get(pk=ticket_id)) if changes else ticket
        context.tags = None


def after_create(ticket: Ticket, pending: engine.Pending, *, now: datetime) -> None:
    """The actions of creation triggers that need the inserted ticket (notes, notices,
    e-mails, webhooks, status, assignee), in rule order."""
    for trigger, spec in pending.later:
        fire = Fire(trigger, f"t{trigger.pk}:{ticket.pk}:created", now)
        changes = run_actions(trigger, ticket, fire, [spec])
        if changes:
            AuditRow.objects.create(ticket=ticket, actor=None, kind=EventKind.RULE,
                                    field="trigger", after=trigger.name,
                                    note="; ".join(changes), created_at=now)


# --- automations ------------------------------------------------------------------------

#: The time column of each kind of window, and the tickets it applies to.
def column_of(automation: Automation) -> tuple[str, Q]:
    since = automation.since
    if since == Automation.Since.CREATED:
        return "created_at", Q()
    if since == Automation.Since.UPDATED:
        return "updated_at", Q()
    if since == Automation.Since.WAITING:
        return "status_changed_at", Q(status__in=sorted(s.value for s in WAITING_STATUSES))
    return "resolved_at", Q(status=Status.RESOLVED.value)


_business_cutoff: Callable[[str, timedelta, datetime], datetime] | None = None


def register_business_cutoff(fn: Callable[[str, timedelta, datetime], datetime]) -> None:
    """`fn(calendar_name, hours, now)`: the moment `hours` business hours before `now`
    (sla, from its calendars)."""
    global _business_cutoff
    _business_cutoff = fn


def cutoff_of(automation: Automation, now: datetime) -> datetime:
    """Tickets whose time column is at or before this have been in the window long enough."""
    span = timedelta(hours=float(Decimal(automation.hours)))
    if automation.business_hours and _business_cutoff is not None:
        return _business_cutoff(automation.calendar, span, now)
    return now - span


#: How far back a new automation looks on its first scan (beyond its own hours).
FIRST_LOOKBACK = timedelta(days=30)


def due(automation: Automation, *, now: datetime, limit: int) -> list[tuple[int, datetime]]:
    """(ticket id, window start) of the tickets that became due since the last scan,
    along the indexed time column, in order."""
    column, scope = column_of(automation)
    cutoff = cutoff_of(automation, now)
    qs = Ticket.objects.filter(scope, **{f"{column}__lte": cutoff})
    if automation.scanned_until is not None:
        qs = qs.filter(Q(**{f"{column}__gt": automation.scanned_until})
                       | Q(**{column: automation.scanned_until, "pk__gt": automation.scanned_id}))
    else:
        qs = qs.filter(**{f"{column}__gt": cutoff - FIRST_LOOKBACK})
    return list(qs.order_by(column, "pk").values_list("pk", column)[:limit])


def scan_automations(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Run each active automation on the tickets that became due since its last scan;
    how many fired. Safe to run twice: the unique (automation, ticket, window) row is
    written before acting, so a second worker or a retried beat does nothing."""
    now = now or timezone.now()
    fired = 0
    for automation in engine.active_automations():
        rows = due(automation, now=now, limit=limit)
        if not rows:
            continue
        fired += _run_automation(automation, rows, now=now)
        last_at, last_id = rows[-1][1], rows[-1][0]
        Automation.objects.filter(pk=automation.pk).update(scanned_until=last_at,
                                                           scanned_id=last_id)
        automation.scanned_until, automation.scanned_id = last_at, last_id
    return fired


#: Tickets handled in one transaction by the scan (its events and SLA reactions together).
CHUNK = 500


def _run_automation(automation: Automation, rows: list[tuple[int, datetime]], *,
                    now: datetime) -> int:
    acts = [registry.action(spec.get("action", "")) for spec in automation.actions or []]
    if not automation.conditions and acts and all(a is not None and a.run_many for a in acts):
        # Nothing to test and every action set-wise: the ids are all it needs.
        tickets = {pk: Ticket(pk=pk) for pk, _ in rows}
    else:
        tickets = Ticket.objects.select_related(
            "organization", "requester", "assignee").in_bulk([pk for pk, _ in rows])
    context = Context(now=now, events=frozenset())
    matched = []
    for pk, window in rows:
        ticket = tickets.get(pk)
        if ticket is not None:
            context.tags, context.text = None, None
            if engine.matches(automation, ticket, context):
                matched.append((pk, window))
    fired = 0
    for start in range(0, len(matched), CHUNK):
        chunk = matched[start:start + CHUNK]
        with events.atomic():
            # The unique (automation, ticket, window) rows first, set-wise: what another
            # worker or an earlier run wrote is not ours to act on.
            claim = f"claimed by scan {uuid.uuid4().hex}"
            RuleFire.objects.bulk_create(
                [RuleFire(automation=automation, ticket_id=pk, fired_at=now, window=window,
                          changes=claim) for pk, window in chunk], ignore_conflicts=True)
            ours = set(RuleFire.objects.filter(
                automation=automation, changes=claim, ticket_id__in=[pk for pk, _ in chunk])
                .values_list("ticket_id", "window"))
            audit, notes = [], defaultdict(list)
            claimed = [(pk, window) for pk, window in chunk if (pk, window) in ours]
            fires = {pk: Fire(automation, f"a{automation.pk}:{pk}:{window.timestamp()}", now)
                     for pk, window in claimed}
            done = _run_set_wise(automation, [tickets[pk] for pk, _ in claimed],
                                 list(fires.values()))
            for pk, _window in claimed:
                if done is not None:
                    note = done.get(pk) or "no change"
                else:
                    note = "; ".join(run_actions(automation, tickets[pk], fires[pk])) \
                        or "no change"
                audit.append(AuditRow(ticket_id=pk, actor=None, kind=EventKind.RULE,
                                      field="automation", after=automation.name, note=note,
                                      created_at=now))
                notes[note].append(pk)
                fired += 1
            AuditRow.objects.bulk_create(audit)
            for note, pks in notes.items():
                RuleFire.objects.filter(automation=automation, changes=claim,
                                        ticket_id__in=pks).update(changes=note)
    return fired


def _run_set_wise(rule: Automation, tickets: list[Ticket],
                  fires: list[Fire]) -> dict[int, str] | None:
    """The actions' set-wise forms on a chunk of tickets, when every action has one (a
    note on a thousand tickets is three statements, not three thousand); None when
    one has not, or one failed (then each ticket goes the one-by-one way)."""
    specs = rule.actions or []
    acts = [registry.action(spec.get("action", "")) for spec in specs]
    if not tickets or not acts or any(a is None or a.run_many is None for a in acts):
        return None
    changes: dict[int, list[str]] = defaultdict(list)
    try:
        with transaction.atomic(), engine.acting(fires[0].describe):
            for act, spec in zip(acts, specs, strict=True):
                for pk, done in act.run_many(tickets, spec.get("value"), fires).items():
                    if done:
                        changes[pk].append(done)
    except Exception:
        logger.exception("Automation %r: set-wise actions failed; one ticket at a time",
                         rule.name)
        return None
    return {pk: "; ".join(parts) for pk, parts in changes.items()}
