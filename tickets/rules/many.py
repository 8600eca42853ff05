"""Triggers on the events of a batch write (the queue's bulk bar, an incident's update fanned
out to its tickets): the rules of `runner.on_write`, each ticket's triggers in order with
the once-per-update loop guard, but read and written set-wise, so the cost grows with the
rules that fire, not with the tickets times the rules.

Per round: the tickets in one query; each trigger tested on every ticket in memory; the
tickets it matched acted on (set-wise when every action has a set-wise form), their audit
rows and fire records inserted together, and only the changed tickets read again. Tags and
message texts are loaded for the whole round the first time a condition asks for them.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .. import events
from ..models import EventKind, Message, RuleEvent, RuleFire, Ticket, Trigger
from ..models import TicketEvent as AuditRow
from . import engine, runner
from .registry import Context

logger = logging.getLogger(__name__)


class _Round:
    """What the conditions of one round read besides the ticket row, loaded for all its
    tickets at once on first use (and again only for the tickets a rule changed)."""

    def __init__(self, ticket_ids: list[int], message_ids: dict[int, int]) -> None:
        self.ticket_ids = ticket_ids
        self.message_ids = message_ids
        self._tags: dict[int, frozenset[str]] = {}
        self._texts: dict[int, str] | None = None

    def tags_of(self, ticket_id: int) -> frozenset[str]:
        if ticket_id not in self._tags:
            wanted = [pk for pk in self.ticket_ids if pk not in self._tags]
            found: dict[int, set[str]] = defaultdict(set)
            for pk, name in Ticket.tags.through.objects.filter(
                    ticket_id__in=wanted).values_list("ticket_id", "tag__name"):
                found[pk].add(name)
            self._tags.update({pk: frozenset(found[pk]) for pk in wanted})
        return self._tags[ticket_id]

    def forget_tags(self, ticket_ids: list[int]) -> None:
        for pk in ticket_ids:
            self._tags.pop(pk, None)

    def text_of(self, ticket: Ticket) -> str:
        message_id = self.message_ids.get(ticket.pk)
        if message_id is None:
            return f"{ticket.subject}\n{ticket.description}"
        if self._texts is None:
            bodies = dict(Message.objects.filter(pk__in=set(self.message_ids.values()))
                          .values_list("pk", "body"))
            self._texts = {pk: bodies.get(mid, "") for pk, mid in self.message_ids.items()}
        return self._texts.get(ticket.pk, "")


@dataclass
class _RoundContext(Context):
    """A ticket's context in a round: tags and text from the round's shared loads."""

    shared: _Round | None = None

    def tag_names(self, ticket: Ticket) -> frozenset[str]:
        if self.tags is None and self.shared is not None:
            self.tags = self.shared.tags_of(ticket.pk)
        return super().tag_names(ticket)

    def message_text(self, ticket: Ticket) -> str:
        if self.text is None and self.shared is not None:
            self.text = self.shared.text_of(ticket)
        return super().message_text(ticket)


def _load(ids: list[int]) -> dict[int, Ticket]:
    return Ticket.objects.select_related("organization", "requester", "assignee").in_bulk(ids)


def on_batch_write(batch: list[events.TicketEvent]) -> None:
    """Run the triggers on what a batch write did (`events.register_before_publish`'s
    `many`), inside its transaction; their changes are events of the same write, handled
    in later rounds, with `runner.on_write`'s guard: a rule fires at most once per ticket
    per update, and one that another rule's change would make fire again is stopped with
    a warning on it."""
    triggers = engine.active_triggers()
    if not triggers or not batch:
        return
    wanted = {e for t in triggers for e in (t.events or [])} - {RuleEvent.CREATED.value}
    if not wanted:
        return
    created = {e.ticket_id for e in batch if isinstance(e, events.TicketCreated)}
    fired: dict[int, set[int]] = defaultdict(set)
    made_by: dict[int, int] = {}  # position in the batch -> the trigger whose action emitted it
    start = 0
    for _round in range(runner.MAX_ROUNDS):
        end = len(batch)
        if start == end:
            return
        names: dict[int, set[str]] = defaultdict(set)
        replies: dict[int, int] = {}
        by_rules: dict[int, set[int]] = defaultdict(set)
        for position in range(start, end):
            event = batch[position]
            if event.ticket_id in created:
                continue
            names[event.ticket_id] |= runner._names(event)
            if position in made_by:
                by_rules[event.ticket_id].add(made_by[position])
            if isinstance(event, events.PublicReply | events.NoteAdded):
                replies[event.ticket_id] = event.message_id
        start = end
        # By trigger id: comparing model instances costs more than the rules themselves.
        candidates = {pk: {t.pk for t in triggers if got & set(t.events or [])}
                      for pk, got in names.items()}
        candidates = {pk: rules for pk, rules in candidates.items() if rules}
        if candidates:
            _run_round(triggers, candidates, names, replies, fired, batch=batch,
                       made_by=made_by, by_rules=by_rules)
    if len(batch) > start:
        logger.warning("Triggers stopped after %d rounds in one write", runner.MAX_ROUNDS)


def _run_round(triggers: list[Trigger], candidates: dict[int, set[int]],
               names: dict[int, set[str]], replies: dict[int, int],
               fired: dict[int, set[int]], *, batch: list[events.TicketEvent],
               made_by: dict[int, int], by_rules: dict[int, set[int]]) -> None:
    """One round, trigger by trigger in their order over all tickets: each ticket still
    meets its triggers in order, and sees what the earlier ones changed."""
    tickets = _load(sorted(candidates))
    now = timezone.now()
    shared = _Round(sorted(tickets), {pk: mid for pk, mid in replies.items() if pk in tickets})
    contexts = {pk: _RoundContext(now=now, events=frozenset(names[pk]), shared=shared)
                for pk in tickets}
    stopped: set[int] = set()
    wanted = set().union(*candidates.values())
    for trigger in triggers:
        if trigger.pk not in wanted:
            continue
        matched, again = [], []
        for pk, ticket in tickets.items():
            if pk in stopped or trigger.pk not in candidates.get(pk, ()):
                continue
            if not engine.matches(trigger, ticket, contexts[pk]):
                continue
            if trigger.pk in fired[pk]:
                if by_rules[pk] - {trigger.pk}:
                    again.append(pk)
                continue
            fired[pk].add(trigger.pk)
            matched.append(pk)
        if again:
            shown = ", ".join(f"#{pk}" for pk in again[:10]) + (" \u2026" if len(again) > 10
                                                                  else "")
            engine.warn(trigger, f"Stopped on {shown}: another rule changed the ticket after "
                        "this one, and it would fire again in the same update (a loop "
                        "between rules?); its actions were not repeated.")
        if not matched:
            continue
        before = len(batch)
        changes = _act(trigger, [tickets[pk] for pk in matched], now=now)
        made_by.update(dict.fromkeys(range(before, len(batch)), trigger.pk))
        _audit(trigger, matched, changes, now=now)
        if trigger.stop_processing:
            stopped.update(matched)
        # What the rule changed is what later rules see.
        changed = [pk for pk in matched if changes.get(pk)]
        if changed:
            tickets.update(_load(changed))
            shared.forget_tags(changed)
            for pk in changed:
                contexts[pk].tags = None


def _act(trigger: Trigger, tickets: list[Ticket], *, now: datetime) -> dict[int, list[str]]:
    """The trigger's actions on the tickets it matched: set-wise when every action has a
    set-wise form (one failing falls back to one ticket at a time), else per ticket."""
    fires = {t.pk: runner.Fire(trigger, f"t{trigger.pk}:{t.pk}:{now.timestamp()}", now)
             for t in tickets}
    done = runner._run_set_wise(trigger, tickets, list(fires.values()))  # type: ignore[arg-type]
    if done is not None:
        return {pk: [text] for pk, text in done.items() if text}
    return {t.pk: runner.run_actions(trigger, t, fires[t.pk]) for t in tickets}


def _audit(trigger: Trigger, ticket_ids: list[int], changes: dict[int, list[str]], *,
           now: datetime) -> None:
    """Each fire as `runner._audit` writes it (a "rule" ticket event and a fire record),
    in two statements for all the tickets."""
    notes = {pk: "; ".join(changes.get(pk) or []) or "no change" for pk in ticket_ids}
    AuditRow.objects.bulk_create([
        AuditRow(ticket_id=pk, actor=None, kind=EventKind.RULE, field="trigger",
                 after=trigger.name, note=notes[pk], created_at=now) for pk in ticket_ids])
    RuleFire.objects.bulk_create([
        RuleFire(trigger=trigger, ticket_id=pk, fired_at=now, changes=notes[pk])
        for pk in ticket_ids])
