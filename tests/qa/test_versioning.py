"""Scorecard versioning: a review keeps the version it used; editing a used scorecard in
the admin creates the next version instead of changing history."""
from decimal import Decimal

import pytest
from django.urls import reverse

from qa import services
from qa.models import Scorecard

from .conftest import picks, resolved


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser(
        username="super", email="super@example.com", password="pw-Secret-123")


def _admin_post(card: Scorecard, *, weights: dict[str, int] | None = None) -> dict:
    """The scorecard's change form as the admin would submit it, with edited weights."""
    weights = weights or {}
    data = {"name": card.name, "description": card.description, "_save": "Save"}

    def formset(prefix, rows, fields):
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = str(len(rows))
        data[f"{prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{prefix}-MAX_NUM_FORMS"] = "1000"
        for i, row in enumerate(rows):
            data[f"{prefix}-{i}-id"] = str(row.pk)
            data[f"{prefix}-{i}-scorecard"] = str(card.pk)
            for f in fields:
                value = getattr(row, f"{f}_id", None) if f == "dimension" else getattr(row, f)
                if prefix == "dimensions" and f == "weight":
                    value = weights.get(row.name, value)
                data[f"{prefix}-{i}-{f}"] = "" if value is None else str(value)

    formset("dimensions", list(card.dimensions.all()), ["order", "name", "weight",
                                                        "description"])
    formset("levels", list(card.levels.all()), ["dimension", "points", "label", "description"])
    formset("auto_fail_items", list(card.auto_fail_items.all()), ["order", "name",
                                                                  "description"])
    formset("checklist_items", list(card.checklist_items.all()), ["order", "name"])
    return data


def test_new_version_copies_everything_and_becomes_current(card):
    new, mapping = services.new_scorecard_version(card)
    card.refresh_from_db()
    assert (new.version, new.is_current, card.is_current) == (2, True, False)
    assert new.previous == card
    assert list(new.dimensions.values_list("name", "weight")) == list(
        card.dimensions.values_list("name", "weight"))
    assert new.levels.count() == card.levels.count() == 29
    assert new.auto_fail_items.count() == 3
    assert set(mapping.dimensions) == set(card.dimensions.values_list("pk", flat=True))
    assert services.current_scorecard() == new


def test_admin_edit_of_a_used_scorecard_creates_a_version(client, superuser, customer_a,
                                                          agent, reviewer, card):
    review = services.create_review(ticket=resolved(customer_a, agent), actor=reviewer)
    review = services.submit_review(review, actor=reviewer,
                                    data=picks(card, {"Solution quality": 20}))
    client.force_login(superuser)
    url = reverse("admin:qa_scorecard_change", args=[card.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, _admin_post(card, weights={"Customer experience": 20}))
    assert response.status_code == 302, response.content.decode()[:3000]
    card.refresh_from_db()
    new = Scorecard.objects.get(name=card.name, version=2)
    assert new.is_current and not card.is_current
    # The old version is untouched and the review still reads it.
    assert card.dimensions.get(name="Customer experience").weight == 10
    assert new.dimensions.get(name="Customer experience").weight == 20
    review.refresh_from_db()
    assert review.scorecard == card and review.score == Decimal("90.00")
    assert {s.dimension.scorecard_id for s in review.scores.all()} == {card.pk}
    # New reviews use the new version.
    other = services.create_review(ticket=resolved(customer_a, agent), actor=reviewer)
    assert other.scorecard == new


def test_admin_edit_of_an_unused_scorecard_changes_it_in_place(client, superuser, card):
    client.force_login(superuser)
    url = reverse("admin:qa_scorecard_change", args=[card.pk])
    response = client.post(url, _admin_post(card, weights={"Customer experience": 20}))
    assert response.status_code == 302
    assert Scorecard.objects.count() == 1
    assert card.dimensions.get(name="Customer experience").weight == 20


def test_invalid_admin_edit_of_a_used_scorecard_leaves_no_version(client, superuser,
                                                                  customer_a, agent, reviewer,
                                                                  card):
    services.create_review(ticket=resolved(customer_a, agent), actor=reviewer)
    client.force_login(superuser)
    data = _admin_post(card)
    data["dimensions-0-weight"] = "0"  # refused by the check constraint's form validation
    data["name"] = ""
    response = client.post(reverse("admin:qa_scorecard_change", args=[card.pk]), data)
    assert response.status_code == 200
    assert Scorecard.objects.count() == 1 and Scorecard.objects.get().is_current


def test_admin_pages_open(client, superuser):
    client.force_login(superuser)
    for name in ("scorecard", "review", "reviewevent", "qaflag", "samplerun",
                 "coachingsession", "calibrationsession"):
        assert client.get(reverse(f"admin:qa_{name}_changelist")).status_code == 200
