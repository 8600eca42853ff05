"""REST API of the help center: published articles the caller may read, and search.

Audience rules as on the web: anonymous callers see public articles, customers also the
logged-in ones, agents internal ones too; anything else is a 404.
"""
from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions as drf_exceptions
from rest_framework import generics, permissions
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
    filter_backends: list = []

    def get_queryset(self):
        return selectors.visible_articles(self.request.user).order_by("title", "id")


class ArticleDetail(generics.RetrieveAPIView):
    serializer_class = ArticleSerializer
    permission_classes = [permissions.AllowAny]
    lookup_field = "slug"
    filter_backends: list = []

    def get_queryset(self):
        return selectors.visible_articles(self.request.user).select_related("section")


class ArticleSearch(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="Search the help center",
        parameters=[OpenApiParameter("q", str, required=False,
                                     description="The words to search for (none: no results)."),
                    OpenApiParameter("limit", {"type": "integer", "minimum": 1},
                                     required=False,
                                     description="Results (default 10; more than 50 is "
                                     "capped at 50).")],
        responses={200: inline_serializer("ArticleSearchResult", {
            "query": drf_serializers.CharField(help_text="The query as searched (normalised)."),
            "corrected": drf_serializers.BooleanField(
                help_text="True when some word's spelling correction was searched too."),
            "did_you_mean": drf_serializers.CharField(
                help_text="The query with its spelling corrected, or empty."),
            "results": SearchHitSerializer(many=True),
        })},
    )
    def get(self, request: Request) -> Response:
        text = request.query_params.get("q", "")[:200]
        raw_limit = request.query_params.get("limit") or "10"
        if not (raw_limit.isascii() and raw_limit.isdecimal() and int(raw_limit) >= 1):
            raise drf_exceptions.ValidationError({"limit": "Give a whole number of at least 1."})
        limit = min(50, int(raw_limit))
        result = search.search(text, audiences=search.audiences_for(request.user), limit=limit)
        if result.query:
            services.log_search(visit=None, text=text, result_count=len(result),
                                source=SearchSource.API)
        return Response({"query": result.query, "corrected": result.corrected,
                         "did_you_mean": result.suggestion,
                         "results": SearchHitSerializer(result.hits, many=True).data})
