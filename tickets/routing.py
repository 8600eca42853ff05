"""Intake rules: conditions on tier, channel, category, keywords, requester and custom
fields, in order."""
from __future__ import annotations

from collections.abc import Callable

from helpdesk import config_cache
from helpdesk.models import Team

from .custom_fields import conditions_hold
from .models import IntakeRule, Tag, Ticket


def rule_matches(rule: IntakeRule, ticket: Ticket) -> bool:
    """True when every condition the rule sets holds (an empty condition matches all)."""
    org = ticket.organization
    if rule.org_tiers and (org is None or org.support_tier not in rule.org_tiers):
        return False
    if rule.channels and ticket.channel not in rule.channels:
        return False
    category_ids = {c.pk for c in rule.categories.all()}
    if category_ids and ticket.category_id not in category_ids:
        return False
    keywords = [k.strip().lower() for k in rule.keywords.split(",") if k.strip()]
    if keywords:
        text = f"{ticket.subject}\n{ticket.description}".lower()
        if not any(k in text for k in keywords):
            return False
    patterns = [p.strip().lower() for p in rule.requester_emails.splitlines() if p.strip()]
    if patterns:
        email = (ticket.requester.email or "").lower()
        if not email or not any(
            email.endswith(p) if p.startswith("@") else email == p for p in patterns
        ):
            return False
    # Custom fields: the one test rules, SLA policies and triggers share.
    return conditions_hold(ticket, rule.custom_field_conditions or ())


def active_rules() -> list[IntakeRule]:
    """The active rules in order, conditions loaded (held per process: tickets.apps)."""
    return config_cache.get("tickets.intake_rules", lambda: list(
        IntakeRule.objects.filter(is_active=True)
        .prefetch_related("categories", "add_tags").select_related("set_team")))


def default_team() -> Team | None:
    """The team of tickets no rule routes (held per process: tickets.apps)."""
    return config_cache.get("tickets.default_team",
                            lambda: Team.objects.filter(is_default=True).first())


def _save_and_tag(ticket: Ticket, tags: list[Tag]) -> None:
    ticket.save()
    ticket.tags.add(*tags)


def apply_rules(ticket: Ticket, *, record: Callable[..., object],
                add_tags: Callable[[list[Tag]], object] | None = None) -> list[IntakeRule]:
    """Apply matching active rules in order; later rules override earlier field values.

    `record` writes the audit event (passed in to keep this module free of services);
    `add_tags` adds a rule's tags (default: save the ticket and add them), so a ticket not
    inserted yet can collect them.
    """
    applied = []
    for rule in active_rules():
        if not rule_matches(rule, ticket):
            continue
        changes = []
        if rule.set_team_id and rule.set_team_id != ticket.team_id:
            changes.append(f"team → {rule.set_team.name}")
            ticket.team = rule.set_team
        if rule.set_priority and rule.set_priority != ticket.priority:
            changes.append(f"priority → P{rule.set_priority}")
            ticket.priority = rule.set_priority
        tags = list(rule.add_tags.all())
        if tags:
            if add_tags is None:
                _save_and_tag(ticket, tags)
            else:
                add_tags(tags)
            changes.append("tags + " + ", ".join(t.name for t in tags))
        record(ticket, "routed", actor=None, after=rule.name, note="; ".join(changes))
        applied.append(rule)
        if rule.stop_processing:
            break
    return applied
