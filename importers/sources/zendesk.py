"""Read a Zendesk export: the JSON pages of its APIs, one file per page, as a sync tool saves
them.

Every `*.json` file under the folder is one page, recognised by its top-level key, as
the Zendesk API reference documents each response:

- `users` (Incremental User Export, or List Users), `organizations` (Incremental
  Organization Export), `groups` (List Groups), `group_memberships`;
- `tickets` (Incremental Ticket Export, cursor or time based; a ticket that appears in
  several pages counts in its latest version), with the `metric_sets` side-load when the
  export asked for it (`include=metric_sets`), and `ticket_fields` (List Ticket Fields)
  for the titles of custom fields;
- `comments` (List Comments of one ticket): the ticket is its folder when the folder is
  a number, else the first number in the file name (`tickets/123/comments.json`,
  `tickets/123/comments-2.json`, `comments/123.json`, `comments/123-2.json`);
- Guide: `categories`, `sections`, `articles` (Help Center API).

Attachment files are looked for at `attachments/<attachment id>/<file_name>`; one that is
not there is reported with its `content_url`. Unknown pages are ignored.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from markdownify import markdownify

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
    Problem,
    SectionRecord,
    TeamRecord,
    TicketRecord,
    digest,
)
from . import SourceError

KINDS = ("users", "organizations", "groups", "group_memberships", "tickets", "metric_sets",
         "ticket_fields", "comments", "categories", "sections", "articles")
_NUMBER = re.compile(r"\d+")
PENDING_REASON = "Pending in Zendesk"
HOLD_REASON = "On hold in Zendesk"


def _ts(value: Any) -> datetime | None:
    """Zendesk times are ISO 8601 in UTC ('2024-01-31T09:15:00Z')."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


