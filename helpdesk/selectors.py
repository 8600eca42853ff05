"""Identity reads shared by forms, views and the API."""
from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import QuerySet

from .models import User


def agent_ids() -> set[int]:
    """Ids of users who may work tickets: members of a staff role, and superusers.

    Two index lookups (role membership by group, superusers by a partial index) instead
    of a join over every user: customers outnumber agents a thousand to one.
    """
    staff_groups = Group.objects.filter(
        permissions__codename="work_ticket", permissions__content_type__app_label="tickets"
    ).values("pk")
    ids = set(User.groups.through.objects.filter(group_id__in=staff_groups)
              .values_list("user_id", flat=True))
    ids.update(User.objects.filter(is_superuser=True).values_list("pk", flat=True))
    return ids


def agents() -> QuerySet[User]:
    """Active agents, by username."""
    return User.objects.filter(pk__in=agent_ids(), is_active=True).order_by("username")
