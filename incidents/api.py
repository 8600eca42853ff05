"""REST API of incidents: staff read incidents with their war-room timeline; anyone else
gets a 404, as for everything they cannot see."""
from __future__ import annotations

from django.db.models import Count, Prefetch
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from helpdesk.api import NOT_FOUND, StandardPagination

from . import selectors
from .models import IncidentRole, PublicUpdate, TimelineEntry
from .serializers import IncidentDetailSerializer, IncidentSerializer


@extend_schema_view(
    list=extend_schema(summary="Incidents (staff; empty for anyone else)"),
    retrieve=extend_schema(summary="One incident with roles, timeline and public updates",
                           responses={200: IncidentDetailSerializer, 404: NOT_FOUND}),
)
class IncidentViewSet(viewsets.ReadOnlyModelViewSet):
    pagination_class = StandardPagination
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        qs = selectors.incidents_for(self.request.user).annotate(
            ticket_count=Count("links", distinct=True)).order_by("-declared_at", "-pk")
        if self.action == "retrieve":
            qs = qs.prefetch_related(
                Prefetch("roles", IncidentRole.objects.select_related("user")),
                Prefetch("timeline", TimelineEntry.objects.select_related("author")),
                Prefetch("updates", PublicUpdate.objects.all()))
        return qs

    def get_serializer_class(self):
        return IncidentDetailSerializer if self.action == "retrieve" else IncidentSerializer
