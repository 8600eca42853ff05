"""Domain events: what happened to a ticket, and who reacts to it.

Apps above `tickets` subscribe in their AppConfig.ready(); `tickets` never imports them.
Two kinds of handlers:

- in the request (the SLA clocks): a write of `tickets.services` runs them inside its
  own transaction just before it commits, so the ticket and its clocks commit together
  (inside a caller's transaction, e.g. a batch, they run after that one commits);
- deferred (`subscribe(..., deferred=True)`: mail, notices, casework, deflection...):
  the events go into the outbox (`PendingEvents`, one row per write, in its
  transaction) and a Celery task runs the handlers after commit and deletes the row in
  the same transaction. A task that cannot be queued runs in the request; one that was
  lost is queued again by the beat sweep (`requeue_pending`). So a reaction is never
  lost and never applied twice.
"""
from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Protocol, TypeVar

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TicketEvent:
    ticket_id: int
    actor_id: int | None
    at: datetime


@dataclass(frozen=True)
class TicketCreated(TicketEvent):
    pass


@dataclass(frozen=True)
class PublicReply(TicketEvent):
    message_id: int
    by_agent: bool


@dataclass(frozen=True)
class StatusChanged(TicketEvent):
    before: str
    after: str


@dataclass(frozen=True)
class PriorityChanged(TicketEvent):
    before: int
    after: int


@dataclass(frozen=True)
class Assigned(TicketEvent):
    assignee_id: int | None
    team_id: int | None


@dataclass(frozen=True)
class TagsChanged(TicketEvent):
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class CustomFieldsChanged(TicketEvent):
    """Custom field values changed (tickets.services.set_custom_fields)."""

    keys: tuple[str, ...]


@dataclass(frozen=True)
class Escalated(TicketEvent):
    escalation_id: int


@dataclass(frozen=True)
class Merged(TicketEvent):
    into_id: int


@dataclass(frozen=True)
class Reopened(TicketEvent):
    pass


@dataclass(frozen=True)
class AssigneeChanged(TicketEvent):
    """The ticket went from one assignee to another (either may be None)."""

    before_id: int | None
    after_id: int | None
    record_id: int  # the audit row, so each change has its own identity


@dataclass(frozen=True)
class NoteAdded(TicketEvent):
    """An internal note written by an agent (never by the system)."""

    message_id: int


@dataclass(frozen=True)
class SurveyAnswered(TicketEvent):
    """A customer rated the ticket's survey or changed their answer (at = responded_at)."""

    survey_id: int


E = TypeVar("E", bound=TicketEvent)
Handler = Callable[[TicketEvent], None]
_handlers: dict[type[TicketEvent], list[Handler]] = defaultdict(list)
#: Handlers that need not hold the request: they run on a worker, from the outbox.
_deferred: set[Handler] = set()
BatchHandler = Callable[[Sequence[TicketEvent]], None]
# The batch form of a handler, for events written many at a time (an incident update
# on a thousand tickets, the bulk bar): same rule, read and written set-wise.
_batch_forms: dict[tuple[type[TicketEvent], Handler], BatchHandler] = {}


def subscribe(event_type: type[E], handler: Callable[[E], None], *,
              deferred: bool = False,
              many: Callable[[Sequence[E]], None] | None = None) -> None:
    """Call `handler` for every `event_type` (see the module docstring for `deferred`;
    a deferred handler must be idempotent); with `many`, events handled together
    (`emit_many`, an outbox row, `dispatch_many`) go to `many(events)` in one call."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)  # type: ignore[arg-type]
    if deferred:
        _deferred.add(handler)  # type: ignore[arg-type]
    if many is not None:
        _batch_forms[(event_type, handler)] = many  # type: ignore[index,assignment]


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler in _handlers[event_type]:
        _handlers[event_type].remove(handler)  # type: ignore[arg-type]
    _batch_forms.pop((event_type, handler), None)  # type: ignore[arg-type]


def _rounds(batch: Sequence[TicketEvent]) -> list[dict[type[TicketEvent], list[TicketEvent]]]:
    """Round n holds each ticket's n-th event, by type, so every ticket's events are
    handled in the order they happened (assigned before its status change)."""
    rounds: list[dict[type[TicketEvent], list[TicketEvent]]] = []
    seen: dict[int, int] = defaultdict(int)
    for event in batch:
        n = seen[event.ticket_id]
        seen[event.ticket_id] += 1
        if n == len(rounds):
            rounds.append(defaultdict(list))
        rounds[n][type(event)].append(event)
    return rounds


def _dispatch_group(event_type: type[TicketEvent], group: list[TicketEvent],
                    handlers: list[Handler], *, savepoint: bool = False) -> None:
    """One type's events, of distinct tickets, to each handler: its batch form once, or
    the handler per event. A batch form that fails is retried event by event (every
    handler is idempotent), so one bad ticket does not lose the others' reactions."""
    for handler in handlers:
        many = _batch_forms.get((event_type, handler))
        if many is not None and len(group) > 1:
            try:
                with transaction.atomic() if savepoint else nullcontext():
                    many(group)
                continue
            except Exception:
                logger.exception("Batch handler %r failed for %d events; one by one",
                                 many, len(group))
        for event in group:
            try:
                with transaction.atomic() if savepoint else nullcontext():
                    handler(event)
            except Exception:
                logger.exception("Handler %r failed for %r", handler, event)