class ZendeskSource:
    kind = "zendesk"
    default_name = "zendesk"
    provides_history = False

    def __init__(self, folder: str | Path) -> None:
        self.root = Path(folder).expanduser()
        if not self.root.is_dir():
            raise SourceError(f"No folder at {self.root}")
        self.location = str(self.root.resolve())
        self.pages: dict[str, list[Path]] = defaultdict(list)
        self.comment_files: dict[int, list[Path]] = defaultdict(list)
        self.unreadable: list[Problem] = []
        self._data: dict[str, list[dict]] = defaultdict(list)
        for path in sorted(self.root.rglob("*.json")):
            self._index(path)
        if not any(self._data[k] for k in ("tickets", "users", "articles")) \
                and not self.comment_files:
            raise SourceError(f"{self.root} holds no Zendesk export pages (users, tickets, "
                              "articles...).")
        self._tickets = self._latest_tickets()
        self._metrics = {m["ticket_id"]: m for m in self._data["metric_sets"]
                         if m.get("ticket_id") is not None}
        self._fields = {f["id"]: f.get("title") or f.get("raw_title") or f"Field {f['id']}"
                        for f in self._data["ticket_fields"] if "id" in f}
        self._users = {u["id"]: u for u in self._data["users"] if "id" in u}

    def _index(self, path: Path) -> None:
        try:
            page = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            self.unreadable.append(Problem("page", str(path.relative_to(self.root)),
                                           "not readable JSON", str(exc)))
            return
        if not isinstance(page, dict):
            return
        if isinstance(page.get("comments"), list):
            numbers = ([path.parent.name] if path.parent.name.isdigit()
                       else _NUMBER.findall(path.stem))
            if not numbers:
                self.unreadable.append(Problem("page", str(path.relative_to(self.root)),
                                               "comments page without a ticket id in its name"))
                return
            self.comment_files[int(numbers[0])].append(path)
            return
        for kind in KINDS:
            if isinstance(page.get(kind), list):
                self._data[kind].extend(item for item in page[kind] if isinstance(item, dict))

    def _latest_tickets(self) -> dict[int, dict]:
        latest: dict[int, dict] = {}
        for ticket in self._data["tickets"]:
            key = ticket.get("id")
            if key is None:
                continue
            seen = latest.get(key)
            stamp = (ticket.get("generated_timestamp") or 0, ticket.get("updated_at") or "")
            if seen is None or stamp >= (seen.get("generated_timestamp") or 0,
                                         seen.get("updated_at") or ""):
                latest[key] = ticket
        return latest

    def close(self) -> None:
        pass

    # --- reference data --------------------------------------------------------------

    def organizations(self) -> Iterable[OrgRecord]:
        for org in self._data["organizations"]:
            if org.get("deleted_at"):
                continue
            notes = "\n\n".join(p for p in (org.get("details") or "", org.get("notes") or "")
                                if p)
            yield OrgRecord(key=org["id"], name=org.get("name") or f"Organization {org['id']}",
                            domains=[d.lower() for d in org.get("domain_names") or []],
                            notes=notes, created_at=_ts(org.get("created_at")))

    def people(self) -> Iterable[PersonRecord]:
        for user in self._users.values():
            role = user.get("role") or "end-user"
            first, last = mapping.split_name(user.get("name") or "")
            yield PersonRecord(
                key=user["id"], email=(user.get("email") or "").strip(), first_name=first,
                last_name=last, is_staff=role in ("agent", "admin"),
                is_superuser=role == "admin",
                is_active=bool(user.get("active", True)) and not user.get("suspended"),
                joined_at=_ts(user.get("created_at")),
                last_login=_ts(user.get("last_login_at")),
                org_key=user.get("organization_id"),
                time_zone=user.get("iana_time_zone") or "")

    def contacts(self) -> Iterable[str]:
        return []  # every Zendesk requester and CC is a user

    def teams(self) -> Iterable[TeamRecord]:
        for group in self._data["groups"]:
            if group.get("deleted"):
                continue
            name = group.get("name") or f"Group {group['id']}"
            yield TeamRecord(key=group["id"], name=name, slug=mapping.slug_text(name),
                             description=group.get("description") or "")

    def memberships(self) -> Iterable[tuple[int, int]]:
        pairs = {(m["user_id"], m["group_id"]) for m in self._data["group_memberships"]
                 if m.get("user_id") and m.get("group_id")}
        pairs |= {(t["assignee_id"], t["group_id"]) for t in self._tickets.values()
                  if t.get("assignee_id") and t.get("group_id")}
        return sorted(pairs)

    def sections(self) -> Iterable[SectionRecord]:
        # Categories and sections share the section table here; category ids are negated
        # so they never collide with section ids.
        for cat in self._data["categories"]:
            yield SectionRecord(key=-cat["id"], name=cat.get("name") or "Category",
                                description=cat.get("description") or "",
                                position=cat.get("position") or 100)
        for sec in self._data["sections"]:
            parent = sec.get("parent_section_id")
            if parent is None and sec.get("category_id") is not None:
                parent = -sec["category_id"]
            yield SectionRecord(key=sec["id"], name=sec.get("name") or "Section",
                                description=sec.get("description") or "", parent_key=parent,
                                position=sec.get("position") or 100)

    def articles(self) -> Iterable[ArticleRecord]:
        for art in self._data["articles"]:
            created = _ts(art.get("created_at")) or datetime.now(UTC)
            updated = _ts(art.get("edited_at")) or _ts(art.get("updated_at")) or created
            votes, total = art.get("vote_sum") or 0, art.get("vote_count") or 0
            yield ArticleRecord(
                key=art["id"], title=art.get("title") or f"Article {art['id']}",
                body=markdownify(art.get("body") or "", heading_style="ATX").strip(),
                section_key=art.get("section_id"), published=not art.get("draft"),
                audience="public" if art.get("user_segment_id") is None else "customers",
                created_at=created, updated_at=updated, author=art.get("author_id"),
                tags=list(art.get("label_names") or []),
                helpful=max((total + votes) // 2, 0), unhelpful=max((total - votes) // 2, 0))

    def merges(self) -> Iterable[tuple[int, int]]:
        return []  # the export does not say which ticket a closed duplicate went into

    def skipped(self) -> dict[str, int]:
        deleted = sum(1 for t in self._tickets.values() if t.get("status") == "deleted")
        return {"deleted tickets": deleted} if deleted else {}

    # --- tickets ---------------------------------------------------------------------

    def _live(self) -> list[int]:
        return sorted(k for k, t in self._tickets.items() if t.get("status") != "deleted")

    def ticket_count(self) -> int:
        return len(self._live())

    def ticket_chunks(self, size: int) -> Iterator[list[TicketRecord]]:
        keys = self._live()
        for i in range(0, len(keys), size):
            yield [self._ticket(self._tickets[k]) for k in keys[i:i + size]]

    def _ticket(self, data: dict) -> TicketRecord:
        created = _ts(data.get("created_at")) or datetime.now(UTC)
        updated = max(_ts(data.get("updated_at")) or created, created)
        metric = self._metrics.get(data["id"], {})
        files = self.comment_files.get(data["id"], [])
        record = TicketRecord(
            key=data["id"], subject=(data.get("subject") or data.get("raw_subject") or "")
            .strip() or f"Zendesk ticket {data['id']}",
            description=(data.get("description") or "").strip(),
            requester=data.get("requester_id"), status=Status.NEW.value,
            priority=mapping.zd_priority(data.get("priority")), created_at=created,
            updated_at=updated, status_changed_at=created, team_key=data.get("group_id"),
            assignee=data.get("assignee_id"), org_key=data.get("organization_id"),
            channel=mapping.zd_channel((data.get("via") or {}).get("channel")),
            ccs=sorted({*(data.get("collaborator_ids") or []), *(data.get("email_cc_ids") or [])}),
            tags=list(data.get("tags") or []),
        )
        record.source_digest = digest(json.dumps(data, sort_keys=True),
                                      json.dumps(metric, sort_keys=True),
                                      *(f"{p}:{p.stat().st_mtime_ns}" for p in files))
        record.raw = {"data": data, "metric": metric}
        return record

    def load_details(self, tickets: list[TicketRecord]) -> list[Problem]:
        problems = list(self.unreadable)
        self.unreadable = []
        known_groups = {g["id"] for g in self._data["groups"]}
        for t in tickets:
            data, metric = t.raw["data"], t.raw["metric"]
            if t.team_key is not None and known_groups and t.team_key not in known_groups:
                problems.append(Problem("ticket", str(t.key), "refers to a missing group",
                                        f"group {t.team_key}", t.key))
                t.team_key = -1
            for ref in ("requester", "assignee"):
                user = getattr(t, ref)
                if user is not None and user not in self._users:
                    problems.append(Problem("user", str(user), f"{ref} is not in the export",
                                            f"ticket {t.key}: imported without that person",
                                            t.key))
                    setattr(t, ref, None)
            t.ccs = [c for c in t.ccs if c in self._users]
            comments = self._comments(t.key, problems)
            if not comments:
                problems.append(Problem("ticket", str(t.key), "no comments page in the export",
                                        "imported with its description only", t.key))
            for i, c in enumerate(comments):
                author = c.get("author_id")
                if author is not None and author not in self._users:
                    problems.append(Problem("user", str(author), "comment author is not in "
                                            "the export", f"ticket {t.key}", t.key))
                    author = None
                body = (c.get("body") or c.get("plain_body") or "").strip()
                t.entries.append(EntryRecord(
                    key=c["id"], author=author, public=bool(c.get("public", True)), body=body,
                    at=_ts(c.get("created_at")) or t.created_at,
                    channel=mapping.zd_channel((c.get("via") or {}).get("channel")),
                    attachments=[self._attachment(a) for a in c.get("attachments") or []
                                 if a.get("id") is not None],
                    opening=i == 0 and body == t.description))
            self._status(t, data.get("status") or "new", metric)
            t.extra_fields = self._extra_fields(data)
        return problems

    def _comments(self, key: int, problems: list[Problem]) -> list[dict]:
        comments: dict[int, dict] = {}
        for path in self.comment_files.get(key, []):
            try:
                page = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                problems.append(Problem("page", str(path.relative_to(self.root)),
                                        "not readable JSON", str(exc), key))
                continue
            for c in page.get("comments") or []:
                if isinstance(c, dict) and c.get("id") is not None:
                    comments[c["id"]] = c
        return sorted(comments.values(), key=lambda c: (c.get("created_at") or "", c["id"]))

    def _attachment(self, data: dict) -> AttachmentRecord:
        name = data.get("file_name") or f"attachment-{data['id']}"
        path = self.root / "attachments" / str(data["id"]) / name
        return AttachmentRecord(key=data["id"], filename=name,
                                content_type=data.get("content_type") or "",
                                size=data.get("size"), path=path,
                                origin=data.get("content_url") or str(path))

    def _status(self, t: TicketRecord, status: str, metric: dict) -> None:
        agent_replied = any(e.public and e.author in self._users
                            and self._users[e.author].get("role") in ("agent", "admin")
                            for e in t.entries)
        solved = _ts(metric.get("solved_at"))
        changed = _ts(metric.get("status_updated_at")) or t.updated_at
        if status == "new":
            t.status = (Status.ASSIGNED if t.assignee else Status.NEW).value
        elif status == "open":
            t.status = (Status.IN_PROGRESS if t.assignee and agent_replied else
                        Status.ASSIGNED if t.assignee else Status.TRIAGED).value
        elif status == "pending":
            t.status, t.waiting_reason = Status.WAITING_ON_CUSTOMER.value, PENDING_REASON
        elif status == "hold":
            t.status, t.waiting_reason = Status.WAITING_ON_THIRD_PARTY.value, HOLD_REASON
        elif status == "solved":
            t.status, t.resolved_at = Status.RESOLVED.value, solved or changed
        else:  # closed
            t.status, t.closed_at = Status.CLOSED.value, changed
            t.resolved_at = min(solved or changed, changed)
        t.status_changed_at = min(max(changed, t.created_at), t.updated_at)
        before = Status.NEW.value
        for after, at in ((Status.RESOLVED, t.resolved_at), (Status.CLOSED, t.closed_at)):
            if at is not None:
                t.changes.append(ChangeRecord(at=at, actor=None, kind=EventKind.STATUS,
                                              field="status", before=before, after=after.value,
                                              note=f"{after.value} in Zendesk", public=True))
                before = after.value

    def _extra_fields(self, data: dict) -> list[tuple[str, str]]:
        fields = []
        for label, key in (("Type", "type"), ("Due at", "due_at"),
                           ("Zendesk problem ticket", "problem_id"),
                           ("External id", "external_id")):
            if data.get(key):
                fields.append((label, _text(data[key])))
        for field in data.get("custom_fields") or []:
            value = _text(field.get("value"))
            if value:
                fields.append((self._fields.get(field.get("id"), f"Field {field.get('id')}"),
                               value))
        return fields
