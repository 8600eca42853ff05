"""The conditions and actions tickets itself offers to triggers and automations."""
from __future__ import annotations

from typing import Any

from django.db.models import Q

from helpdesk import config_cache, notifications
from helpdesk.models import Team, User

from .. import batch, services
from ..models import Category, Priority, ProductArea, Ticket
from ..state_machine import Status
from . import custom
from .registry import (
    BOOLEAN,
    EQUALITY,
    NUMBERS,
    SETS,
    TEXT,
    Action,
    Condition,
    Context,
    _items,
    register_action,
    register_condition,
)


def _names(model: type, key: str) -> dict[int, str]:
    """id -> name of a small reference table, held per process (dropped on change)."""
    return config_cache.get(key, lambda: dict(model.objects.values_list("pk", "name")))


def _by_name(model: type, key: str, value: Any) -> Any:
    """The row named `value` (or with that id); ValueError when there is none."""
    wanted = str(value or "").strip().lower()
    for pk, name in _names(model, key).items():
        if wanted in (name.lower(), str(pk)):
            return model.objects.get(pk=pk)
    raise ValueError(f"no {model._meta.verbose_name} named {value!r}")


def _team_name(ticket: Ticket, _: Context) -> str:
    return _names(Team, "tickets.rules.teams").get(ticket.team_id, "") if ticket.team_id else ""


def _category_name(ticket: Ticket, _: Context) -> str:
    return (_names(Category, "tickets.rules.categories").get(ticket.category_id, "")
            if ticket.category_id else "")


def _area_name(ticket: Ticket, _: Context) -> str:
    return (_names(ProductArea, "tickets.rules.areas").get(ticket.product_area_id, "")
            if ticket.product_area_id else "")


def _assignee(ticket: Ticket, _: Context) -> str:
    return ticket.assignee.email if ticket.assignee_id else ""


def _tier(ticket: Ticket, _: Context) -> str:
    org = ticket.organization
    return org.support_tier if org is not None else ""


CONDITIONS = [
    Condition("status", "Status", lambda t, c: t.status, EQUALITY,
              help=", ".join(s.value for s in Status)),
    Condition("priority", "Priority (1 = P1)", lambda t, c: t.priority, NUMBERS),
    Condition("channel", "Channel", lambda t, c: t.channel, EQUALITY),
    Condition("team", "Team (name)", _team_name, EQUALITY),
    Condition("assignee", "Assignee (e-mail; empty: unassigned)", _assignee, EQUALITY),
    Condition("category", "Category (name)", _category_name, EQUALITY),
    Condition("product_area", "Product area (name)", _area_name, EQUALITY),
    Condition("organization", "Organization (name)",
              lambda t, c: t.organization.name if t.organization is not None else "",
              EQUALITY + TEXT),
    Condition("org_tier", "Organization tier", _tier, EQUALITY),
    Condition("requester_email", "Requester e-mail (address or @domain)",
              lambda t, c: t.requester.email, TEXT + EQUALITY),
    Condition("tags", "Tags", lambda t, c: c.tag_names(t), SETS),
    Condition("subject", "Subject", lambda t, c: t.subject, TEXT),
    Condition("text", "Message text (the new reply or note; on creation the subject and "
              "description)", lambda t, c: c.message_text(t), TEXT),
    Condition("reopen_count", "Times reopened", lambda t, c: t.reopen_count, NUMBERS),
    Condition("unanswered", "No agent has answered yet",
              lambda t, c: t.first_response_at is None, BOOLEAN),
]


# --- actions --------------------------------------------------------------------------

def _update(ticket: Ticket, name: str, value: Any, shown: str) -> str:
    before = services.field_values(ticket)
    after = services.update_ticket(ticket, actor=None, changes={name: value})
    return shown if services.field_values(after) != before else ""


def _priority(value: Any) -> int:
    number = int(str(value).strip().upper().lstrip("P"))
    if number not in Priority.values:
        raise ValueError("priority is 1 (P1) to 5 (P5)")
    return number


def _prepare_priority(ticket: Ticket, value: Any) -> str:
    number = _priority(value)
    if number == ticket.priority:
        return ""
    ticket.priority = number
    return f"priority \u2192 P{number}"


def _prepare_fk(model: type, key: str, attr: str):
    def prepare(ticket: Ticket, value: Any) -> str:
        row = _by_name(model, key, value)
        if getattr(ticket, f"{attr}_id") == row.pk:
            return ""
        setattr(ticket, attr, row)
        return f"{attr.replace('_', ' ')} \u2192 {row.name}"
    return prepare


def _run_fk(model: type, key: str, attr: str):
    def run(ticket: Ticket, value: Any, fire: Any) -> str:
        row = _by_name(model, key, value)
        return _update(ticket, attr, row, f"{attr.replace('_', ' ')} \u2192 {row.name}")
    return run


def _agent(value: Any) -> User | None:
    wanted = str(value or "").strip()
    if not wanted:
        return None
    agent = User.objects.filter(Q(email__iexact=wanted) | Q(username=wanted)).first()
    if agent is None or not agent.is_agent:
        raise ValueError(f"no agent {wanted!r}")
    return agent


