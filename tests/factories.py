"""Test data builders. Tickets are created through the services, as in production."""
from __future__ import annotations

import itertools

from django.contrib.auth.models import Group

from helpdesk.models import Membership, Organization, SupportTier, Team, User
from helpdesk.roles import Role
from tickets import services
from tickets.models import Channel, Ticket

_seq = itertools.count(1)


def make_org(name: str | None = None, *, tier: str = SupportTier.BUSINESS, domain: str = "",
             csm: User | None = None) -> Organization:
    n = next(_seq)
    return Organization.objects.create(
        name=name or f"Org {n}", support_tier=tier, domain=domain or f"org{n}.example",
        csm=csm,
    )


def make_user(role: str = Role.CUSTOMER, *, org: Organization | None = None,
              teams: tuple[Team, ...] = (), lead: bool = False, username: str | None = None,
              password: str = "pw-Secret-123", **fields) -> User:
    n = next(_seq)
    username = username or f"{role.replace(' ', '_').lower()}{n}"
    fields.setdefault("email", f"{username}@{org.domain if org else 'example.com'}")
    fields.setdefault("first_name", username.capitalize())
    user = User.objects.create_user(username=username, password=password, organization=org,
                                    **fields)
    user.groups.add(Group.objects.get(name=role))
    for team in teams:
        Membership.objects.create(team=team, user=user, is_lead=lead)
    if role == Role.ADMIN:
        user.is_staff = True
        user.is_superuser = True
        user.save()
    return User.objects.get(pk=user.pk)  # fresh: no cached permissions


def team(slug: str) -> Team:
    return Team.objects.get(slug=slug)


def make_ticket(requester: User, *, subject: str = "Cannot log in",
                description: str = "The login page says my password is wrong.",
                channel: str = Channel.WEB, **kwargs) -> Ticket:
    return services.create_ticket(requester=requester, subject=subject,
                                  description=description, channel=channel, **kwargs)


PACKET = {
    "issue_summary": "SSO login fails for all users of the org since 09:00.",
    "troubleshooting_done": "Checked IdP metadata, cleared sessions, reproduced with a test user.",
    "reason": "Needs access to the SAML assertion logs (L2 only).",
    "customer_expectation": "Working login before their 14:00 board meeting.",
    "next_steps": "Compare the certificate fingerprint with the one uploaded last week.",
}
