"""Read a django-helpdesk 2.x database with plain SQL, read-only.

django-helpdesk's code is never imported (its package is also called `helpdesk`): the
tables are read through sqlite3 or psycopg. Tables and columns are those its migrations
create (0001 .. 0043 in 2.6.1); a user model other than `auth_user` is named with
`user_table`.

What becomes what:
- auth_user: staff as agents, the others as customers; e-mail-only submitters and CCs
  as customers too (matched by e-mail by the loader).
- helpdesk_queue: teams; agents join the teams of the queues they had tickets in.
- helpdesk_ticket + helpdesk_followup (+ ticketchange, followupattachment, ticketcc,
  ticketcustomfieldvalue, ticketdependency): tickets, their conversation, audit trail,
  attachments, CCs, and the fields this product has no column for (custom fields, due
  date, resolution text, dependencies) as text.
- helpdesk_kbcategory / helpdesk_kbitem: help-center sections and articles.
"""
from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from tickets.models import EventKind
from tickets.state_machine import Status

from .. import mapping
from ..records import (
    ArticleRecord,
    AttachmentRecord,
    ChangeRecord,
    EntryRecord,
    OrgRecord,
    PersonRecord,
    PersonRef,
    Problem,
    SectionRecord,
    TeamRecord,
    TicketRecord,
    digest,
)
from . import SourceError

REQUIRED_TABLES = ("helpdesk_ticket", "helpdesk_followup", "helpdesk_queue")
# django-helpdesk titles the follow-up of a mail it received "E-Mail Received from <addr>"
# and leaves its user empty when the sender has no account.
_MAIL_FOLLOWUP = re.compile(r"e-?mail received from\s+(\S+@\S+)", re.IGNORECASE)
_OPENED = re.compile(r"^ticket opened", re.IGNORECASE)
HOLD_REASON = "On hold in django-helpdesk"


