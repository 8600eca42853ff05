"""How to fill each URL's kwargs with the world's objects (org A / team X owned)."""
from __future__ import annotations

from django.urls import get_resolver, reverse

from .world import MISSING, World

# pk by URL namespace / name; anything not listed is a missing object.
PK_BY_PREFIX = {
    "agent:": "ticket", "portal:": "ticket", "casework:": "ticket",
    "qa:": "review", "incidents:": "incident", "status:": "incident",
    "ticket-": "ticket", "qa-review-": "review", "incident-": "incident",
    "knowledge:": "internal_pk",
}
PK_BY_NAME = {
    "portal:attachment": "attachment", "casework:feedback_item": "feedback_item",
    "casework:voc_detail": "voc", "qa:calibration": "calibration",
    "qa:calibration_item": "calibration", "qa:calibration_close": "calibration",
    "qa:dispute": "review_disputed",
    "knowledge:panel_search": "ticket", "knowledge:flag": "ticket",
    "knowledge:draft_from_ticket": "ticket", "mailgate:retry": "outbound",
    "mailgate:clear_bounce": "bounce_mark",
    "mail-outbound-retry": "outbound", "casework-link-status": "link",
    "workforce_oncall:rotation": "rotation", "workforce_oncall:ical": "rotation",
    "workforce_oncall:add_override": "rotation", "workforce_oncall:swap": "rotation",
    "workforce_oncall:remove_override": "rotation",
    "workforce_schedules:decide_time_off": "time_off",
    "qa:coaching_detail": "coaching", "notifications:read": "notification",
    "sla:exempt": "clock", "surveys:handle_follow_up": "follow_up",
    "privacy:approve_erasure": "privacy_request", "privacy:progress": "privacy_request",
}
# Other id kwargs (casework's run/step/evidence/link of org A's ticket, and so on).
ID_KWARGS = {
    "item_pk": "calibration_item", "evidence_id": "evidence", "playbook_id": "playbook",
    "run_id": "playbook_run", "step_id": "playbook_step", "link_id": "link",
    "action_pk": "incident_action", "suggestion_pk": "suggestion", "override_pk": "override",
    "page_pk": "page",
}
SLUG_BY_NAME = {
    "knowledge:article": "article_slug", "knowledge:vote": "article_slug",
    "knowledge:section": "section_slug", "kb-article": "article_slug",
}


def url_kwargs(name: str) -> set[str]:
    keys: set[str] = set()
    resolver = get_resolver()
    parts = name.split(":")
    for ns in parts[:-1]:
        resolver = resolver.namespace_dict[ns][1]
    for possibility, _p, _defaults, _conv in resolver.reverse_dict.getlist(parts[-1]):
        for _result, params in possibility:
            if "format" not in params:
                keys.update(params)
    return keys


def build_url(name: str, w: World, **override) -> str:
    ids = w.ids
    kwargs = {}
    for key in url_kwargs(name):
        if key in override:
            kwargs[key] = override[key]
        elif key == "pk":
            ref = PK_BY_NAME.get(name, next(
                (v for k, v in PK_BY_PREFIX.items() if name.startswith(k)), None))
            if name in ("organization-detail",):
                kwargs[key] = w.users["customer_a"].organization_id
            elif name in ("user-detail",):
                kwargs[key] = w.users["customer_a"].pk
            else:
                kwargs[key] = ids[ref] if ref else MISSING
        elif key in ("ticket_pk",):
            kwargs[key] = ids["ticket"]
        elif key == "scorecard_pk":
            kwargs[key] = ids["scorecard"]
        elif key == "slug":
            ref = SLUG_BY_NAME.get(name)
            kwargs[key] = ids[ref] if ref else ids["team_slug"]
        elif key == "token" and name == "mailgate:unsubscribe":
            kwargs[key] = ids["unsubscribe_token"]
        elif key == "token":
            kwargs[key] = ids["survey_token"]
        elif key == "score":
            kwargs[key] = 5
        elif key == "name":
            kwargs[key] = {"mailgate:inbound": "support"}.get(name, "mine")
        elif key in ("uidb64",):
            kwargs[key] = "MQ"
        elif key == "role_pk":
            kwargs[key] = ids["incident_role"]
        elif key in ID_KWARGS:
            kwargs[key] = ids[ID_KWARGS[key]]
        else:
            kwargs[key] = MISSING
    return reverse(name, kwargs=kwargs)
