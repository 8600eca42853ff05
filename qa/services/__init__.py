"""Every QA write: scorecard versions, reviews and their lifecycle, disputes, coaching,
flags, the weekly sample and calibration sessions.

Each function runs in one transaction, checks who may act (PermissionDenied otherwise),
and leaves an append-only ReviewEvent where a review's history matters.
"""
from __future__ import annotations

from ._common import (  # noqa: F401
    DEFAULT_CALIBRATION_TICKETS,
    DONE_STATUSES,
    LOW_CSAT_MAX,
    SLA_BREACH_LEVELS,
    SOURCE,
)
from .calibration import (  # noqa: F401
    close_calibration,
    pick_calibration_tickets,
    record_agreed_score,
    start_calibration,
    submit_calibration_score,
)
from .coaching import (  # noqa: F401
    flag_ticket,
    record_coaching,
    sweep_sla_breaches,
)
from .reviews import (  # noqa: F401
    acknowledge,
    assign_review,
    create_review,
    dispute,
    resolve_dispute,
    save_draft,
    set_ticket_of_week,
    submit_review,
)
from .scorecards import (  # noqa: F401
    Scored,
    ScoreInput,
    VersionMap,
    current_scorecard,
    evaluate,
    new_scorecard_version,
    review_input,
    scorecard_for_edit,
)
from .weekly_sample import (  # noqa: F401
    previous_week_start,
    run_weekly_sampling,
)
