"""Single sign-on for staff through OpenID Connect (mozilla-django-oidc).

A person is matched by a verified e-mail address only (never by a name the provider sends);
the roles claim, when present, sets their role groups; nobody is created unless
OIDC_CREATE_USER is on, and only staff may sign in this way.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.db.models import QuerySet
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .roles import Role


def _email_verified(claims: dict[str, Any]) -> bool:
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


class StaffOIDCBackend(OIDCAuthenticationBackend):
    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("email")) and _email_verified(claims) \
            and super().verify_claims(claims)

    def filter_users_by_claims(self, claims: dict[str, Any]) -> QuerySet:
        email = (claims.get("email") or "").strip()
        if not email or not _email_verified(claims):
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(email__iexact=email, is_active=True)

    def create_user(self, claims: dict[str, Any]):
        user = self.UserModel.objects.create_user(
            username=claims["email"].lower()[:150], email=claims["email"],
            first_name=claims.get("given_name", "")[:150],
            last_name=claims.get("family_name", "")[:150])
        user.set_unusable_password()
        user.save(update_fields=["password"])
        return self.update_user(user, claims)

    def update_user(self, user, claims: dict[str, Any]):
        roles = claims.get(getattr(settings, "OIDC_ROLES_CLAIM", "helpdesk_roles"))
        if isinstance(roles, str):
            roles = [roles]
        if isinstance(roles, list):
            names = getattr(settings, "OIDC_ROLE_MAP", {})
            wanted = [names.get(r, r) for r in roles if isinstance(r, str)]
            wanted = [r for r in wanted if r in Role.ALL]
            with transaction.atomic():
                current = user.groups.filter(name__in=Role.ALL)
                stale = [g for g in current if g.name not in wanted]
                if stale:
                    user.groups.remove(*stale)
                fresh = Group.objects.filter(name__in=wanted).exclude(
                    pk__in=user.groups.values("pk"))
                if fresh:
                    user.groups.add(*fresh)
            for cached in ("is_agent", "sees_all_tickets", "_perm_cache"):
                user.__dict__.pop(cached, None)
        return user

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]):
        user = super().get_or_create_user(access_token, id_token, payload)
        if user is not None and not user.is_agent:
            # Customers sign in with a password or a link; SSO is the staff's door.
            raise SuspiciousOperation("Single sign-on is for staff only.")
        return user
