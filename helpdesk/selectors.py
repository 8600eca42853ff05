"""Identity reads shared by forms, views and the API."""
from __future__ import annotations

from django.core.cache import cache
from django.db.models import QuerySet

from .models import User, staff_groups, staff_only


def agent_ids() -> set[int]:
    """Ids of users who may work tickets: members of a staff role, and superusers.

    Two index lookups (role membership by group, superusers by a partial index) instead
    of a join over every user: customers outnumber agents a thousand to one.
    """
    ids = set(User.groups.through.objects.filter(group_id__in=staff_groups())
              .values_list("user_id", flat=True))
    ids.update(User.objects.filter(is_superuser=True).values_list("pk", flat=True))
    return ids


def agents() -> QuerySet[User]:
    """Active agents, by username (lazy: no query until evaluated)."""
    return User.objects.filter(staff_only(), is_active=True).order_by("username")


AGENT_CHOICES_KEY = "helpdesk:agent-choices"


def agent_choices() -> list[tuple[int, str]]:
    """(id, name) of active agents for pickers; cached, and dropped when users change."""
    cached = cache.get(AGENT_CHOICES_KEY)
    if cached is None:
        cached = [(u.pk, u.display_name) for u in User.objects.filter(
            pk__in=agent_ids(), is_active=True).order_by("username").only(
            "pk", "username", "first_name", "last_name")]
        cache.set(AGENT_CHOICES_KEY, cached, 300)
    return cached


AGENT_VERSION_KEY = "helpdesk:agent-choices-version"


def agent_choices_version() -> int:
    """Changes whenever the agent list may have: part of cache keys of rendered pickers."""
    return cache.get_or_set(AGENT_VERSION_KEY, 1, None)


def forget_agent_choices(**kwargs: object) -> None:
    cache.delete(AGENT_CHOICES_KEY)
    try:
        cache.incr(AGENT_VERSION_KEY)
    except ValueError:
        cache.set(AGENT_VERSION_KEY, 2, None)
