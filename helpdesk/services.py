"""Identity writes: customer sign-up joins the organization that owns the e-mail domain;
roles; the user's own workspace preferences."""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from .models import Organization, User
from .roles import Role


def organization_for_email(email: str) -> Organization | None:
    domain = email.rsplit("@", 1)[-1].lower() if "@" in email else ""
    if not domain:
        return None
    return Organization.objects.filter(domain__iexact=domain).first()


def register_customer(*, username: str, email: str, password: str, first_name: str = "",
                      last_name: str = "") -> User:
    with transaction.atomic():
        user = User.objects.create_user(
            username=username, email=email, password=password, first_name=first_name,
            last_name=last_name, organization=organization_for_email(email),
        )
        user.groups.add(Group.objects.get_or_create(name=Role.CUSTOMER)[0])
    return user


def grant_role(user: User, role: str) -> None:
    if role not in Role.ALL:
        raise ValueError(f"Unknown role {role!r}")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    if role in (Role.ADMIN,):
        user.is_staff = True
        user.save(update_fields=["is_staff"])


def set_preference(user: User, key: str, value: Any) -> None:
    """Keep one of the user's workspace preferences (None forgets it, so the default
    applies again). Under the row lock, so two tabs saving different preferences keep both."""
    with transaction.atomic():
        stored = (User.objects.select_for_update().filter(pk=user.pk)
                  .values_list("preferences", flat=True).first()) or {}
        if value is None:
            stored.pop(key, None)
        else:
            stored[key] = value
        User.objects.filter(pk=user.pk).update(preferences=stored)
    user.preferences = stored