def dispatch_many(batch: Sequence[TicketEvent]) -> None:
    """`dispatch` for events written together: every handler, deferred ones included (a
    replay of committed work), batch forms where they exist."""
    for by_type in _rounds(batch):
        for event_type, group in by_type.items():
            _dispatch_group(event_type, group, list(_handlers[event_type]))


def _dispatch_inline_many(batch: Sequence[TicketEvent]) -> None:
    for by_type in _rounds(batch):
        for event_type, group in by_type.items():
            _dispatch_group(event_type, group,
                            [h for h in _handlers[event_type] if h not in _deferred])


def dispatch_deferred_many(batch: Sequence[TicketEvent]) -> None:
    """The deferred handlers of events written together (one outbox row), each call in
    its own savepoint: the worker's side of `emit` and `emit_many`."""
    for by_type in _rounds(batch):
        for event_type, group in by_type.items():
            _dispatch_group(event_type, group,
                            [h for h in _handlers[event_type] if h in _deferred],
                            savepoint=True)


def emit_many(batch: Sequence[TicketEvent]) -> None:
    """Events of a batch write (`tickets.batch`): with the enclosing `atomic()` block's,
    or handed over together: the in-request handlers after the caller's transaction
    commits, set-wise, the deferred ones through one outbox row."""
    events = list(batch)
    if not events:
        return
    stack = _stack()
    if stack:
        stack[-1].events.extend(events)
        return
    if _before_publish_many:
        events = _run_batch_hooks(events)
    if any(_inline(e) for e in events):
        transaction.on_commit(lambda: _dispatch_inline_many(events))
    deferred = [to_payload(e) for e in events if _has_deferred(e)]
    if deferred:
        from .models import PendingEvents

        row = PendingEvents.objects.create(events=deferred, created_at=timezone.now())
        transaction.on_commit(lambda: _queue_pending(row.pk), robust=True)


def _run(handlers: Iterable[Handler], event: TicketEvent) -> None:
    for handler in handlers:
        try:
            handler(event)
        except Exception:
            logger.exception("Handler %r failed for %r", handler, event)


def dispatch(event: TicketEvent) -> None:
    """Call every handler now, deferred ones included (a replay of committed work runs
    them all); one failing handler does not stop the others."""
    _run(list(_handlers[type(event)]), event)


def _inline(event: TicketEvent) -> list[Handler]:
    return [h for h in _handlers[type(event)] if h not in _deferred]


def _has_deferred(event: TicketEvent) -> bool:
    return any(h in _deferred for h in _handlers[type(event)])


def dispatch_deferred(event: TicketEvent) -> None:
    """Call the deferred handlers of the event now, each in its own savepoint (the
    worker's side of `emit`)."""
    for handler in [h for h in _handlers[type(event)] if h in _deferred]:
        try:
            with transaction.atomic():
                handler(event)
        except Exception:
            logger.exception("Handler %r failed for %r", handler, event)


# --- events as plain data (the outbox row) ---------------------------------------------

_types: dict[str, type[TicketEvent]] = {}


