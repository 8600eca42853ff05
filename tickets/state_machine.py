"""The ticket lifecycle as one explicit table of allowed transitions (pure Python).

Every status change in the product goes through `check`; a pair that is not in
TRANSITIONS is refused, and so is a transition whose required inputs are missing.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    WAITING_ON_THIRD_PARTY = "waiting_on_third_party"
    ESCALATED = "escalated"
    ENGINEERING = "engineering"
    RESOLVED = "resolved"
    CLOSED = "closed"


def gettext_noop(message: str) -> str:
    """Marks a label for the catalogues (makemessages) in this Django-free module; the
    pages and e-mails that show it translate it (gettext)."""
    return message


LABELS: dict[Status, str] = {
    Status.NEW: gettext_noop("New"),
    Status.TRIAGED: gettext_noop("Triaged"),
    Status.ASSIGNED: gettext_noop("Assigned"),
    Status.IN_PROGRESS: gettext_noop("In progress"),
    Status.WAITING_ON_CUSTOMER: gettext_noop("Waiting on customer"),
    Status.WAITING_ON_THIRD_PARTY: gettext_noop("Waiting on third party"),
    Status.ESCALATED: gettext_noop("Escalated"),
    Status.ENGINEERING: gettext_noop("With engineering"),
    Status.RESOLVED: gettext_noop("Resolved"),
    Status.CLOSED: gettext_noop("Closed"),
}

OPEN_STATUSES: frozenset[Status] = frozenset(set(Status) - {Status.RESOLVED, Status.CLOSED})
WAITING_STATUSES: frozenset[Status] = frozenset(
    {Status.WAITING_ON_CUSTOMER, Status.WAITING_ON_THIRD_PARTY}
)

# Inputs a transition may require.
REASON = "reason"
ASSIGNEE = "assignee"
PACKET = "packet"
TO_TEAM = "to_team"


@dataclass(frozen=True)
class Transition:
    source: Status
    target: Status
    name: str
    requires: frozenset[str] = field(default_factory=frozenset)
    # Who may trigger it besides agents: customers act only on their own tickets.
    customer_allowed: bool = False


def _t(source: Status, target: Status, name: str, *requires: str,
       customer: bool = False) -> Transition:
    return Transition(source, target, name, frozenset(requires), customer)


S = Status
_TABLE: list[Transition] = [
    # Intake
    _t(S.NEW, S.TRIAGED, "triage"),
    _t(S.NEW, S.ASSIGNED, "assign", ASSIGNEE),
    _t(S.NEW, S.IN_PROGRESS, "start", ASSIGNEE),
    _t(S.NEW, S.ESCALATED, "escalate", PACKET, TO_TEAM),
    _t(S.NEW, S.RESOLVED, "resolve", customer=True),
    _t(S.NEW, S.CLOSED, "close", REASON),
    _t(S.TRIAGED, S.ASSIGNED, "assign", ASSIGNEE),
    _t(S.TRIAGED, S.IN_PROGRESS, "start", ASSIGNEE),
    _t(S.TRIAGED, S.ESCALATED, "escalate", PACKET, TO_TEAM),
    _t(S.TRIAGED, S.RESOLVED, "resolve", customer=True),
    _t(S.TRIAGED, S.CLOSED, "close", REASON),
    # Work
    _t(S.ASSIGNED, S.TRIAGED, "return to queue", REASON),
    _t(S.ASSIGNED, S.IN_PROGRESS, "start"),
    _t(S.ASSIGNED, S.WAITING_ON_CUSTOMER, "wait on customer", REASON),
    _t(S.ASSIGNED, S.WAITING_ON_THIRD_PARTY, "wait on third party", REASON),
    _t(S.ASSIGNED, S.ESCALATED, "escalate", PACKET, TO_TEAM),
    _t(S.ASSIGNED, S.RESOLVED, "resolve", customer=True),
    _t(S.IN_PROGRESS, S.WAITING_ON_CUSTOMER, "wait on customer", REASON),
    _t(S.IN_PROGRESS, S.WAITING_ON_THIRD_PARTY, "wait on third party", REASON),
    _t(S.IN_PROGRESS, S.ESCALATED, "escalate", PACKET, TO_TEAM),
    _t(S.IN_PROGRESS, S.ENGINEERING, "send to engineering", PACKET),
    _t(S.IN_PROGRESS, S.RESOLVED, "resolve", customer=True),
    # Waiting
    _t(S.WAITING_ON_CUSTOMER, S.IN_PROGRESS, "resume", customer=True),
    _t(S.WAITING_ON_CUSTOMER, S.RESOLVED, "resolve", customer=True),
    _t(S.WAITING_ON_CUSTOMER, S.CLOSED, "close", REASON),
    _t(S.WAITING_ON_THIRD_PARTY, S.IN_PROGRESS, "resume"),
    _t(S.WAITING_ON_THIRD_PARTY, S.RESOLVED, "resolve", customer=True),
    # Escalated: the receiving tier picks it up, sends it on, or solves it
    _t(S.ESCALATED, S.ASSIGNED, "accept escalation", ASSIGNEE),
    _t(S.ESCALATED, S.IN_PROGRESS, "start", ASSIGNEE),
    _t(S.ESCALATED, S.ENGINEERING, "send to engineering", PACKET),
    _t(S.ESCALATED, S.RESOLVED, "resolve", customer=True),
    # Engineering
    _t(S.ENGINEERING, S.IN_PROGRESS, "back from engineering"),
    _t(S.ENGINEERING, S.WAITING_ON_CUSTOMER, "wait on customer", REASON),
    _t(S.ENGINEERING, S.RESOLVED, "resolve", customer=True),
    # After resolution
    _t(S.RESOLVED, S.IN_PROGRESS, "reopen", REASON, customer=True),
    _t(S.RESOLVED, S.CLOSED, "close"),
]

TRANSITIONS: dict[tuple[Status, Status], Transition] = {
    (t.source, t.target): t for t in _TABLE
}
assert len(TRANSITIONS) == len(_TABLE), "duplicate transition in the table"

# Merging closes the duplicate from every status but closed, with no input to give: a
# table of its own, since the manual "close" of the same (source, target) pairs needs a
# reason and exists only from some statuses.
MERGES: dict[Status, Transition] = {
    s: Transition(s, S.CLOSED, "merge") for s in Status if s != S.CLOSED
}


class TransitionError(ValueError):
    """A status change that is not allowed; changes nothing.

    `str()` is the English text. This module cannot translate (no Django), so a message
    raised here keeps its catalogue template and arguments: `translated(gettext)` gives it
    in the reader's language, status labels included.
    """

    def __init__(self, message: str, *, missing: Iterable[str] = (),
                 params: Mapping[str, str] | None = None) -> None:
        self.template = message
        self.params = dict(params or {})
        super().__init__(message % self.params if self.params else message)
        self.missing = tuple(sorted(missing))

    def translated(self, gettext: Callable[[str], str]) -> str:
        if not self.params:
            return gettext(self.template)
        return gettext(self.template) % {k: gettext(v) for k, v in self.params.items()}


def check_merge(source: Status | str) -> Transition:
    """The transition that closes a ticket merged into another; refused once closed."""
    step = MERGES.get(Status(source))
    if step is None:
        raise TransitionError(gettext_noop("A closed ticket cannot be merged."))
    return step


def allowed_targets(source: Status | str, *, customer: bool = False) -> list[Status]:
    source = Status(source)
    return [
        t.target for (s, _), t in TRANSITIONS.items()
        if s == source and (t.customer_allowed or not customer)
    ]


def check(
    source: Status | str,
    target: Status | str,
    provided: Mapping[str, object] | None = None,
    *,
    customer: bool = False,
) -> Transition:
    """Return the transition from `source` to `target` or raise TransitionError."""
    try:
        source, target = Status(source), Status(target)
    except ValueError as exc:
        raise TransitionError(gettext_noop("Unknown status: %(status)s"),
                              params={"status": str(exc)}) from exc
    transition = TRANSITIONS.get((source, target))
    if transition is None:
        raise TransitionError(gettext_noop("A ticket cannot go from %(source)s to %(target)s."),
                              params={"source": LABELS[source], "target": LABELS[target]})
    if customer and not transition.customer_allowed:
        raise TransitionError(gettext_noop("Customers cannot %(transition)s a ticket."),
                              params={"transition": transition.name})
    provided = provided or {}
    missing = [name for name in transition.requires if not provided.get(name)]
    if missing:
        raise TransitionError(
            gettext_noop("To %(transition)s this ticket, provide: %(missing)s."),
            params={"transition": transition.name, "missing": ", ".join(sorted(missing))},
            missing=missing,
        )
    return transition
