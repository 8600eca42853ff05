"""Default severities (SEV1–SEV5) with cadence, response SLA, escalation path, channels.

Used by the data migration and re-applied after a test flush (post_migrate); only an
empty Severity table is filled, so an admin's edits are never overwritten.
"""
from __future__ import annotations

from typing import Any

# level, name, definition, examples, response min, update every min (None = at resolution),
# channels, review required, escalation steps (after min, label, target, role)
SEVERITIES: list[tuple[Any, ...]] = [
    (1, "Critical", "Complete system outage, data loss, security breach.",
     "Production down, data breach, complete loss of service.", 15, 15,
     ["status_page", "email", "exec_bridge", "ticket_updates"], True,
     [(0, "On-call engineer", "oncall", ""), (30, "VP Engineering", "role", "manager"),
      (60, "CTO", "role", "admin"), (120, "CEO", "role", "admin")]),
    (2, "High", "Major feature broken for many users.",
     "Core workflow blocked, payment processing down.", 30, 30,
     ["status_page", "ticket_updates", "internal_chat"], True,
     [(0, "On-call engineer", "oncall", ""), (30, "Engineering manager", "role", "team lead"),
      (60, "VP Engineering", "role", "manager"), (120, "CTO", "role", "admin")]),
    (3, "Medium", "Feature degraded or broken for some users.",
     "Slow performance, partial functionality.", 60, 120, ["ticket_updates"], False,
     [(0, "L2 specialists", "role", "team lead"), (30, "Engineering manager", "role",
                                                    "manager")]),
    (4, "Low", "Minor issue, workaround available.", "UI bug, cosmetic issue, edge case.",
     240, 480, ["ticket_updates"], False, [(0, "L1 team leads", "role", "team lead")]),
    (5, "Minimal", "Enhancement request or how-to question affecting one user.",
     "Feature request, documentation question.", 480, None, ["ticket_updates"], False, []),
]


def seed_default_severities(apps: Any) -> None:
    Severity = apps.get_model("incidents", "Severity")
    EscalationStep = apps.get_model("incidents", "EscalationStep")
    if Severity.objects.exists():
        return
    for level, name, definition, examples, response, every, channels, review, steps \
            in SEVERITIES:
        sev = Severity.objects.create(
            level=level, name=name, definition=definition, examples=examples,
            response_minutes=response, update_every_minutes=every, channels=channels,
            review_required=review)
        for after, label, target, role in steps:
            EscalationStep.objects.create(severity=sev, after_minutes=after, label=label,
                                          target=target, role=role, channels=channels)
