"""Roles as Django groups, with the permissions each one carries.

Permissions are named "app_label.codename"; those that do not exist yet (an app
whose issue has not landed) are skipped, and picked up on the next migrate.
"""
from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q


class Role:
    CUSTOMER = "customer"
    AGENT = "agent"
    TEAM_LEAD = "team lead"
    QA_REVIEWER = "QA reviewer"
    MANAGER = "manager"
    ADMIN = "admin"

    ALL = (CUSTOMER, AGENT, TEAM_LEAD, QA_REVIEWER, MANAGER, ADMIN)
    STAFF = (AGENT, TEAM_LEAD, QA_REVIEWER, MANAGER, ADMIN)


_AGENT = [
    "tickets.work_ticket",
    "tickets.view_ticket",
    "tickets.change_ticket",
    "tickets.add_ticket",
    "tickets.view_macro",
    "helpdesk.view_organization",
    "helpdesk.view_user",
    "incidents.declare_incident",  # declare, work in war rooms, link tickets
]
_LEAD = _AGENT + [
    "incidents.manage_incident",  # assign roles, publish updates, resolve
    "tickets.add_macro",
    "tickets.change_macro",
    "tickets.bulk_update_ticket",
    "tickets.merge_ticket",
    # Plans people's time: shifts, time off decisions, the on-call rota.
    "workforce.change_scheduledshift",
    "workforce.change_timeoff",
    "workforce.change_rotation",
]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.CUSTOMER: [],
    Role.AGENT: _AGENT + ["tickets.merge_ticket", "tickets.bulk_update_ticket"],
    Role.TEAM_LEAD: _LEAD,
    Role.QA_REVIEWER: _AGENT + ["tickets.view_all_tickets"],
    Role.MANAGER: _LEAD + [
        "tickets.view_all_tickets",
        "helpdesk.change_organization",
        "helpdesk.add_organization",
    ],
    Role.ADMIN: _LEAD + ["tickets.view_all_tickets", "helpdesk.change_organization",
                         # issue 24: the audit log, and customers' export and erasure
                         "helpdesk.view_auditentry", "privacy.handle_privacy_requests"],
}
# Knowledge base: every staff role writes drafts and flags articles; leads, managers and
# admins also publish, archive and read the deflection dashboard.
for _role in Role.STAFF:
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [
        "knowledge.add_article", "knowledge.change_article", "knowledge.view_article",
    ] + (["knowledge.publish_article", "knowledge.view_kb_dashboard"]
         if _role in (Role.TEAM_LEAD, Role.MANAGER, Role.ADMIN) else [])
# QA: reviewers score, read every review and calibrate; leads, managers and admins also
# resolve disputes, coach and flag tickets. Agents read only their own reviews (no perm).
for _role in (Role.QA_REVIEWER, Role.TEAM_LEAD, Role.MANAGER, Role.ADMIN):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + [
        "qa.review_tickets", "qa.view_all_reviews", "qa.run_calibration",
    ] + (["qa.lead_qa"] if _role != Role.QA_REVIEWER else [])


def sync_roles() -> None:
    """Create the role groups and give each exactly its permissions (idempotent)."""
    wanted = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    query = Q(pk__in=[])
    for perm in wanted:
        app_label, codename = perm.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.filter(query).select_related("content_type")
    }
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set([found[p] for p in perms if p in found])


def sync_roles_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """After migrate (and after a test flush): roles, and defaults of an empty database."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    # Once, after the last app that has models: post_migrate is not sent for an app
    # without models (devdata), so "the last installed app" may never come.
    with_models = [c for c in global_apps.get_app_configs() if c.models_module is not None]
    if sender.label != with_models[-1].label:
        return
    # This receiver may run before auth's own for the last apps: create every app's
    # permissions first (idempotent) so that each role gets all of its own.
    for config in global_apps.get_app_configs():
        create_permissions(config, verbosity=0, using=using,
                           apps=kwargs.get("apps") or global_apps)
    from .defaults import seed_default_teams
    from .models import Team

    sync_roles()
    seed_default_teams(Team)
