"""The default QA scorecard of a new installation (editable in the admin)."""
from __future__ import annotations

from typing import Any

DEFAULT_NAME = "Support quality"

# name, weight, description, levels (points, label, description)
DIMENSIONS: list[tuple[str, int, str, list[tuple[int, str, str]]]] = [
    ("Solution quality", 30, "Was the answer correct and complete?", [
        (30, "Perfect", "Correct, complete, first-time resolution"),
        (25, "Good", "Correct, minor details missing"),
        (20, "Adequate", "Mostly correct, needed follow-up"),
        (15, "Needs work", "Partially correct, customer confused"),
        (10, "Poor", "Wrong solution, customer frustrated"),
        (0, "Fail", "Critical error, escalation required"),
    ]),
    ("Communication", 25, "Was the message clear, professional, empathetic?", [
        (25, "Excellent", "Clear, warm, professional, personalised"),
        (20, "Good", "Clear and professional, minimal personalisation"),
        (15, "Adequate", "Understandable, somewhat impersonal"),
        (10, "Needs work", "Confusing or too casual/formal"),
        (5, "Poor", "Unclear, rude, or unprofessional"),
        (0, "Fail", "Inappropriate, offensive, or damaging"),
    ]),
    ("Process adherence", 20, "Were procedures and documentation followed?", [
        (20, "Perfect", "All procedures followed, complete documentation"),
        (15, "Good", "Minor documentation gaps"),
        (10, "Adequate", "Some steps skipped, functional documentation"),
        (5, "Needs work", "Multiple steps skipped"),
        (0, "Fail", "Critical process violation"),
    ]),
    ("Efficiency", 15, "Was handle time appropriate for the complexity?", [
        (15, "Excellent", "Optimal time for the complexity"),
        (12, "Good", "Slightly over or under the optimal time"),
        (9, "Adequate", "Noticeably inefficient but reasonable"),
        (6, "Needs work", "Significant time waste"),
        (3, "Poor", "Extreme inefficiency or rushing"),
        (0, "Fail", "SLA breach due to handling"),
    ]),
    ("Customer experience", 10, "Did the interaction feel personalised and helpful?", [
        (10, "Delightful", "Went above and beyond"),
        (8, "Good", "Met expectations, professional"),
        (6, "Adequate", "Functional, impersonal"),
        (4, "Needs work", "Customer had to work hard"),
        (2, "Poor", "Frustrating experience"),
        (0, "Fail", "Customer explicitly complained"),
    ]),
]
AUTO_FAIL = [
    ("Critical error", "Advice that caused or risked serious harm to the customer."),
    ("Data exposure", "Personal or confidential data shared with the wrong person."),
    ("Offensive tone", "Rude, offensive or discriminatory language."),
]
CHECKLIST = [
    "Greeting was professional and personalised",
    "Issue was correctly understood and restated",
    "Troubleshooting was logical and complete",
    "Next steps were provided",
    "Ticket was properly categorised and documented",
]


def seed_default_scorecard(apps_or_models: Any) -> None:
    """Create the default scorecard v1 if there is no scorecard at all (idempotent)."""
    get = apps_or_models.get_model
    Scorecard = get("qa", "Scorecard")  # noqa: N806 - model classes
    Dimension = get("qa", "Dimension")  # noqa: N806
    RubricLevel = get("qa", "RubricLevel")  # noqa: N806
    AutoFailItem = get("qa", "AutoFailItem")  # noqa: N806
    ChecklistItem = get("qa", "ChecklistItem")  # noqa: N806
    if Scorecard.objects.exists():
        return
    card = Scorecard.objects.create(
        name=DEFAULT_NAME, version=1, is_current=True,
        description="Five weighted dimensions (30/25/20/15/10) with rubric levels.",
    )
    for order, (name, weight, description, levels) in enumerate(DIMENSIONS):
        dim = Dimension.objects.create(scorecard=card, name=name, weight=weight,
                                       description=description, order=order)
        RubricLevel.objects.bulk_create([
            RubricLevel(scorecard=card, dimension=dim, points=p, label=label, description=d)
            for p, label, d in levels
        ])
    AutoFailItem.objects.bulk_create([
        AutoFailItem(scorecard=card, name=n, description=d, order=i)
        for i, (n, d) in enumerate(AUTO_FAIL)
    ])
    ChecklistItem.objects.bulk_create([
        ChecklistItem(scorecard=card, name=n, order=i) for i, n in enumerate(CHECKLIST)
    ])
