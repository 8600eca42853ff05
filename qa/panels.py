"""The QA panel of the agent ticket page: reviews of the ticket, flag for QA, ticket of
the week. Shown to QA reviewers and leads, and to the agent concerned (their own review)."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tickets import panels

from . import permissions, selectors
from .models import QAFlag


def panel_context(ticket: Any, request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if not permissions.uses_qa(user):
        return None
    is_lead = permissions.is_qa_lead(user)
    can_review = permissions.can_review(user)
    if not (is_lead or can_review) and not selectors.visible_reviews(user).filter(
            ticket_id=ticket.pk).exists():
        return None  # an agent without a review of this ticket: one cheap query
    reviews = selectors.reviews_of_ticket(user, ticket.pk)
    flag = (QAFlag.objects.filter(ticket=ticket, reason=QAFlag.Reason.LEAD)
            .select_related("flagged_by").first()) if (is_lead or can_review) else None
    return {
        "qa_reviews": reviews,
        "qa_is_lead": is_lead,
        "qa_flag": flag,
        "qa_can_start": (can_review and not reviews and ticket.assignee_id is not None
                         and ticket.assignee_id != user.pk),
    }


def register_all() -> None:
    """Called from QaConfig.ready(): a side panel of the ticket page."""
    panels.register(panels.Panel("qa", "qa/panel.html", context=panel_context, order=60,
                                 area="side"))
