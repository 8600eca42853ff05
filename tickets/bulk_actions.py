"""Extra buttons other apps add to the queue's bulk bar, without `tickets` knowing them.

An app registers in its AppConfig.ready():

    bulk_actions.register(BulkAction("declare_incident", "Declare incident",
                                     url_name="incidents:bulk_declare",
                                     permission="incidents.declare_incident"))

The button submits the selected ticket ids (`ids`) to that URL by POST; the receiving
view checks permissions and visibility itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BulkAction:
    name: str
    label: str
    url_name: str
    permission: str = ""
    order: int = 100


_registry: dict[str, BulkAction] = {}


def register(action: BulkAction) -> None:
    _registry[action.name] = action


def unregister(name: str) -> None:
    _registry.pop(name, None)


def for_user(user: Any) -> list[BulkAction]:
    return sorted((a for a in _registry.values()
                   if not a.permission or user.has_perm(a.permission)),
                  key=lambda a: (a.order, a.name))
