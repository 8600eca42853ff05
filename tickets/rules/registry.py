"""The conditions and actions a trigger or an automation may use, by name.

tickets registers its own (`tickets.rules.core`); apps above it register theirs in
`AppConfig.ready()`, so the engine never imports them (custom fields plug in the same
way: one condition and one action).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import Ticket


@dataclass
class Context:
    """What a rule sees besides the ticket: the events of the write, the message text,
    and when it runs."""

    now: datetime
    events: frozenset[str] = frozenset()
    text: str | None = None  # the new message (or subject and description); None: load
    tags: frozenset[str] | None = None  # None: load from the ticket
    load_text: Callable[[], str] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def message_text(self, ticket: Ticket) -> str:
        if self.text is None:
            self.text = self.load_text() if self.load_text else \
                f"{ticket.subject}\n{ticket.description}"
        return self.text

    def tag_names(self, ticket: Ticket) -> frozenset[str]:
        if self.tags is None:
            self.tags = frozenset(ticket.tags.values_list("name", flat=True))
        return self.tags


@dataclass(frozen=True)
class Condition:
    """A value of the ticket that rules compare: `value_of(ticket, context)` with the
    generic operators (`compare`), or `test(ticket, context, spec)` for a condition that
    reads more of its spec than op and value (a custom field: {"field": "custom_field",
    "key": "plan", "op": "eq", "value": "Pro"}, tested by the fields' own matcher)."""

    name: str
    label: str
    value_of: Callable[[Ticket, Context], Any] | None
    ops: tuple[str, ...]
    help: str = ""
    test: Callable[[Ticket, Context, dict[str, Any]], bool] | None = None
    #: Checks a condition's whole spec (the admin form); raises ValueError.
    validate: Callable[[dict[str, Any]], None] | None = None


@dataclass(frozen=True)
class Action:
    """Something a rule does. `run(ticket, value, fire)` acts on a saved ticket and returns
    what it changed ("" when nothing); `prepare(ticket, value)` (optional) sets a field
    of a ticket not inserted yet, so a trigger on creation takes effect before the SLA
    clocks are targeted."""

    name: str
    label: str
    run: Callable[[Ticket, Any, Any], str]
    prepare: Callable[[Ticket, Any], str] | None = None
    help: str = ""
    validate: Callable[[Any], None] | None = None
    #: The set-wise form for an automation's scan: `run_many(tickets, value, fires)`
    #: returns what it changed per ticket id.
    run_many: Callable[[list[Ticket], Any, list[Any]], dict[int, str]] | None = None


_conditions: dict[str, Condition] = {}
_actions: dict[str, Action] = {}


def register_condition(condition: Condition) -> None:
    _conditions[condition.name] = condition


def register_action(action: Action) -> None:
    _actions[action.name] = action


def conditions() -> dict[str, Condition]:
    return dict(_conditions)


def actions() -> dict[str, Action]:
    return dict(_actions)


def condition(name: str) -> Condition | None:
    return _conditions.get(name)


def action(name: str) -> Action | None:
    return _actions.get(name)


# --- comparing ------------------------------------------------------------------------

EQUALITY = ("is", "is_not", "in", "not_in")
NUMBERS = ("is", "is_not", "in", "not_in", "lt", "lte", "gt", "gte")
TEXT = ("contains", "not_contains", "matches")
SETS = ("includes", "excludes")
BOOLEAN = ("is",)


def _items(expected: Any) -> list[Any]:
    if isinstance(expected, str):
        return [p.strip() for p in re.split(r"[,\n]", expected) if p.strip()]
    if isinstance(expected, Iterable):
        return list(expected)
    return [expected]


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None or b == "":
        return (a is None or a == "") and (b is None or b == "")
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == (b in (True, "true", "yes", "1", 1))
    if isinstance(a, int | float | Decimal) and not isinstance(a, bool):
        try:
            return Decimal(str(a)) == Decimal(str(b))
        except InvalidOperation:
            return False
    return str(a).lower() == str(b).lower()


def compare(value: Any, op: str, expected: Any) -> bool:
    """Whether `value` (a scalar, a set of names, or text) stands in `op` to `expected`."""
    if op == "is":
        return _same(value, expected)
    if op == "is_not":
        return not _same(value, expected)
    if op == "in":
        return any(_same(value, e) for e in _items(expected))
    if op == "not_in":
        return not any(_same(value, e) for e in _items(expected))
    if op in ("lt", "lte", "gt", "gte"):
        if value is None:
            return False
        a, b = Decimal(str(value)), Decimal(str(expected))
        return {"lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b}[op]
    if op in ("contains", "not_contains"):
        text = str(value or "").lower()
        found = any(k.lower() in text for k in _items(expected))
        return found if op == "contains" else not found
    if op == "matches":  # e-mail addresses or @domains, one per line or comma
        text = str(value or "").lower()
        return bool(text) and any(
            text.endswith(p.lower()) if p.startswith("@") else text == p.lower()
            for p in _items(expected))
    if op in ("includes", "excludes"):
        names = {str(v).lower() for v in value or ()}
        found = any(str(e).lower() in names for e in _items(expected))
        return found if op == "includes" else not found
    raise ValueError(f"Unknown operator {op!r}")


def check_rule_shape(conditions_: Any, actions_: Any) -> list[str]:
    """What is wrong with a rule's conditions and actions (the admin form says it)."""
    problems = []
    if not isinstance(conditions_, list):
        return ["Conditions must be a list."]
    if not isinstance(actions_, list):
        return ["Actions must be a list."]
    for i, c in enumerate(conditions_, 1):
        if not isinstance(c, dict) or not {"field", "op"} <= set(c):
            problems.append(f"Condition {i} needs a field and an op.")
            continue
        known = _conditions.get(c["field"])
        if known is None:
            problems.append(f"Condition {i}: unknown field {c['field']!r}.")
        elif c["op"] not in known.ops:
            problems.append(f"Condition {i}: {c['field']} takes {', '.join(known.ops)}.")
        elif known.validate is not None:
            try:
                known.validate(c)
            except ValueError as exc:
                problems.append(f"Condition {i}: {exc}")
    for i, a in enumerate(actions_, 1):
        if not isinstance(a, dict) or "action" not in a:
            problems.append(f"Action {i} needs an action name.")
            continue
        known_action = _actions.get(a["action"])
        if known_action is None:
            problems.append(f"Action {i}: unknown action {a['action']!r}.")
        elif known_action.validate is not None:
            try:
                known_action.validate(a.get("value"))
            except ValueError as exc:
                problems.append(f"Action {i} ({a['action']}): {exc}")
    return problems