def to_payload(event: TicketEvent) -> dict[str, Any]:
    _types.setdefault(type(event).__name__, type(event))
    data: dict[str, Any] = {"type": type(event).__name__}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, datetime):
            value = {"datetime": value.isoformat()}
        elif isinstance(value, tuple):
            value = list(value)
        data[f.name] = value
    return data


def from_payload(data: dict[str, Any]) -> TicketEvent:
    cls = _types.get(data["type"]) or next(
        c for c in _all_types() if c.__name__ == data["type"])
    values: dict[str, Any] = {}
    for f in fields(cls):
        value = data[f.name]
        if isinstance(value, dict) and "datetime" in value:
            value = datetime.fromisoformat(value["datetime"])
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


def _all_types() -> list[type[TicketEvent]]:
    found, todo = [], [TicketEvent]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


# --- the outbox ---------------------------------------------------------------------

class _Queue(Protocol):
    def delay(self, pending_id: int) -> Any: ...


_queue: _Queue | None = None


def register_queue(task: _Queue) -> None:
    """The Celery task that handles one outbox row (tickets.tasks)."""
    global _queue
    _queue = task


def handle_pending(pending_id: int) -> bool:
    """Run the deferred handlers of one outbox row and delete it, in one transaction;
    False when it is gone (handled already) or another worker holds it."""
    from .models import PendingEvents

    with transaction.atomic():
        row = (PendingEvents.objects.select_for_update(skip_locked=True)
               .filter(pk=pending_id).first())
        if row is None:
            return False
        dispatch_deferred_many([from_payload(data) for data in row.events])
        row.delete()
    return True


def _queue_pending(pending_id: int) -> None:
    if _queue is not None:
        try:
            _queue.delay(pending_id)
            return
        except Exception:
            # Broker down: the change is committed, and its reactions must not wait for
            # the sweep when they can run here.
            logger.warning("Could not queue outbox row %s; handling it now", pending_id,
                           exc_info=True)
    try:
        handle_pending(pending_id)
    except Exception:
        # Handled and committed, but what its handlers queue after commit failed too
        # (their own sweeps retry it): the change itself is saved, so say so.
        logger.exception("Outbox row %s: queueing after its handlers failed", pending_id)


def requeue_pending(*, older_than_seconds: int = 120, limit: int = 500) -> int:
    """Queue again the outbox rows whose task was lost (beat); safe to run twice."""
    from .models import PendingEvents

    cutoff = timezone.now() - timezone.timedelta(seconds=older_than_seconds)
    ids = list(PendingEvents.objects.filter(created_at__lt=cutoff).order_by("pk")
               .values_list("pk", flat=True)[:limit])
    for pk in ids:
        _queue_pending(pk)
    return len(ids)


def _publish(batch: list[TicketEvent], *, before_commit: bool) -> None:
    """Hand a batch written together to its handlers: the in-request ones now (inside the
    transaction that is about to commit) or after the caller's transaction commits, the
    deferred ones through one outbox row."""
    if before_commit:
        # No try/except here: a handler that fails inside the transaction fails the
        # write, so the ticket and its clocks commit together or not at all.
        _frames.before_commit = True
        try:
            for position, event in enumerate(batch):
                _frames.position = position
                for handler in _inline(event):
                    handler(event)
        finally:
            _frames.before_commit = False
    else:
        for event in batch:
            if handlers := _inline(event):
                transaction.on_commit(lambda e=event, h=handlers: _run(h, e))
    deferred = [to_payload(e) for e in batch if _has_deferred(e)]
    if deferred:
        from .models import PendingEvents

        row = PendingEvents.objects.create(events=deferred, created_at=timezone.now())
        transaction.on_commit(lambda: _queue_pending(row.pk), robust=True)


def created_in_this_write(ticket_id: int) -> bool:
    """While in-request handlers run: True when this write created the ticket and its
    TicketCreated comes later in the batch, so a handler of the ticket's earlier events
    may leave it to the TicketCreated one, which sees the ticket as the write left it."""
    batch = getattr(_frames, "publishing", None)
    later = batch.events[getattr(_frames, "position", 0) + 1:] if batch is not None else []
    return before_commit() and any(
        isinstance(e, TicketCreated) and e.ticket_id == ticket_id for e in later)


