"""REST API of the help center: published articles the caller may read, and search.

Audience rules as on the web: anonymous callers see public articles, customers also the
logged-in ones, agents internal ones too; anything else is a 404.
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, permissions, throttling
from rest_framework import serializers as drf_serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk.api import StandardPagination

from . import search, selectors, services
from .models import SearchSource
from .serializers import ArticleListSerializer, ArticleSerializer, SearchHitSerializer


class ArticleList(generics.ListAPIView):
    serializer_class = ArticleListSerializer
    permission_classes = [permissions.AllowAny]
    pagination_class = StandardPagination
    throttle_classes = [throttling.AnonRateThrottle, throttling.UserRateThrottle]
    filter_backends: list = []

    def get_queryset(self):
        return selectors.visible_articles(self.request.user).order_by("title", "id")


class ArticleDetail(generics.RetrieveAPIView):
    serializer_class = ArticleSerializer
    permission_classes = [permissions.AllowAny]
    throttle_classes = [throttling.AnonRateThrottle, throttling.UserRateThrottle]
    lookup_field = "slug"
    filter_backends: list = []

    def get_queryset(self):
        return selectors.visible_articles(self.request.user).select_related("section")


class ArticleSearch(APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [throttling.AnonRateThrottle, throttling.UserRateThrottle]

    @extend_schema(
        summary="Search the help center",
        parameters=[OpenApiParameter("q", str, required=True),
                    OpenApiParameter("limit", int, required=False)],
        responses={200: inline_serializer("ArticleSearchResult", {
            "query": drf_serializers.CharField(help_text="The query as searched (normalised)."),
            "corrected": drf_serializers.BooleanField(
                help_text="True when a spelling correction was searched instead."),
            "results": SearchHitSerializer(many=True),
        })},
    )
    def get(self, request: Request) -> Response:
        text = request.query_params.get("q", "")[:200]
        try:
            limit = max(1, min(50, int(request.query_params.get("limit", "10"))))
        except ValueError:
            limit = 10
        result = search.search(text, audiences=search.audiences_for(request.user), limit=limit)
        if result.query:
            services.log_search(visit=None, text=text, result_count=len(result),
                                source=SearchSource.API)
        return Response({"query": result.query, "corrected": result.corrected,
                         "results": SearchHitSerializer(result.hits, many=True).data})
