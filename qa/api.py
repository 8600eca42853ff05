"""REST API for integrators: QA reviews, read-only.

Object-level: QA staff see every review; an agent sees the submitted reviews of their own
tickets (and those they review); customers see none. Anything else is a 404.
"""
from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, viewsets

from helpdesk.api import ID_SCHEMA, NOT_FOUND, StandardPagination
from helpdesk.ids import MAX_ID, MIN_ID, parse_id

from . import permissions, selectors
from .models import Review, ReviewScore, ReviewStatus
from .serializers import ReviewSerializer


@extend_schema_view(
    list=extend_schema(
        summary="QA reviews",
        description="Reviews you may read, newest first: every review for QA reviewers and "
        "leads, your own submitted reviews for agents. Customers get a 404.",
        parameters=[
            OpenApiParameter("agent", ID_SCHEMA, description="Only reviews of this agent (id)."),
            OpenApiParameter("status", str, description="Only reviews in this status.",
                             enum=ReviewStatus.values),
            OpenApiParameter("ticket", ID_SCHEMA,
                             description="Only reviews of this ticket (id)."),
        ],
        responses={200: ReviewSerializer(many=True), 404: NOT_FOUND},
    ),
    retrieve=extend_schema(summary="One QA review",
                           responses={200: ReviewSerializer, 404: NOT_FOUND}),
)
class ReviewViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ReviewSerializer
    queryset = Review.objects.none()  # for the schema only; get_queryset decides
    pagination_class = StandardPagination
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[Review]:
        user = self.request.user
        if not permissions.uses_qa(user):
            raise exceptions.NotFound()
        qs = selectors.visible_reviews(user).select_related("scorecard").prefetch_related(
            Prefetch("scores", queryset=ReviewScore.objects.select_related("dimension",
                                                                             "level")),
            "auto_fail_items", "checklist_items",
        ).order_by("-created_at", "-id")
        params = self.request.query_params
        for name in ("agent", "ticket"):
            value = params.get(name)
            if value is not None:
                number = parse_id(value)
                if number is None:
                    raise exceptions.ValidationError(
                        {name: f"Give an id from {MIN_ID} to {MAX_ID}."})
                qs = qs.filter(**{f"{name}_id": number})
        status = params.get("status")
        if status:
            if status not in ReviewStatus.values:
                raise exceptions.ValidationError({"status": "Unknown status."})
            qs = qs.filter(status=status)
        return qs