def before_commit() -> bool:
    """True while in-request handlers run inside the write's own transaction (so the
    ticket of a TicketCreated was created in it, and nobody else can see it yet)."""
    return getattr(_frames, "before_commit", False)


_frames = threading.local()


@dataclass
class _Batch:
    """What one write emitted, the columns of ticket rows to write at its end, the
    tickets it created, as it wrote them (`keep_new_ticket`), and the ones it holds
    locked (`hold_ticket`)."""

    events: list[TicketEvent]
    rows: dict[int, dict[str, Any]]
    new: dict[int, Any] = field(default_factory=dict)
    held: dict[int, Any] = field(default_factory=dict)  # `hold_ticket`


BeforeInsert = Callable[[Any, datetime], None]
_before_insert: list[BeforeInsert] = []


def register_before_insert(hook: BeforeInsert) -> None:
    """Call `hook(ticket, at)` on a new ticket just before its INSERT, so an app above
    may fill its own denormalised columns (sla: the next due time) in that INSERT
    instead of an UPDATE after it. The hook writes nothing; what it computed may be kept
    on the instance for the app's TicketCreated handler, which gets the instance back
    from `new_ticket` (and must not trust it otherwise)."""
    if hook not in _before_insert:
        _before_insert.append(hook)


def unregister_before_insert(hook: BeforeInsert) -> None:
    if hook in _before_insert:
        _before_insert.remove(hook)


def before_insert(ticket: Any, at: datetime) -> None:
    """Run the before-insert hooks on a ticket about to be inserted (tickets.services),
    when the write's in-request handlers will run inside its own transaction and get the
    instance back (`new_ticket`): not inside a caller's transaction, where the row would
    stay as the hooks left it, without what they planned, until that one commits."""
    if len(_stack()) == 1 and len(transaction.get_connection().atomic_blocks) == 1:
        for hook in _before_insert:
            hook(ticket, at)


def keep_new_ticket(ticket: Any) -> None:
    """The write that created `ticket` and is about to emit its TicketCreated hands the
    instance to that event's in-request handlers (see `new_ticket`). Only the outermost
    write does: a caller around it may change the row in ways the instance misses."""
    stack = _stack()
    if len(stack) == 1:
        stack[0].new[ticket.pk] = ticket


def _kept(batch: _Batch, ticket_id: int) -> Any:
    """The kept instance of a ticket created by the write, if nothing of the write
    changed the ticket after its TicketCreated (no event of it follows)."""
    ticket = batch.new.get(ticket_id)
    if ticket is None:
        return None
    created = [i for i, e in enumerate(batch.events)
               if isinstance(e, TicketCreated) and e.ticket_id == ticket_id]
    if len(created) != 1 or any(e.ticket_id == ticket_id
                                for e in batch.events[created[0] + 1:]):
        return None
    return ticket


def hold_ticket(ticket: Any) -> None:
    """The write read `ticket` FOR UPDATE in its own transaction and keeps the instance
    as the row will be when it commits: what it changes it sets on the instance too
    (and hands the columns to `write_ticket_later`). Its in-request handlers may then use
    the instance (`held_ticket`) instead of reading the row again."""
    stack = _stack()
    if stack:
        stack[0].held[ticket.pk] = ticket  # the outermost write publishes the events


def held_ticket(ticket_id: int) -> Any:
    """While the in-request handlers of a write run inside its transaction: the ticket
    the write holds (`hold_ticket`), when the event being handled is the write's only
    event of that ticket and the columns left for the write's UPDATE are those of the
    instance, so nothing changed the row behind it; None otherwise (read the row)."""
    batch = getattr(_frames, "publishing", None)
    if batch is None or not before_commit():
        return None
    ticket = batch.held.get(ticket_id)
    if ticket is None or sum(e.ticket_id == ticket_id for e in batch.events) != 1:
        return None
    pending = batch.rows.get(ticket_id, {})
    if any(getattr(ticket, name, None) != value for name, value in pending.items()):
        return None
    return ticket


def new_ticket(ticket_id: int) -> Any:
    """While the in-request handlers of a write run inside its transaction: the ticket
    this write created, as the object it inserted (the row is exactly that object), so
    a TicketCreated handler needs no read; None otherwise (read the row)."""
    batch = getattr(_frames, "publishing", None)
    if batch is None or not before_commit():
        return None
    return _kept(batch, ticket_id)


