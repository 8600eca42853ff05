"""Who may do what in QA. Anything a user may not see is a 404 in views and the API."""
from __future__ import annotations

from typing import Any

REVIEW = "qa.review_tickets"
VIEW_ALL = "qa.view_all_reviews"
CALIBRATE = "qa.run_calibration"
LEAD = "qa.lead_qa"


def _staff(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_agent)


def can_review(user: Any) -> bool:
    return _staff(user) and user.has_perm(REVIEW)


def can_view_all(user: Any) -> bool:
    return _staff(user) and user.has_perm(VIEW_ALL)


def can_calibrate(user: Any) -> bool:
    return _staff(user) and user.has_perm(CALIBRATE)


def is_qa_lead(user: Any) -> bool:
    return _staff(user) and user.has_perm(LEAD)


def uses_qa(user: Any) -> bool:
    """Sees the QA workspace at all: every agent (for their own reviews), never customers."""
    return _staff(user)
