"""Scorecard versions and scoring: what a review is measured against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from helpdesk.models import User

from .. import scoring
from ..models import (
    AutoFailItem,
    ChecklistItem,
    Dimension,
    Review,
    ReviewEvent,
    ReviewScore,
    RubricLevel,
    Scorecard,
)
from ._common import _now

# --- scorecards ---------------------------------------------------------------------------

def current_scorecard(name: str | None = None) -> Scorecard:
    """The current version of `name` (or of the first scorecard by name)."""
    qs = Scorecard.objects.filter(is_current=True)
    if name:
        qs = qs.filter(name=name)
    card = qs.order_by("name").first()
    if card is None:
        raise ValidationError(_("No current QA scorecard: create one in the admin."))
    return card


@dataclass
class VersionMap:
    """Old → new primary keys of the rows copied into a new scorecard version."""

    dimensions: dict[int, int] = field(default_factory=dict)
    levels: dict[int, int] = field(default_factory=dict)
    auto_fail_items: dict[int, int] = field(default_factory=dict)
    checklist_items: dict[int, int] = field(default_factory=dict)


@transaction.atomic
def new_scorecard_version(card: Scorecard) -> tuple[Scorecard, VersionMap]:
    """Copy a scorecard with all its rows as the next version, which becomes current.

    The old version and its rows stay exactly as they were: reviews keep using them.
    """
    card = Scorecard.objects.select_for_update().get(pk=card.pk)
    latest = (Scorecard.objects.filter(name=card.name).order_by("-version")
              .values_list("version", flat=True).first()) or card.version
    Scorecard.objects.filter(name=card.name, is_current=True).update(is_current=False)
    new = Scorecard.objects.create(name=card.name, version=latest + 1, is_current=True,
                                   description=card.description, previous=card)
    mapping = VersionMap()
    for dim in card.dimensions.all():
        old_pk = dim.pk
        dim.pk = None
        dim.scorecard = new
        dim.save()
        mapping.dimensions[old_pk] = dim.pk
    for level in card.levels.all():
        old_pk = level.pk
        level.pk = None
        level.scorecard = new
        level.dimension_id = mapping.dimensions[level.dimension_id]
        level.save()
        mapping.levels[old_pk] = level.pk
    for model, target in ((AutoFailItem, mapping.auto_fail_items),
                          (ChecklistItem, mapping.checklist_items)):
        for item in model.objects.filter(scorecard=card):
            old_pk = item.pk
            item.pk = None
            item.scorecard = new
            item.save()
            target[old_pk] = item.pk
    return new, mapping


def scorecard_for_edit(card: Scorecard) -> tuple[Scorecard, VersionMap | None]:
    """The row to edit: the card itself while unused, else a new version of it."""
    if not card.is_used:
        return card, None
    return new_scorecard_version(card)


# --- scoring input --------------------------------------------------------------------------

@dataclass
class ScoreInput:
    """What a reviewer picked: a level (or N/A) per dimension, comments, ticked items."""

    levels: dict[int, int | None] = field(default_factory=dict)  # dimension id → level id
    not_applicable: set[int] = field(default_factory=set)  # dimension ids
    comments: dict[int, str] = field(default_factory=dict)
    auto_fail: set[int] = field(default_factory=set)  # AutoFailItem ids
    checklist: set[int] = field(default_factory=set)  # ChecklistItem ids
    summary: str = ""


@dataclass
class Scored:
    result: scoring.Result
    dimensions: list[Dimension]
    levels: dict[int, RubricLevel | None]  # dimension id → level


def evaluate(card: Scorecard, data: ScoreInput) -> Scored:
    """Check the picks belong to `card` and compute the score (pure of writes)."""
    dimensions = list(card.dimensions.all())
    levels_by_id = {lv.pk: lv for lv in RubricLevel.objects.filter(scorecard=card)}
    dim_ids = {d.pk for d in dimensions}
    unknown = (set(data.levels) | data.not_applicable) - dim_ids
    if unknown:
        raise ValidationError(_("A score refers to a dimension of another scorecard."))
    if data.auto_fail - set(card.auto_fail_items.values_list("pk", flat=True)):
        raise ValidationError(_("An auto-fail item of another scorecard was given."))
    if data.checklist - set(card.checklist_items.values_list("pk", flat=True)):
        raise ValidationError(_("A checklist item of another scorecard was given."))
    picked: dict[int, RubricLevel | None] = {}
    parts = []
    for dim in dimensions:
        level_id = data.levels.get(dim.pk)
        level = None
        if level_id is not None and dim.pk not in data.not_applicable:
            level = levels_by_id.get(level_id)
            if level is None or level.dimension_id != dim.pk:
                raise ValidationError(_("Pick a level of “%(dimension)s”.")
                                      % {"dimension": dim.name})
        picked[dim.pk] = level
        parts.append(scoring.DimensionScore(
            weight=dim.weight, points=level.points if level else None,
            not_applicable=dim.pk in data.not_applicable))
    try:
        result = scoring.compute(parts, auto_fail=bool(data.auto_fail))
    except scoring.ScoringError as exc:
        raise ValidationError(str(exc)) from exc
    return Scored(result, dimensions, picked)


def _snapshot(review: Review) -> dict[str, Any]:
    """The review's picks, for the history of a revision."""
    return {
        "score": str(review.score) if review.score is not None else None,
        "auto_failed": review.auto_failed,
        "levels": {str(s.dimension_id): (s.level.points if s.level else None)
                   for s in review.scores.select_related("level")},
        "not_applicable": [s.dimension_id for s in review.scores.all() if s.not_applicable],
        "auto_fail_items": sorted(review.auto_fail_items.values_list("pk", flat=True)),
    }


def _write_scores(review: Review, data: ScoreInput, scored: Scored) -> None:
    existing = {s.dimension_id: s for s in review.scores.all()}
    for dim in scored.dimensions:
        row = existing.get(dim.pk) or ReviewScore(review=review, dimension=dim)
        row.level = scored.levels[dim.pk]
        row.not_applicable = dim.pk in data.not_applicable
        row.comment = data.comments.get(dim.pk, "").strip()
        row.save()
    review.auto_fail_items.set(data.auto_fail)
    review.checklist_items.set(data.checklist)
    review.score = scored.result.score
    review.auto_failed = scored.result.auto_failed


def review_input(review: Review) -> ScoreInput:
    """The stored picks of a review, as a ScoreInput (to prefill forms)."""
    scores = list(review.scores.all())
    return ScoreInput(
        levels={s.dimension_id: s.level_id for s in scores if s.level_id},
        not_applicable={s.dimension_id for s in scores if s.not_applicable},
        comments={s.dimension_id: s.comment for s in scores},
        auto_fail=set(review.auto_fail_items.values_list("pk", flat=True)),
        checklist=set(review.checklist_items.values_list("pk", flat=True)),
        summary=review.summary,
    )


def _event(review: Review, kind: str, *, actor: User | None, note: str = "",
           before: Any = None, after: Any = None, data: dict | None = None) -> ReviewEvent:
    return ReviewEvent.objects.create(review=review, actor=actor, at=_now(), kind=kind,
                                      note=note, score_before=before, score_after=after,
                                      data=data or {})


def _review_url(review: Review) -> str:
    return reverse("qa:review", args=[review.pk])