def is_as_written(ticket: Any) -> bool:
    """True when `ticket` is the instance a committed write created and kept, with what
    its in-request handlers wrote to the row since: the caller need not re-read it."""
    return getattr(ticket, "_events_as_written", False)


BeforePublish = Callable[[list[TicketEvent]], None]
_before_publish: list[BeforePublish] = []


_before_publish_many: list[BeforePublish] = []


def register_before_publish(hook: BeforePublish, *, many: BeforePublish | None = None
                            ) -> None:
    """Call `hook(events)` at the end of each outermost `atomic()` block that emitted
    events, inside its transaction, before they are handed over: the triggers
    (`tickets.rules.runner.on_write`). What the hook's own writes emit is appended to
    the same list, so the in-request handlers see it too. `many(events)`: the same for
    the events of a batch write (`emit_many` outside such a block: the bulk bar, an
    incident's fan-out), inside the caller's transaction, read and written set-wise."""
    if hook not in _before_publish:
        _before_publish.append(hook)
    if many is not None and many not in _before_publish_many:
        _before_publish_many.append(many)


def _run_batch_hooks(batch: list[TicketEvent]) -> list[TicketEvent]:
    """The batch hooks on a batch write's events, inside the caller's transaction; what
    their writes emit joins the batch (a frame on the stack, so nested `atomic()` blocks
    append to it), and the ticket columns they leave for later are written here."""
    from .models import Ticket

    stack = _stack()
    frame = _Batch(batch, {})
    stack.append(frame)
    try:
        for hook in _before_publish_many:
            hook(frame.events)
    finally:
        stack.pop()
    for pk, values in frame.rows.items():
        Ticket.objects.filter(pk=pk).update(**values)
    return frame.events


def _stack() -> list[_Batch]:
    if not hasattr(_frames, "stack"):
        _frames.stack = []
    return _frames.stack


def write_ticket_later(ticket_id: int, **values: Any) -> bool:
    """Add column values to the one UPDATE of the ticket's row that the enclosing write
    makes just before it commits (after its in-request handlers ran), so a write and its
    reactions touch the row once. False outside such a write: the caller writes them."""
    stack = _stack()
    batch = stack[-1] if stack else getattr(_frames, "publishing", None)
    if batch is None:
        return False
    batch.rows.setdefault(ticket_id, {}).update(values)
    return True


@contextmanager
def atomic(*, savepoint: bool = True) -> Iterator[None]:
    """`transaction.atomic()` for a write that emits events: the events of its outermost
    block are handed over together at its end (see the module docstring), and the ticket
    columns given to `write_ticket_later` written. Events of a block that fails are
    dropped with its changes. `savepoint=False`: inside a caller's transaction that
    rolls back as a whole on failure (no SAVEPOINT round trips)."""
    from .models import Ticket

    stack = _stack()
    with transaction.atomic(savepoint=savepoint):
        stack.append(_Batch([], {}))
        try:
            yield
            if len(stack) == 1 and stack[-1].events:
                for hook in _before_publish:
                    hook(stack[-1].events)
        except BaseException:
            stack.pop()
            raise
        batch = stack.pop()
        if stack:
            stack[-1].events.extend(batch.events)
            for pk, values in batch.rows.items():
                stack[-1].rows.setdefault(pk, {}).update(values)
            return
        inline = len(transaction.get_connection().atomic_blocks) == 1
        if batch.events:
            _frames.publishing = batch
            try:
                _publish(batch.events, before_commit=inline)
            finally:
                _frames.publishing = None
        for pk, values in batch.rows.items():
            Ticket.objects.filter(pk=pk).update(**values)
        if inline:
            for pk in batch.new:
                values = batch.rows.get(pk, {})
                if (ticket := _kept(batch, pk)) is not None and not any(
                        hasattr(v, "resolve_expression") for v in values.values()):
                    for name, value in values.items():
                        setattr(ticket, name, value)
                    ticket._events_as_written = True


def emit(event: TicketEvent) -> None:
    """Announce what happened: with the batch of the enclosing `atomic()` block, or on
    its own (after the current transaction commits)."""
    stack = _stack()
    if stack:
        stack[-1].events.append(event)
    else:
        _publish([event], before_commit=False)
