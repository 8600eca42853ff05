"""The import run: reference data, then tickets in chunks written in bulk, each chunk one
transaction with its source records, so an interrupted run resumes after the last chunk.

Faithful time: rows are written directly with their original timestamps, never through
`tickets.services`, whose writes announce domain events that send e-mails, schedule
surveys and notify people. Nothing here emits a ticket event. SLA clocks are the one
derived state written through its own services (see `importers.clocks`).
"""
from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from helpdesk.bulkload import RowWriter
from reporting import rollups
from sla.models import Clock, ClockEvent, ClockLevelFire, ClockPause
from tickets.attachments import guess_content_type, safe_filename
from tickets.changes import CHANGE_LOG_TRIGGERS
from tickets.models import (
    OPEN_STATUS_VALUES,
    Attachment,
    Channel,
    EventKind,
    Message,
    Tag,
    Ticket,
    TicketEvent,
    TimeEntry,
)
from tickets.state_machine import Status

from . import clocks, mapping
from .book import RecordBook
from .knowledge_import import import_knowledge
from .models import ImportedRecord, ImportProblem, ImportRun, RunStatus, Source
from .people import People
from .progress import Progress
from .records import AttachmentRecord, ChangeRecord, EntryRecord, Problem, TicketRecord
from .sources import SourceReader

logger = logging.getLogger(__name__)

TICKET_COLUMNS = (
    "id", "subject", "description", "requester_id", "organization_id", "priority", "channel",
    "team_id", "assignee_id", "status", "waiting_reason", "created_at", "updated_at",
    "status_changed_at", "first_response_at", "resolved_at", "closed_at", "reopen_count",
    "sla_level",
)
MESSAGE_COLUMNS = ("id", "ticket_id", "author_id", "is_public", "by_agent", "body", "channel",
                   "created_at")
EVENT_COLUMNS = ("ticket_id", "actor_id", "created_at", "kind", "field", "before", "after",
                 "note", "is_public")
ATTACHMENT_COLUMNS = ("message_id", "file", "filename", "content_type", "size", "created_at")
# Channel.values builds a new list on every access: looked up per message, keep one set.
CHANNELS = frozenset(Channel.values)
TIME_COLUMNS = ("ticket_id", "agent_id", "message_id", "started_at", "ended_at", "minutes",
                "note")


@dataclass
class Options:
    name: str = ""
    chunk_size: int = 2000
    queue_map: dict[str, str] = field(default_factory=dict)
    rollup: bool = True
    progress: bool = True
    # PostgreSQL, superuser, no triggers of our own: write chunks with the foreign-key
    # triggers off. Every id the loader writes is one it created or looked up in this run,
    # so the checks only cost time; for a cut-over when nobody else writes to the database.
    fast_load: bool = False
    # Called after each committed chunk with the number of tickets read so far (tests
    # interrupt a run here).
    after_chunk: Callable[[int], None] | None = None


@dataclass
class _Plan:
    """One chunk of source tickets: which are new or changed, and what went wrong."""

    known: dict
    new: list[TicketRecord]
    changed: list[TicketRecord]
    problems: list[Problem]
    broken: set
    clock: float = 0.0  # perf_counter at the end of the last stage timed


@dataclass
class _Batch:
    """The rows of one chunk, written table by table at the end."""

    tickets: list[tuple] = field(default_factory=list)
    messages: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    attachments: list[tuple[int, int, AttachmentRecord, datetime]] = field(default_factory=list)
    times: list[tuple] = field(default_factory=list)
    ccs: list[tuple[int, int]] = field(default_factory=list)
    tags: list[tuple[int, int]] = field(default_factory=list)
    records: dict[str, list[tuple[int, int, int | None]]] = field(
        default_factory=lambda: defaultdict(list))