def _set_assignee(ticket: Ticket, value: Any, fire: Any) -> str:
    agent = _agent(value)
    return _update(ticket, "assignee", agent,
                   f"assignee \u2192 {agent.display_name if agent else 'nobody'}")


def _set_status(ticket: Ticket, value: Any, fire: Any) -> str:
    target = str(value).strip()
    if target == ticket.status:
        return ""
    services.transition(ticket, target, actor=None, reason=fire.describe)
    return f"status \u2192 {target}"


def _tags(ticket: Ticket, value: Any, *, add: bool) -> str:
    names = {n.lower() for n in _items(value)}
    current = set(ticket.tags.values_list("name", flat=True))
    wanted = current | names if add else current - names
    if wanted == current:
        return ""
    services.update_ticket(ticket, actor=None, changes={"tags": sorted(wanted)})
    changed = sorted(wanted - current) if add else sorted(current - wanted)
    return ("tags + " if add else "tags \u2212 ") + ", ".join(changed)


def _tags_many(tickets: list[Ticket], value: Any, fires: list[Any], *,
               add: bool) -> dict[int, str]:
    names = [str(n) for n in _items(value)]
    done = batch.change_tags_many([t.pk for t in tickets], add=names if add else (),
                                  remove=() if add else names)
    return {pk: ("tags + " + ", ".join(added)) if add else ("tags \u2212 " + ", ".join(gone))
            for pk, (added, gone) in done.items()}


def _note(ticket: Ticket, value: Any, fire: Any) -> str:
    body = str(value or "").strip()
    if not body:
        return ""
    services.add_system_note(ticket, body=f"{body}\n\n\u2014 {fire.describe}")
    return "internal note"


def _notes(tickets: list[Ticket], value: Any, fires: list[Any]) -> dict[int, str]:
    body = str(value or "").strip()
    if not body or not tickets:
        return {}
    written = batch.add_system_notes([t.pk for t in tickets],
                                     body=f"{body}\n\n\u2014 {fires[0].describe}")
    return dict.fromkeys(written, "internal note")


def _recipients(ticket: Ticket, value: Any) -> list[User]:
    """"assignee", "team" (the ticket's team), "team:Name", or e-mail addresses."""
    people: list[User] = []
    emails = []
    for item in _items(value):
        if item == "assignee":
            if ticket.assignee_id:
                people.append(ticket.assignee)
        elif item == "team" or item.startswith("team:"):
            team = ticket.team if item == "team" else _by_name(
                Team, "tickets.rules.teams", item.split(":", 1)[1])
            if team is not None:
                people.extend(team.members.filter(is_active=True))
        else:
            emails.append(item)
    if emails:
        people.extend(User.objects.filter(email__in=emails, is_active=True))
    return people


def _notify(ticket: Ticket, value: Any, fire: Any) -> str:
    spec = value if isinstance(value, dict) else {"to": value}
    people = _recipients(ticket, spec.get("to"))
    sent = notifications.notify_many(
        people, dedupe_prefix=f"rule:{fire.key}", source="tickets.rule",
        title=str(spec.get("title") or f"#{ticket.pk} {ticket.subject}")[:200],
        body=str(spec.get("body") or fire.describe), url=ticket.get_absolute_url())
    return f"notified {len(sent)}" if sent else ""


def _validate_priority(value: Any) -> None:
    _priority(value)


def _validate_status(value: Any) -> None:
    if str(value) not in {s.value for s in Status}:
        raise ValueError(f"unknown status {value!r}")


ACTIONS = [
    Action("set_priority", "Set priority (1-5)",
           lambda t, v, f: _update(t, "priority", _priority(v), f"priority \u2192 P{_priority(v)}"),
           prepare=_prepare_priority, validate=_validate_priority),
    Action("set_team", "Assign to team (name)", _run_fk(Team, "tickets.rules.teams", "team"),
           prepare=_prepare_fk(Team, "tickets.rules.teams", "team")),
    Action("set_assignee", "Assign to agent (e-mail or username; empty: unassign)",
           _set_assignee),
    Action("set_category", "Set category (name)",
           _run_fk(Category, "tickets.rules.categories", "category"),
           prepare=_prepare_fk(Category, "tickets.rules.categories", "category")),
    Action("set_product_area", "Set product area (name)",
           _run_fk(ProductArea, "tickets.rules.areas", "product_area"),
           prepare=_prepare_fk(ProductArea, "tickets.rules.areas", "product_area")),
    Action("set_status", "Set status (through the state machine)", _set_status,
           validate=_validate_status),
    Action("add_tags", "Add tags (comma-separated)", lambda t, v, f: _tags(t, v, add=True),
           run_many=lambda ts, v, fs: _tags_many(ts, v, fs, add=True)),
    Action("remove_tags", "Remove tags (comma-separated)",
           lambda t, v, f: _tags(t, v, add=False),
           run_many=lambda ts, v, fs: _tags_many(ts, v, fs, add=False)),
    Action("add_note", "Add an internal note (text)", _note, run_many=_notes),
    Action("notify", "Notify people: {\"to\": \"assignee, team, team:Name, a@b.c\", "
           "\"title\": ..., \"body\": ...}", _notify),
]


def register() -> None:
    for c in CONDITIONS:
        register_condition(c)
    for a in ACTIONS:
        register_action(a)
    custom.register()  # custom fields: one condition, one action
