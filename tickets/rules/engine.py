"""Matching rules, and the triggers of a new ticket applied before it is inserted."""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from helpdesk import config_cache

from ..models import Automation, RuleEvent, RuleFire, Ticket, Trigger
from . import registry
from .registry import Context

logger = logging.getLogger(__name__)


def active_triggers() -> list[Trigger]:
    """The active triggers in order (held per process: a change drops every copy)."""
    return config_cache.get("tickets.triggers", lambda: list(
        Trigger.objects.filter(is_active=True).order_by("order", "id")))


def active_automations() -> list[Automation]:
    """Read fresh by each scan (one query): their scan positions change every run."""
    return list(Automation.objects.filter(is_active=True).order_by("order", "id"))


def matches(rule: Trigger | Automation, ticket: Ticket, context: Context) -> bool:
    """All (or any) of the rule's conditions hold; no condition matches every ticket.
    A condition whose field is not registered (its app removed) never holds."""
    results = (_holds(c, ticket, context) for c in rule.conditions or [])
    if not rule.conditions:
        return True
    return all(results) if rule.match_all else any(results)


def _holds(spec: dict[str, Any], ticket: Ticket, context: Context) -> bool:
    cond = registry.condition(spec.get("field", ""))
    if cond is None:
        return False
    try:
        if cond.test is not None:
            return cond.test(ticket, context, spec)
        return registry.compare(cond.value_of(ticket, context), spec.get("op", "is"),
                                spec.get("value"))
    except (ValueError, ArithmeticError, TypeError):
        return False


def warn(rule: Trigger | Automation, text: str) -> None:
    """Log a warning on the rule (shown in the admin); an update, not a save, so the
    held rule set stays valid."""
    logger.warning("Rule %r: %s", rule.name, text)
    type(rule).objects.filter(pk=rule.pk).update(last_warning=text[:2000],
                                                 last_warning_at=timezone.now())


_acting = threading.local()


@contextmanager
def acting(describe: str) -> Iterator[None]:
    """While a rule acts: the audit rows the services write name it (their note)."""
    before = getattr(_acting, "note", "")
    _acting.note = describe
    try:
        yield
    finally:
        _acting.note = before


def acting_note() -> str:
    return getattr(_acting, "note", "")


def describe(rule: Trigger | Automation) -> str:
    kind = "Trigger" if isinstance(rule, Trigger) else "Automation"
    return f"{kind} \u201c{rule.name}\u201d"


# --- creation -------------------------------------------------------------------------

@dataclass
class Pending:
    """What the triggers of a new ticket left to do once it is inserted."""

    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    later: list[tuple[Trigger, dict[str, Any]]] = field(default_factory=list)
    fires: list[tuple[Trigger, str]] = field(default_factory=list)


def on_create(ticket: Ticket, *, tags: list[str], record: Callable[..., object],
              now: Any) -> Pending:
    """Apply the triggers on "created" to a ticket not inserted yet, in order: field
    actions change it in memory (so the SLA clocks are targeted with the rule's priority
    and team); the others wait for the insert (`Pending.later`). `record(ticket, kind,
    **kw)` adds an audit row naming the rule."""
    pending = Pending()
    triggers = [t for t in active_triggers() if RuleEvent.CREATED in (t.events or [])]
    if not triggers:
        return pending
    tag_set = {t.strip().lower() for t in tags}
    context = Context(now=now, events=frozenset({RuleEvent.CREATED}),
                      text=f"{ticket.subject}\n{ticket.description}")
    for trigger in triggers:
        context.tags = frozenset(tag_set)
        if not matches(trigger, ticket, context):
            continue
        changes = []
        for spec in trigger.actions or []:
            act = registry.action(spec.get("action", ""))
            if act is None:
                continue
            value = spec.get("value")
            if spec["action"] == "add_tags":
                names = [n.lower() for n in registry._items(value)]
                pending.add_tags.extend(names)
                tag_set |= set(names)
                changes.append("tags + " + ", ".join(names))
            elif spec["action"] == "remove_tags":
                names = [n.lower() for n in registry._items(value)]
                pending.remove_tags.extend(names)
                tag_set -= set(names)
                changes.append("tags \u2212 " + ", ".join(names))
            elif act.prepare is not None:
                try:
                    done = act.prepare(ticket, value)
                except (ValueError, LookupError) as exc:
                    warn(trigger, f"{spec['action']}: {exc}")
                    continue
                if done:
                    changes.append(done)
            else:
                pending.later.append((trigger, spec))
        note = "; ".join(changes)
        record(ticket, "rule", actor=None, field="trigger", after=trigger.name, note=note)
        pending.fires.append((trigger, note))
        if trigger.stop_processing:
            break
    return pending


def record_fires(ticket: Ticket, fires: list[tuple[Trigger, str]], *, now: Any) -> None:
    if fires:
        RuleFire.objects.bulk_create([
            RuleFire(trigger=t, ticket=ticket, fired_at=now, changes=note)
            for t, note in fires])



_later: Callable[..., None] | None = None


def register_later(fn: Callable[..., None]) -> None:
    """Who runs the actions that wait for the insert (`runner.after_create`: it imports
    the services, which import this module)."""
    global _later
    _later = fn


def run_later(ticket: Ticket, pending: Pending, *, now: Any) -> None:
    if _later is not None:
        _later(ticket, pending, now=now)
