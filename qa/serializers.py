"""QA API shapes: a submitted review with its per-dimension scores."""
from __future__ import annotations

from rest_framework import serializers

from .models import Review, ReviewScore


class ReviewScoreSerializer(serializers.ModelSerializer):
    dimension = serializers.CharField(source="dimension.name", read_only=True)
    weight = serializers.IntegerField(source="dimension.weight", read_only=True)
    points = serializers.SerializerMethodField()
    level = serializers.SerializerMethodField()

    class Meta:
        model = ReviewScore
        fields = ["dimension", "weight", "points", "level", "not_applicable", "comment"]

    def get_points(self, obj: ReviewScore) -> int | None:
        return obj.level.points if obj.level else None

    def get_level(self, obj: ReviewScore) -> str:
        return obj.level.label if obj.level else ""


class ReviewSerializer(serializers.ModelSerializer):
    scorecard = serializers.CharField(source="scorecard.name", read_only=True)
    scorecard_version = serializers.IntegerField(source="scorecard.version", read_only=True)
    agent = serializers.PrimaryKeyRelatedField(read_only=True)
    reviewer = serializers.PrimaryKeyRelatedField(read_only=True)
    team = serializers.PrimaryKeyRelatedField(read_only=True)
    scores = ReviewScoreSerializer(many=True, read_only=True)
    auto_fail_items = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    checklist_items = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = Review
        fields = ["id", "ticket", "agent", "reviewer", "team", "scorecard", "scorecard_version",
                  "status", "source", "flag_reasons", "score", "auto_failed", "auto_fail_items",
                  "checklist_items", "summary", "is_ticket_of_week", "created_at",
                  "submitted_at", "acknowledged_at", "scores"]
        read_only_fields = fields
