"""Who may set which ticket field: the rule every write in tickets.services applies.

Customers (requesters, their CCs, an organization's admin contact) file tickets, reply
publicly, mark them solved and reopen them. Everything that decides how a ticket is worked
is staff-only, whichever route the value comes through (API, portal form, e-mail,
transition): the services check it, so that no route can forget.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.core.exceptions import PermissionDenied

from helpdesk.models import User

from .models import Channel

# Channels a customer's own request arrives through; phone and chat are logged by agents.
CUSTOMER_CHANNELS = frozenset({Channel.WEB, Channel.EMAIL, Channel.API})

# The inputs of each write that only staff may give, whatever their value. (A channel and
# a reply's visibility are judged by value: a customer may choose web and public.)
STAFF_ONLY_INPUTS: dict[str, frozenset[str]] = {
    "create_ticket": frozenset({"requester", "organization", "priority", "tags"}),
    "transition": frozenset({"assignee", "to_team", "packet"}),
}


class StaffOnlyField(PermissionDenied):
    """A customer gave a value only staff may set; nothing was changed."""

    def __init__(self, fields: Iterable[str]) -> None:
        self.fields = tuple(sorted(fields))
        names = ", ".join(f.replace("_", " ") for f in self.fields)
        super().__init__(f"Only agents can set {names}.")


def refuse_staff_inputs(actor: User | None, operation: str, names: Iterable[str]) -> None:
    """Refuse a customer who names a staff-only input of `operation`, before its value is
    even read (so an unknown id and a real one get the same answer)."""
    staff_only = STAFF_ONLY_INPUTS[operation]
    refuse_staff_fields(actor, {name: name in staff_only for name in names})


def refuse_staff_fields(actor: User | None, given: Mapping[str, bool]) -> None:
    """Refuse a customer actor every staff-only input it gave (`given`: name -> given).

    `actor=None` is the system (triggers, a mailbox's configured defaults, scheduled
    jobs): it may set anything.
    """
    if actor is None or actor.is_agent:
        return
    named = [name for name, is_given in given.items() if is_given]
    if named:
        raise StaffOnlyField(named)
