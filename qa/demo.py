"""Demo data of the qa app, added by `manage.py demo` after tickets and accounts exist:
a few reviews in every state (one disputed), a coaching record, one calibration session
half scored, and last week's sample."""
from __future__ import annotations

from typing import TextIO

from django.db import transaction
from django.utils import timezone

from helpdesk.models import User
from tickets.models import Ticket

from . import services
from .models import CalibrationSession, Review, Scorecard

TITLE = "Demo calibration: November"


def _picks(card: Scorecard, points: dict[str, int], *, summary: str = "",
           comments: dict[str, str] | None = None) -> services.ScoreInput:
    data = services.ScoreInput(summary=summary)
    for dim in card.dimensions.prefetch_related("levels"):
        wanted = points.get(dim.name, dim.weight)
        data.levels[dim.pk] = next(lv.pk for lv in dim.levels.all() if lv.points == wanted)
        if comments and dim.name in comments:
            data.comments[dim.pk] = comments[dim.name]
    return data


def seed_demo(stdout: TextIO) -> None:
    """Idempotent: a second run changes nothing (and a failed run leaves nothing)."""
    with transaction.atomic():
        _seed(stdout)


def _seed(stdout: TextIO) -> None:
    if CalibrationSession.objects.filter(title=TITLE).exists():
        stdout.write("QA demo data exists already.")
        return
    users = User.objects.in_bulk(["qa", "lead", "agent", "manager"], field_name="username")
    if len(users) < 4:
        stdout.write("QA demo skipped: demo accounts missing.")
        return
    qa, lead, agent, manager = (users[n] for n in ("qa", "lead", "agent", "manager"))
    card = services.current_scorecard()
    done = (Ticket.objects.filter(status__in=services.DONE_STATUSES, assignee__isnull=False,
                                  merged_into__isnull=True)
            .exclude(assignee=qa).exclude(qa_reviews__isnull=False).order_by("-resolved_at"))
    mine = list(done.filter(assignee=agent)[:4])
    tickets = mine + [t for t in done[:12] if t not in mine][: 7 - len(mine)]
    if len(tickets) < 7:
        stdout.write("QA demo skipped: not enough resolved tickets.")
        return
    reviews = [services.create_review(ticket=t, actor=qa) for t in tickets[:4]]
    good = services.submit_review(reviews[0], actor=qa, data=_picks(
        card, {"Communication": 20, "Efficiency": 12},
        summary="Clear diagnosis and a complete fix. Next time, restate the issue first.",
        comments={"Communication": "Friendly, but the first reply skipped the greeting."}))
    services.set_ticket_of_week(good, actor=lead)
    disputed = services.submit_review(reviews[1], actor=qa, data=_picks(
        card, {"Solution quality": 15, "Process adherence": 10},
        summary="The workaround worked but the root cause was not documented."))
    if disputed.agent_id != lead.pk:
        services.dispute(disputed, actor=disputed.agent,
                         reason="The root cause was in the internal note of the second reply.")
    acked = services.submit_review(reviews[2], actor=qa, data=_picks(card, {}))
    services.acknowledge(acked, actor=acked.agent)
    services.save_draft(reviews[3], actor=qa, data=_picks(card, {"Efficiency": 9}))
    coached = [r for r in (good, acked) if r.agent_id == good.agent_id]
    if good.agent_id != lead.pk:
        services.record_coaching(
            agent=good.agent, coach=lead, held_on=timezone.localdate(),
            strengths="Thorough troubleshooting; customers thank you by name.",
            development_focus="Restate the issue in the first reply",
            goals="Restate the issue in 5 of your next 5 tickets.",
            follow_up_on=timezone.localdate() + timezone.timedelta(days=7), reviews=coached)
    session = services.start_calibration(title=TITLE, facilitator=manager,
                                         participants=[qa, lead], tickets=tickets[4:7])
    for item in session.items.all():
        services.submit_calibration_score(item, reviewer=qa, data=_picks(
            card, {"Solution quality": 25, "Communication": 20}))
    created = services.run_weekly_sampling()
    stdout.write(f"QA: {Review.objects.count()} reviews (incl. {created} from last week's "
                 f"sample), 1 coaching record, calibration session “{TITLE}”.")