class Loader:
    def __init__(self, source: SourceReader, options: Options | None = None, *,
                 out: Callable[[str], None] = print) -> None:
        self.source = source
        self.options = options or Options()
        self.out = out
        self.label = "Zendesk" if source.kind == "zendesk" else "django-helpdesk"
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.problem_count = 0
        self._tags: dict[str, int] | None = None
        self._next_id: dict[type, int] = {}
        self.timings: dict[str, float] = defaultdict(float)  # seconds by stage

    # --- the run ---------------------------------------------------------------------

    def run(self) -> ImportRun:
        self.now = timezone.now()
        name = self.options.name or self.source.default_name
        source, _ = Source.objects.get_or_create(
            name=name, defaults={"kind": self.source.kind, "created_at": self.now})
        if source.kind != self.source.kind:
            raise ValueError(f"Source {name!r} was imported as {source.get_kind_display()}; "
                             "choose another --name.")
        source.location = self.source.location[:500]
        source.save(update_fields=["location"])
        previous = ImportRun.objects.filter(source=source).order_by("-started_at", "-pk").first()
        self.retry = set(ImportProblem.objects.filter(
            run=previous, ticket_key__isnull=False).values_list("ticket_key", flat=True)
        ) if previous else set()
        self.run_row = ImportRun.objects.create(source=source, started_at=self.now)
        self.writer = RowWriter()
        self.book = RecordBook(source.pk, self.writer)
        self.storage_prefix = f"attachments/imported/{mapping.slug_text(name, max_length=40)}"
        self.people = People(self.book, now=self.now, label=self.label)
        # A fast import is a bulk load of history, like seed_data: the export's change-log
        # triggers stay off with the foreign-key ones (README, "Incremental export").
        self.skip_fk_checks = self.options.fast_load and self.writer.can_skip_fk_checks(
            [Ticket, Message, TicketEvent, Attachment, TimeEntry, ImportedRecord, Clock,
             ClockEvent, ClockPause, ClockLevelFire, Ticket.ccs.through, Ticket.tags.through],
            ignore_triggers=CHANGE_LOG_TRIGGERS)
        if self.options.fast_load and not self.skip_fk_checks:
            self.out("Fast load needs PostgreSQL and a superuser: foreign keys stay checked.")
        try:
            clock = time.perf_counter()
            self._reference_data()
            clock = self._lap("people, teams, knowledge base", clock)
            self._tickets()
            clock = time.perf_counter()
            self._merges()
            self.writer.analyze([Ticket, Message, TicketEvent, Attachment, ImportedRecord,
                                 Ticket.ccs.through, Ticket.tags.through])
            clock = self._lap("merges, statistics", clock)
            if self.options.rollup and (self.counts["tickets"]["new"]
                                        or self.counts["tickets"]["changed"]):
                self.out("Rebuilding the metrics rollup (last 120 days)…")
                rollups.rebuild()
                self._lap("metrics rollup", clock)
            self.run_row.status = RunStatus.FINISHED
        except KeyboardInterrupt:
            self.run_row.status = RunStatus.INTERRUPTED
            raise
        except Exception as exc:
            self.run_row.status = RunStatus.FAILED
            self.run_row.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.run_row.finished_at = timezone.now()
            self.run_row.counts = self.summary_counts()
            self.run_row.save()
            self.source.close()
        return self.run_row

    def summary_counts(self) -> dict[str, dict[str, int]]:
        counts = {}
        for kind, outcomes in [*self.people.counts.items(), *self.counts.items()]:
            if any(outcomes.values()):
                counts[kind] = {o: n for o, n in outcomes.items() if n}
        skipped = self.source.skipped()
        if skipped:
            counts["not imported (no equivalent here)"] = skipped
        return counts

    def _problems(self, problems: Iterable[Problem]) -> None:
        rows = [ImportProblem(run=self.run_row, kind=p.kind, source_key=p.source_id[:100],
                              ticket_key=p.ticket_key, reason=p.reason[:255], detail=p.detail)
                for p in problems]
        ImportProblem.objects.bulk_create(rows)
        self.problem_count += len(rows)

    def _reference_data(self) -> None:
        self.out("Reading organizations, people and teams…")
        with transaction.atomic():
            self.people.import_organizations(self.source.organizations())
            self.people.import_people(self.source.people())
            self.people.import_contacts(self.source.contacts())
            self.people.import_teams(self.source.teams(), self.options.queue_map)
            self.people.import_memberships(self.source.memberships())
        with transaction.atomic():
            self._problems(import_knowledge(self.source, self.book, self.people, self.counts,
                                            now=self.now))

    # --- tickets ---------------------------------------------------------------------

    def _tickets(self) -> None:
        total = self.source.ticket_count()
        progress = Progress(total, "tickets", enabled=self.options.progress)
        # On PostgreSQL a second thread, with its own connection, writes chunk k (rows,
        # clocks, commit: mostly the database's work) while this one reads and builds chunk
        # k+1. Not inside a caller's transaction (tests): the other connection could not
        # see its uncommitted rows. Chunks with changed tickets are done here, in order.
        parallel = self.writer.postgres and not transaction.get_connection().in_atomic_block
        pool = ThreadPoolExecutor(max_workers=1) if parallel else None
        pending: tuple[Future, int] | None = None
        done = 0

        def committed(count: int) -> None:
            nonlocal done
            done += count
            progress.update(count, problems=self.problem_count)
            if self.options.after_chunk is not None:
                self.options.after_chunk(done)

        try:
            for headers in self.source.ticket_chunks(self.options.chunk_size):
                plan = self._read(headers)
                if pool is None or plan.changed:
                    if pending is not None:
                        pending[0].result()
                        committed(pending[1])
                        pending = None
                    with transaction.atomic():
                        self._tune_transaction()
                        batch, open_new, history, start = self._build(plan)
                        self._store(plan, batch, open_new + start, history)
                    self._lap("committing", plan.clock)
                    self.counts["tickets"]["failed"] += len(plan.broken)
                    committed(len(headers))
                    continue
                batch, open_new, _, _ = self._build(plan)
                self.counts["tickets"]["failed"] += len(plan.broken)
                if pending is not None:
                    pending[0].result()
                    committed(pending[1])
                pending = (pool.submit(self._store_chunk, plan, batch, open_new), len(headers))
            if pending is not None:
                future, count = pending
                pending = None
                future.result()
                committed(count)
        finally:
            if pool is not None:
                if pending is not None:
                    wait([pending[0]])
                pool.submit(lambda: connections[DEFAULT_DB_ALIAS].close()).result()
                pool.shutdown()
            progress.close()

    def _read(self, headers: list[TicketRecord]) -> _Plan:
        """Which tickets of a chunk are new or changed, with their details from the source."""
        clock = time.perf_counter()
        known = self.book.lookup("ticket", [t.key for t in headers])
        new = [t for t in headers if t.key not in known]
        changed = [t for t in headers if t.key in known
                   and (known[t.key][1] != t.digest or t.key in self.retry)]
        self.counts["tickets"]["unchanged"] += len(headers) - len(new) - len(changed)
        problems = self.source.load_details(new + changed)
        broken = {p.ticket_key for p in problems if p.kind == "ticket" and p.ticket_key}
        plan = _Plan(known, new, changed, problems, broken)
        plan.clock = self._lap("reading the source", clock)
        return plan

    def _build(self, plan: _Plan) -> tuple[_Batch, list[int], dict, list[int]]:
        """The chunk's rows. Changed tickets are updated in place: call it inside the
        chunk's transaction when there are any."""
        batch = _Batch()
        # Message ids for the chunk in one block (an upper bound: gaps are harmless).
        wanted = sum(len(t.entries) + 1 for t in plan.new + plan.changed)
        first = self._ids(Message, wanted)
        self._message_ids = iter(range(first, first + wanted))
        open_new = self._insert([t for t in plan.new if t.key not in plan.broken], batch,
                                plan.problems)
        history, start = self._update([t for t in plan.changed if t.key not in plan.broken],
                                      plan.known, batch, plan.problems)
        plan.clock = self._lap("building rows", plan.clock)
        return batch, open_new, history, start

    def _store_chunk(self, plan: _Plan, batch: _Batch, open_new: list[int]) -> None:
        """A chunk of new tickets in one transaction (on the writing thread)."""
        plan.clock = time.perf_counter()
        with transaction.atomic():
            self._tune_transaction()
            self._store(plan, batch, open_new, {})
        self._lap("committing", plan.clock)

    def _store(self, plan: _Plan, batch: _Batch, start: list[int],
               history: dict[int, list[clocks.Happened]]) -> None:
        self._write(batch)
        plan.clock = self._lap("writing rows", plan.clock)
        clocks.start(start, now=self.now, reason=f"imported from {self.label}")
        clocks.replay(history, now=self.now)
        self._problems(plan.problems)
        plan.clock = self._lap("SLA clocks", plan.clock)

    def _tune_transaction(self) -> None:
        """PostgreSQL: a chunk's commit does not wait for its WAL flush (a crash can lose
        the last chunks, which the next run imports again: their records go with them)."""
        if not self.writer.postgres:
            return
        with self.writer.connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
            if self.skip_fk_checks:
                cursor.execute("SET LOCAL session_replication_role TO replica")

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[stage] += now - since
        return now

    # --- one ticket's rows -------------------------------------------------------------

    def _ids(self, model: type, count: int) -> int:
        """First of `count` fresh ids. RowWriter reserves from the table's highest id (and
        the sequence on PostgreSQL); rows of this chunk are not written yet, so blocks
        handed out earlier in the run are skipped too."""
        start = max(self.writer.reserve_ids(model, count), self._next_id.get(model, 0))
        self._next_id[model] = start + count
        return start

    def _settle_status(self, t: TicketRecord) -> None:
        """A ticket resolved longer ago than the auto-close delay is closed, as this product
        would have closed it then (its scheduled job closes resolved tickets)."""
        days = settings.HELPDESK_AUTO_CLOSE_DAYS
        if t.status == Status.RESOLVED and t.resolved_at is not None \
                and t.resolved_at + timedelta(days=days) < self.now:
            closed = t.resolved_at + timedelta(days=days)
            t.changes.append(ChangeRecord(
                at=closed, actor=None, kind=EventKind.STATUS, field="status",
                before=Status.RESOLVED.value, after=Status.CLOSED.value,
                note="closed automatically", public=True))
            t.status, t.closed_at = Status.CLOSED.value, closed
            t.status_changed_at = max(t.status_changed_at, closed)
            t.updated_at = max(t.updated_at, closed)

    def _first_response(self, t: TicketRecord) -> datetime | None:
        times = [e.at for e in t.entries if e.public and e.at >= t.created_at
                 and self.people.user(e.author) in self.people.staff]
        return min(times) if times else None

    def _insert(self, tickets: list[TicketRecord], batch: _Batch,
                problems: list[Problem]) -> list[int]:
        """Rows of tickets seen for the first time; returns the ids of the open ones."""
        if not tickets:
            return []
        first = self._ids(Ticket, len(tickets))
        opened = []
        for tid, t in enumerate(tickets, start=first):
            self._settle_status(t)
            requester = self.people.user(t.requester) or self.people.unknown_requester()
            org = self.people.orgs.get(t.org_key) if t.org_key is not None else None
            if org is None:
                org = self.people.org_of.get(requester)
            channel = t.channel if t.channel in CHANNELS else Channel.WEB
            batch.tickets.append((
                tid, t.subject[:255], t.description or t.subject, requester, org, t.priority,
                channel, self.people.teams.get(t.team_key) if t.team_key is not None else None,
                self.people.user(t.assignee), t.status, t.waiting_reason[:255], t.created_at,
                t.updated_at, t.status_changed_at, self._first_response(t), t.resolved_at,
                t.closed_at, t.reopen_count, ""))
            batch.events.append((tid, requester, t.created_at, EventKind.CREATED, "", "",
                                 t.subject[:255], "", True))
            self._conversation(t, tid, t.entries, batch)
            for change in t.changes:
                self._change(tid, change, batch)
            self._extras(t, tid, batch)
            self._people_links(t, tid, requester, batch)
            batch.records["ticket"].append((t.key, tid, t.digest))
            if t.status in OPEN_STATUS_VALUES:
                opened.append(tid)
        self.counts["tickets"]["new"] += len(tickets)
        return opened

    def _conversation(self, t: TicketRecord, tid: int, entries: list[EntryRecord],
                      batch: _Batch) -> None:
        kept = [e for e in entries if not (e.opening and not e.attachments)]
        for e in entries:
            if e.opening and not e.attachments:
                batch.records["entry"].append((e.key, 0, e.digest))  # the description
        if not kept:
            return
        for e in kept:
            mid = next(self._message_ids)
            author = self.people.user(e.author)
            agent = author in self.people.staff
            body = ("Attachments sent with the request." if e.opening
                    else e.body or "(attachments)")
            channel = e.channel if e.channel in CHANNELS else t.channel
            if channel not in CHANNELS:
                channel = Channel.WEB
            batch.messages.append((mid, tid, author, e.public, agent, body, channel, e.at))
            batch.events.append((tid, author, e.at, EventKind.REPLY if e.public
                                 else EventKind.NOTE, "", "", "", f"message {mid}", e.public))
            for att in e.attachments:
                batch.attachments.append((tid, mid, att, e.at))
            if agent and e.time_spent and e.time_spent.total_seconds() > 0:
                batch.times.append((tid, author, mid, e.at, e.at + e.time_spent,
                                    max(1, round(e.time_spent.total_seconds() / 60)),
                                    f"logged in {self.label}"))
            batch.records["entry"].append((e.key, mid, e.digest))

    def _change(self, tid: int, c: ChangeRecord, batch: _Batch) -> None:
        batch.events.append((tid, self.people.user(c.actor), c.at, c.kind, c.field[:50],
                             c.before, c.after, c.note, c.public))

    def _extras(self, t: TicketRecord, tid: int, batch: _Batch) -> None:
        """Fields without a column here, kept word for word in one internal note."""
        if not t.extra_fields:
            return
        mid = next(self._message_ids)
        lines = "\n".join(f"- **{label}**: {value}" for label, value in t.extra_fields)
        body = f"Fields imported from {self.label}:\n\n{lines}"
        batch.messages.append((mid, tid, None, False, False, body, Channel.WEB, t.created_at))
        batch.events.append((tid, None, t.created_at, EventKind.NOTE, "", "", "",
                             f"message {mid}", False))

    def _people_links(self, t: TicketRecord, tid: int, requester: int, batch: _Batch,
                      existing_ccs: set[int] = frozenset(),
                      existing_tags: set[int] = frozenset()) -> None:
        ccs = {self.people.user(ref) for ref in t.ccs} - {None, requester} - set(existing_ccs)
        batch.ccs.extend((tid, user) for user in sorted(ccs))
        tags = {self._tag(name) for name in t.tags if name and name.strip()}
        batch.tags.extend((tid, tag) for tag in sorted(tags - set(existing_tags)))

    def _tag(self, name: str) -> int:
        if self._tags is None:
            self._tags = dict(Tag.objects.values_list("name", "pk"))
        name = name.strip().lower()[:50]
        if name not in self._tags:
            self._tags[name] = Tag.objects.get_or_create(name=name)[0].pk
        return self._tags[name]

    # --- changed tickets -----------------------------------------------------------------

    def _update(self, tickets: list[TicketRecord], known: dict, batch: _Batch,
                problems: list[Problem]) -> tuple[dict[int, list[clocks.Happened]], list[int]]:
        """Tickets seen before that changed (or whose rows failed last time): new messages,
        attachments and changes are added, the ticket's fields follow the source."""
        history: dict[int, list[clocks.Happened]] = {}
        start: list[int] = []
        if not tickets:
            return history, start
        ids = {t.key: known[t.key][0] for t in tickets}
        current = Ticket.objects.in_bulk(list(ids.values()))
        entries = self.book.lookup("entry", [e.key for t in tickets for e in t.entries])
        done_files = self.book.lookup("attachment", [
            a.key for t in tickets for e in t.entries for a in e.attachments])
        with_clocks = set(Clock.objects.filter(ticket_id__in=list(ids.values()))
                          .values_list("ticket_id", flat=True).distinct())
        for t in tickets:
            ticket = current.get(ids[t.key])
            if ticket is None:  # deleted here since: import it again
                problems.append(Problem("ticket", str(t.key), "was deleted here; not restored",
                                        f"ticket #{ids[t.key]}"))
                continue
            self._settle_status(t)
            fresh = [e for e in t.entries if e.key not in entries]
            new_keys = {e.key for e in fresh}
            self._conversation(t, ticket.pk, fresh, batch)
            for e in t.entries:  # files that failed last time, on messages already here
                target = entries.get(e.key, (0,))[0]
                for att in e.attachments:
                    if e.key in entries and target and att.key not in done_files:
                        batch.attachments.append((ticket.pk, target, att, e.at))
            changes = [c for c in t.changes if c.entry_key in new_keys]
            if not self.source.provides_history:
                changes += self._differences(ticket, t)
            for change in changes:
                self._change(ticket.pk, change, batch)
            moved = self._moves(t, fresh, changes)
            before_status = ticket.status
            self._apply(ticket, t)
            self._people_links(t, ticket.pk, ticket.requester_id, batch,
                               set(ticket.ccs.values_list("pk", flat=True)),
                               set(ticket.tags.values_list("pk", flat=True)))
            if ticket.pk in with_clocks:
                if moved:
                    history[ticket.pk] = moved
            elif ticket.status in OPEN_STATUS_VALUES:
                start.append(ticket.pk)
            if before_status != ticket.status or fresh or changes:
                self.counts["tickets"]["changed"] += 1
            else:
                self.counts["tickets"]["retried"] += 1
            self.book.set_digest("ticket", t.key, t.digest)
        return history, start

    def _differences(self, ticket: Ticket, t: TicketRecord) -> list[ChangeRecord]:
        """For sources without an audit trail: what changed since the last run, as changes
        at the source's last update time."""
        found = []
        pairs = (("status", ticket.status, t.status, EventKind.STATUS),
                 ("priority", ticket.priority, t.priority, EventKind.FIELD),
                 ("subject", ticket.subject, t.subject[:255], EventKind.FIELD))
        for name, before, after, kind in pairs:
            if before != after:
                found.append(ChangeRecord(at=t.updated_at, actor=None, kind=kind, field=name,
                                          before=str(before), after=str(after),
                                          note=f"changed in {self.label}",
                                          public=kind == EventKind.STATUS))
        return found

    def _moves(self, t: TicketRecord, fresh: list[EntryRecord],
               changes: list[ChangeRecord]) -> list[clocks.Happened]:
        moved = []
        for e in fresh:
            if e.public and not e.opening:
                author = self.people.user(e.author)
                kind = "agent reply" if author in self.people.staff else "customer reply"
                moved.append(clocks.Happened(e.at, kind, author))
        for c in changes:
            if c.kind == EventKind.STATUS:
                moved.append(clocks.Happened(c.at, "status", self.people.user(c.actor),
                                             c.before, c.after))
        return moved

    def _apply(self, ticket: Ticket, t: TicketRecord) -> None:
        ticket.subject = t.subject[:255]
        ticket.description = t.description or t.subject
        ticket.priority = t.priority
        if t.team_key is not None and t.team_key in self.people.teams:
            ticket.team_id = self.people.teams[t.team_key]
        ticket.assignee_id = self.people.user(t.assignee)
        ticket.status, ticket.waiting_reason = t.status, t.waiting_reason[:255]
        ticket.resolved_at, ticket.closed_at = t.resolved_at, t.closed_at
        ticket.status_changed_at = t.status_changed_at
        ticket.reopen_count = max(ticket.reopen_count, t.reopen_count)
        ticket.updated_at = max(ticket.updated_at, t.updated_at)
        first = self._first_response(t)
        if first and (ticket.first_response_at is None or first < ticket.first_response_at):
            ticket.first_response_at = first
        ticket.save()

    # --- writing ------------------------------------------------------------------------

    def _write(self, batch: _Batch) -> None:
        w = self.writer
        self.counts["messages"]["new"] += len(batch.messages)
        self.counts["audit events"]["new"] += len(batch.events)
        w.write(Ticket, TICKET_COLUMNS, batch.tickets)
        w.write(Message, MESSAGE_COLUMNS, batch.messages)
        w.write(TicketEvent, EVENT_COLUMNS, batch.events)
        w.write(Ticket.ccs.through, ("ticket_id", "user_id"), batch.ccs)
        w.write(Ticket.tags.through, ("ticket_id", "tag_id"), batch.tags)
        w.write(TimeEntry, TIME_COLUMNS, batch.times)
        self._copy_files(batch)
        for kind, rows in batch.records.items():
            self.book.add(kind, rows)

    def _copy_files(self, batch: _Batch) -> None:
        """Attachments copied through Django's storage; a missing file is reported (the
        ticket's next import tries it again) and the rest goes on."""
        rows, records, problems = [], [], []
        keys = {target: key for key, target, _ in batch.records["ticket"]}
        for tid, mid, att, at in batch.attachments:
            if att.path is None or not att.path.is_file():
                problems.append(Problem("attachment", str(att.key), "file missing on disk",
                                        att.origin or att.filename,
                                        keys.get(tid) or self._ticket_key(tid)))
                continue
            name = f"{self.storage_prefix}/{att.key}/{safe_filename(att.filename)}"
            if default_storage.exists(name):  # left by a run that was rolled back
                default_storage.delete(name)
            with open(att.path, "rb") as handle:
                stored = default_storage.save(name, File(handle))
            size = os.path.getsize(att.path)
            rows.append((mid, stored, safe_filename(att.filename),
                         (att.content_type or guess_content_type(att.filename))[:100], size, at))
            records.append(att.key)
            self.counts["attachments"]["new"] += 1
        if rows:
            first = self._ids(Attachment, len(rows))
            self.writer.write(Attachment, ("id", *ATTACHMENT_COLUMNS),
                              [(first + i, *row) for i, row in enumerate(rows)])
            self.book.add("attachment", [(key, first + i, None)
                                         for i, key in enumerate(records)])
        self.counts["attachments"]["missing"] += len(problems)
        self._problems(problems)

    def _ticket_key(self, ticket_id: int) -> int | None:
        return (ImportedRecord.objects.filter(source_id=self.book.source_id, kind="ticket",
                                              target_id=ticket_id)
                .values_list("source_key", flat=True).first())

    # --- merged tickets -----------------------------------------------------------------

    def _merges(self) -> None:
        """Duplicates point at the ticket they were merged into, once both are here."""
        pairs = list(self.source.merges())
        if not pairs:
            return
        targets = self.book.lookup("ticket", sorted({k for pair in pairs for k in pair}),
                                   this_run=True)
        problems = []
        with transaction.atomic():
            for key, into in pairs:
                if key not in targets:
                    continue
                if into not in targets:
                    problems.append(Problem("ticket", str(key), "merged into a missing ticket",
                                            f"source ticket {into}", None))
                    continue
                Ticket.objects.filter(pk=targets[key][0]).exclude(
                    merged_into_id=targets[into][0]).update(merged_into_id=targets[into][0])
            self._problems(problems)

