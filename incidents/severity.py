"""The severity decision matrix (users affected × impact → SEV1–SEV5), pure Python.

The matrix is the one the support-operations handbook uses:

                     one user   multiple   all users
    complete block     SEV3       SEV2       SEV1
    major impairment   SEV4       SEV3       SEV2
    minor impairment   SEV5       SEV4       SEV3
"""
from __future__ import annotations

from enum import IntEnum, StrEnum

from django.utils.translation import gettext_lazy as _


class Level(IntEnum):
    SEV1 = 1
    SEV2 = 2
    SEV3 = 3
    SEV4 = 4
    SEV5 = 5


class UsersAffected(StrEnum):
    ONE = "one"
    MULTIPLE = "multiple"
    ALL = "all"


class Impact(StrEnum):
    COMPLETE = "complete"
    MAJOR = "major"
    MINOR = "minor"


USERS_LABELS = {UsersAffected.ONE: _("One user"), UsersAffected.MULTIPLE: _("Multiple users"),
                UsersAffected.ALL: _("All users")}
IMPACT_LABELS = {Impact.COMPLETE: _("Complete block"), Impact.MAJOR: _("Major impairment"),
                 Impact.MINOR: _("Minor impairment")}

# Severity is the sum of two ranks: each step down in impact or in reach adds one.
_USERS_RANK = {UsersAffected.ALL: 0, UsersAffected.MULTIPLE: 1, UsersAffected.ONE: 2}
_IMPACT_RANK = {Impact.COMPLETE: 0, Impact.MAJOR: 1, Impact.MINOR: 2}


def suggest(users: UsersAffected | str, impact: Impact | str) -> Level:
    """The severity the matrix suggests; raises ValueError for an unknown input."""
    return Level(1 + _USERS_RANK[UsersAffected(users)] + _IMPACT_RANK[Impact(impact)])


def matrix() -> list[tuple[Impact, list[tuple[UsersAffected, Level]]]]:
    """Rows of the matrix in display order (for the declare page)."""
    return [(i, [(u, suggest(u, i)) for u in UsersAffected]) for i in Impact]


def needs_reason(suggested: Level | int, chosen: Level | int) -> bool:
    """Overriding the suggestion must be explained."""
    return int(suggested) != int(chosen)


def label(level: Level | int) -> str:
    return f"SEV{int(level)}"