def _ts(value: Any) -> datetime | None:
    """A timestamp as read: psycopg gives aware datetimes, SQLite UTC text."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _duration(value: Any) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value
    return timedelta(microseconds=int(value))  # SQLite: bigint microseconds


def redact(location: str) -> str:
    """The location without a password, for logs and the run record."""
    parts = urlsplit(location)
    if parts.scheme and parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return location


class DjangoHelpdeskSource:
    kind = "django_helpdesk"
    default_name = "django-helpdesk"
    provides_history = True

    def __init__(self, location: str, *, media_root: str | Path | None = None,
                 user_table: str = "auth_user", status_map: dict[int, str] | None = None
                 ) -> None:
        self.location = redact(location)
        self.media_root = Path(media_root) if media_root else None
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", user_table):
            raise SourceError(f"Not a table name: {user_table!r}")
        self.user_table = user_table
        self.status_map = status_map or {}
        self.postgres = location.startswith(("postgres://", "postgresql://"))
        self.conn = self._connect(location)
        self._check_schema()
        self._staff = {row[0] for row in self._all(
            f"SELECT id FROM {self.user_table} WHERE is_staff = %s", [True])}  # noqa: S608
        self._users = {row[0] for row in self._all(f"SELECT id FROM {self.user_table}")}  # noqa: S608
        self._queues = {row[0] for row in self._all("SELECT id FROM helpdesk_queue")}

    # --- connection ------------------------------------------------------------------

    def _connect(self, location: str):
        if self.postgres:
            import psycopg

            try:
                conn = psycopg.connect(location, connect_timeout=10)
            except psycopg.Error as exc:
                raise SourceError(f"Cannot connect to {self.location}: {exc}") from exc
            conn.read_only = True  # every transaction starts READ ONLY
            return conn
        path = Path(location).expanduser()
        if not path.is_file():
            raise SourceError(f"No SQLite database at {path}")
        # mode=ro: the importer can never write to the source.
        return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)

    def _sql(self, sql: str) -> str:
        return sql if self.postgres else sql.replace("%s", "?")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(self._sql(sql), list(params))
            return cursor.fetchall()
        finally:
            cursor.close()

    def _tables(self) -> set[str]:
        if self.postgres:
            sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        else:
            sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
        return {row[0] for row in self._all(sql)}

    def _check_schema(self) -> None:
        tables = self._tables()
        missing = [t for t in (*REQUIRED_TABLES, self.user_table) if t not in tables]
        if missing:
            raise SourceError(f"{self.location} is not a django-helpdesk database "
                              f"(no table {', '.join(missing)}).")
        self._has = tables

    def close(self) -> None:
        self.conn.close()

    # --- reference data --------------------------------------------------------------

    def organizations(self) -> Iterable[OrgRecord]:
        return []  # django-helpdesk has none: customers are grouped by e-mail domain

    def people(self) -> Iterable[PersonRecord]:
        rows = self._all(
            "SELECT id, username, email, first_name, last_name, is_staff, is_superuser,"  # noqa: S608
            f" is_active, password, date_joined, last_login FROM {self.user_table} ORDER BY id")
        for (pk, username, email, first, last, staff, superuser, active, password, joined,
             last_login) in rows:
            yield PersonRecord(
                key=pk, email=(email or "").strip(), first_name=first or "",
                last_name=last or "", username=username or "", is_staff=bool(staff),
                is_superuser=bool(superuser), is_active=bool(active), password=password or "",
                joined_at=_ts(joined), last_login=_ts(last_login))

    def contacts(self) -> Iterable[str]:
        emails = {row[0] for row in self._all(
            "SELECT DISTINCT lower(submitter_email) FROM helpdesk_ticket"
            " WHERE submitter_email IS NOT NULL AND submitter_email <> ''")}
        if "helpdesk_ticketcc" in self._has:
            emails |= {row[0] for row in self._all(
                "SELECT DISTINCT lower(email) FROM helpdesk_ticketcc"
                " WHERE user_id IS NULL AND email IS NOT NULL AND email <> ''")}
        return sorted(e.strip() for e in emails if e and "@" in e)

    def teams(self) -> Iterable[TeamRecord]:
        for pk, title, slug in self._all("SELECT id, title, slug FROM helpdesk_queue ORDER BY id"):
            yield TeamRecord(key=pk, name=title or slug, slug=slug or f"queue-{pk}")

    def memberships(self) -> Iterable[tuple[int, int]]:
        pairs = set(self._all(
            "SELECT DISTINCT assigned_to_id, queue_id FROM helpdesk_ticket"
            " WHERE assigned_to_id IS NOT NULL"))
        pairs |= {(owner, queue) for queue, owner in self._all(
            "SELECT id, default_owner_id FROM helpdesk_queue WHERE default_owner_id IS NOT NULL")}
        return sorted(pairs)

    def sections(self) -> Iterable[SectionRecord]:
        if "helpdesk_kbcategory" not in self._has:
            return []
        rows = self._all("SELECT id, name, title, description FROM helpdesk_kbcategory"
                         " ORDER BY id")
        return [SectionRecord(key=pk, name=title or name, description=description or "",
                              position=(i + 1) * 10)
                for i, (pk, name, title, description) in enumerate(rows)]

    def articles(self) -> Iterable[ArticleRecord]:
        if "helpdesk_kbitem" not in self._has:
            return []
        rows = self._all(
            'SELECT i.id, i.category_id, i.title, i.question, i.answer, i.votes,'
            ' i.recommendations, i.last_updated, i.enabled, c.public'
            ' FROM helpdesk_kbitem i LEFT JOIN helpdesk_kbcategory c ON c.id = i.category_id'
            ' ORDER BY i.id')
        for (pk, category, title, question, answer, votes, recommendations, updated, enabled,
             public) in rows:
            question, answer = (question or "").strip(), (answer or "").strip()
            body = answer if not question or question == title else f"{question}\n\n{answer}"
            when = _ts(updated) or datetime.now(UTC)
            yield ArticleRecord(
                key=pk, title=title or f"Article {pk}", body=body, section_key=category,
                published=bool(enabled), audience="public" if public in (None, 1, True)
                else "internal", created_at=when, updated_at=when,
                helpful=max(recommendations or 0, 0),
                unhelpful=max((votes or 0) - (recommendations or 0), 0))

    def merges(self) -> Iterable[tuple[int, int]]:
        return self._all("SELECT id, merged_to_id FROM helpdesk_ticket"
                         " WHERE merged_to_id IS NOT NULL ORDER BY id")

    def skipped(self) -> dict[str, int]:
        """Rows of kinds this product does not import, by kind (for the summary)."""
        counts = {}
        for table, label in (("helpdesk_checklist", "checklists"),
                             ("helpdesk_kbiattachment", "article attachments"),
                             ("helpdesk_savedsearch", "saved searches"),
                             ("helpdesk_presetreply", "pre-set replies")):
            if table in self._has:
                counts[label] = self._all(f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608
        return {k: v for k, v in counts.items() if v}

    # --- tickets ---------------------------------------------------------------------

    def ticket_count(self) -> int:
        return self._all("SELECT count(*) FROM helpdesk_ticket")[0][0]

    _TICKET_SQL = (
        "SELECT id, title, queue_id, created, modified, submitter_email, assigned_to_id,"
        " status, on_hold, description, resolution, priority, due_date, merged_to_id"
        " FROM helpdesk_ticket WHERE id > %s ORDER BY id LIMIT %s")

    def ticket_chunks(self, size: int) -> Iterator[list[TicketRecord]]:
        last = 0
        while True:
            rows = self._all(self._TICKET_SQL, [last, size])
            if not rows:
                return
            last = rows[-1][0]
            yield [self._ticket(row) for row in rows]

    def _ticket(self, row: tuple) -> TicketRecord:
        (pk, title, queue, created, modified, submitter, assignee, status, on_hold,
         description, resolution, priority, due, merged_to) = row
        created_at = _ts(created)
        modified_at = _ts(modified) or created_at
        requester: PersonRef = (submitter or "").strip().lower() or None
        record = TicketRecord(
            key=pk, subject=(title or "").strip() or f"Ticket {pk}",
            description=(description or "").strip(), requester=requester,
            status=Status.NEW.value, priority=mapping.dh_priority(priority),
            created_at=created_at, updated_at=max(modified_at, created_at),
            status_changed_at=created_at, team_key=queue, assignee=assignee,
            merged_into_key=merged_to,
        )
        record.source_digest = digest(pk, title, queue, created, modified, submitter, assignee,
                                      status, on_hold, description, resolution, priority, due,
                                      merged_to)
        record.raw = {"status": status, "on_hold": bool(on_hold), "resolution": resolution,
                      "due": _ts(due)}
        return record

    def load_details(self, tickets: list[TicketRecord]) -> list[Problem]:
        """Conversation, audit trail, attachments, CCs and extra fields of these tickets."""
        if not tickets:
            return []
        problems: list[Problem] = []
        where, params = self._ticket_filter("ticket_id", [t.key for t in tickets])
        followups: dict[int, list[tuple]] = defaultdict(list)
        for row in self._all(
                "SELECT id, ticket_id, date, title, comment, public, user_id, new_status,"  # noqa: S608
                f" time_spent FROM helpdesk_followup WHERE {where} ORDER BY ticket_id, date, id",
                params):
            followups[row[1]].append(row)
        fwhere, fparams = self._ticket_filter("f.ticket_id", [t.key for t in tickets])
        changes: dict[int, list[tuple]] = defaultdict(list)
        if "helpdesk_ticketchange" in self._has:
            for fid, field, old, new in self._all(
                    "SELECT c.followup_id, c.field, c.old_value, c.new_value"  # noqa: S608
                    " FROM helpdesk_ticketchange c JOIN helpdesk_followup f"
                    f" ON f.id = c.followup_id WHERE {fwhere} ORDER BY c.id", fparams):
                changes[fid].append((field, old, new))
        attachments: dict[int, list[AttachmentRecord]] = defaultdict(list)
        if "helpdesk_followupattachment" in self._has:
            for aid, fid, file, filename, mime, size in self._all(
                    "SELECT a.id, a.followup_id, a.file, a.filename, a.mime_type, a.size"  # noqa: S608
                    " FROM helpdesk_followupattachment a JOIN helpdesk_followup f"
                    f" ON f.id = a.followup_id WHERE {fwhere} ORDER BY a.id", fparams):
                attachments[fid].append(AttachmentRecord(
                    key=aid, filename=(filename or Path(file or "").name or f"file-{aid}"),
                    content_type=mime or "", size=size,
                    path=(self.media_root / file) if self.media_root and file else None,
                    origin=file or ""))
        ccs: dict[int, list[PersonRef]] = defaultdict(list)
        if "helpdesk_ticketcc" in self._has:
            for ticket_id, user_id, email in self._all(
                    "SELECT ticket_id, user_id, lower(email) FROM helpdesk_ticketcc"  # noqa: S608
                    f" WHERE {where} ORDER BY id", params):
                ccs[ticket_id].append(user_id if user_id is not None else (email or "").strip())
        extra: dict[int, list[tuple[str, str]]] = defaultdict(list)
        if "helpdesk_ticketcustomfieldvalue" in self._has:
            for ticket_id, label, name, value in self._all(
                    "SELECT v.ticket_id, f.label, f.name, v.value"  # noqa: S608
                    " FROM helpdesk_ticketcustomfieldvalue v JOIN helpdesk_customfield f"
                    f" ON f.id = v.field_id WHERE v.{where}"
                    " ORDER BY v.ticket_id, f.ordering, f.id", params):
                if value not in (None, ""):
                    extra[ticket_id].append((label or name, str(value)))
        depends: dict[int, list[int]] = defaultdict(list)
        if "helpdesk_ticketdependency" in self._has:
            for ticket_id, other in self._all(
                    f"SELECT ticket_id, depends_on_id FROM helpdesk_ticketdependency WHERE {where}"  # noqa: S608
                    " ORDER BY id", params):
                depends[ticket_id].append(other)
        for ticket in tickets:
            problems += self._complete(ticket, followups[ticket.key], changes, attachments,
                                       ccs[ticket.key], extra[ticket.key], depends[ticket.key])
        return problems

    def _ticket_filter(self, column: str, keys: list[int]) -> tuple[str, list[int]]:
        """A range when the keys are mostly contiguous (a first import), else a list."""
        lo, hi = min(keys), max(keys)
        if len(keys) * 2 >= hi - lo + 1:
            return f"{column} BETWEEN %s AND %s", [lo, hi]
        return f"{column} IN ({', '.join(['%s'] * len(keys))})", list(keys)

    def _person(self, user_id: int | None, ticket_key: int, what: str,
                problems: list[Problem]) -> PersonRef:
        if user_id is None or user_id in self._users:
            return user_id
        problems.append(Problem("user", str(user_id), f"{what} refers to a missing user",
                                f"ticket {ticket_key}: imported without that person",
                                ticket_key))
        return None

    def _complete(self, t: TicketRecord, followups: list[tuple], changes: dict, attachments: dict,
                  ccs: list[PersonRef], extra: list[tuple[str, str]], depends: list[int]
                  ) -> list[Problem]:
        problems: list[Problem] = []
        dh = t.raw
        if t.team_key not in self._queues:
            problems.append(Problem("ticket", str(t.key), "refers to a missing queue",
                                    f"queue {t.team_key}", t.key))
            t.team_key = -1  # the loader skips tickets whose team it cannot find
        t.assignee = self._person(t.assignee, t.key, "assignee", problems)
        status_dates: dict[int, datetime] = {}
        previous = mapping.DH_OPEN
        agent_replied = False
        reopened = 0
        for i, (fid, _tid, date, title, comment, public, user_id, new_status, spent) in \
                enumerate(followups):
            at = _ts(date) or t.created_at
            author: PersonRef = self._person(user_id, t.key, "follow-up author", problems)
            if user_id is None and (match := _MAIL_FOLLOWUP.search(title or "")):
                author = match.group(1).strip("<>").lower()
            text = (comment or "").strip()
            files = attachments.get(fid, [])
            entry = EntryRecord(key=fid, author=author, public=bool(public), body=text, at=at,
                                attachments=files, time_spent=_duration(spent))
            # django-helpdesk repeats the description as the ticket's first follow-up.
            entry.opening = i == 0 and bool(_OPENED.match(title or "")) and \
                text == t.description
            if text or files:
                t.entries.append(entry)
                if public and user_id in self._staff:
                    agent_replied = True
            status_changed = new_status is not None and new_status != previous
            if status_changed:
                label = mapping.DH_STATUS_LABELS.get(new_status, str(new_status))
                t.changes.append(ChangeRecord(
                    at=at, actor=author, kind=EventKind.STATUS, field="status",
                    before=mapping.DH_HISTORY_STATUS.get(previous, ""),
                    after=mapping.DH_HISTORY_STATUS.get(new_status, ""),
                    note=f"{label} in django-helpdesk", public=True, entry_key=fid))
                status_dates[new_status] = at
                reopened += new_status == mapping.DH_REOPENED
                previous = new_status
            for field, old, new in changes.get(fid, []):
                if status_changed and mapping.dh_field(field) == "status":
                    continue  # the status event above says it
                t.changes.append(ChangeRecord(
                    at=at, actor=author, kind=EventKind.FIELD, field=mapping.dh_field(field),
                    before=old or "", after=new or "", entry_key=fid))
        t.ccs = [c for c in ccs if c not in (None, "")]
        self._status(t, dh["status"], dh["on_hold"], status_dates, agent_replied, problems)
        t.reopen_count = reopened
        t.extra_fields = list(extra)
        if dh["due"] is not None:
            t.extra_fields.append(("Due on", dh["due"].isoformat()))
        resolution = (dh["resolution"] or "").strip()
        if resolution and not any(e.body == resolution for e in t.entries):
            t.extra_fields.append(("Resolution", resolution))
        if depends:
            t.extra_fields.append(
                ("Depends on", ", ".join(f"django-helpdesk #{d}" for d in depends)))
        return problems

    def _status(self, t: TicketRecord, status: int, on_hold: bool,
                dates: dict[int, datetime], agent_replied: bool,
                problems: list[Problem]) -> None:
        """This product's status and its timestamps, from django-helpdesk's."""
        if status in self.status_map:
            t.status = self.status_map[status]
        elif status in (mapping.DH_OPEN, mapping.DH_REOPENED):
            if on_hold:
                t.status, t.waiting_reason = Status.WAITING_ON_THIRD_PARTY.value, HOLD_REASON
            elif t.assignee is not None:
                t.status = (Status.IN_PROGRESS if agent_replied else Status.ASSIGNED).value
            else:
                t.status = Status.NEW.value
        elif status == mapping.DH_RESOLVED:
            t.status = Status.RESOLVED.value
        elif status in (mapping.DH_CLOSED, mapping.DH_DUPLICATE):
            t.status = Status.CLOSED.value
        else:
            problems.append(Problem("ticket", str(t.key), f"unknown status {status}",
                                    "imported as new; map it with --map-status", t.key))
            t.status = Status.NEW.value
        last_change = dates.get(status) or (t.updated_at if status != mapping.DH_OPEN
                                           else t.created_at)
        if t.status == Status.RESOLVED:
            t.resolved_at = last_change
        elif t.status == Status.CLOSED:
            t.closed_at = last_change
            if status == mapping.DH_CLOSED:
                resolved = dates.get(mapping.DH_RESOLVED)
                t.resolved_at = resolved if resolved and resolved <= last_change else last_change
        changed = [t.created_at, *dates.values()]
        if t.status in (Status.RESOLVED, Status.CLOSED):
            changed.append(last_change)
        t.status_changed_at = min(max(changed), t.updated_at)
