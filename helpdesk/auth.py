"""Authentication backend that keeps each user's permission set in the cache.

Every agent page asks "is this an agent?"; Django's ModelBackend answers with two
queries per request. The cached set is dropped whenever roles or permissions change.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

VERSION_KEY = "helpdesk:perms-version"
TTL = 300


def _version() -> int:
    return cache.get_or_set(VERSION_KEY, 1, None)


def forget_permissions(**kwargs: Any) -> None:
    """Invalidate every cached permission set (roles change rarely)."""
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, 2, None)


class CachedPermissionsBackend(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            key = f"helpdesk:perms:{_version()}:{user_obj.pk}:{int(user_obj.is_superuser)}"
            perms = cache.get(key)
            if perms is None:
                perms = super().get_all_permissions(user_obj)
                cache.set(key, perms, TTL)
            user_obj._perm_cache = perms
        return user_obj._perm_cache

    def get_user(self, user_id: Any) -> Any:
        """The signed-in user of a request, with the organization that
        `user_can_authenticate` reads (one query per request, not two)."""
        from django.contrib.auth import get_user_model

        model = get_user_model()
        try:  # get(), not first(): no ORDER BY username to build for one row by id
            user = model._default_manager.select_related("organization").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def user_can_authenticate(self, user: Any) -> bool:
        """A local password is refused to staff whose organization signs in through SSO."""
        if not super().user_can_authenticate(user):
            return False
        org = getattr(user, "organization", None)
        return not (org is not None and org.staff_sso_only and user.is_agent)
