"""REST API for identity: organizations and users, plus the API plumbing other apps share."""
from __future__ import annotations

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from .models import Organization, User
from .serializers import OrganizationSerializer, UserSerializer, with_agent_flag


class StandardPagination(PageNumberPagination):
    """25 per page by default; clients may ask for up to 100 with ?page_size=."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer that is not a field-by-field validation error."""

    detail = serializers.CharField()


NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not found, or not visible to you.")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="Visible to you, but not allowed.")


def is_agent(user: User) -> bool:
    return bool(user.is_authenticated and user.is_agent)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """An object's id, matched as given (no lookup of the object)."""

    field_class = forms.IntegerField


# --- authentication -------------------------------------------------------------------


class TokenObtainThrottle(SimpleRateThrottle):
    """Sign-in attempts per client address, as for the login form (guessing passwords)."""

    scope = "auth_token"

    def get_rate(self) -> str:
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope) or f"{settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE}/minute"

    def get_cache_key(self, request: Request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottledObtainAuthToken(ObtainAuthToken):
    """POST username and password, get the token for `Authorization: Token <key>`."""

    throttle_classes = [TokenObtainThrottle]


obtain_auth_token = ThrottledObtainAuthToken.as_view()


# --- organizations --------------------------------------------------------------------


class OrganizationPermission(permissions.BasePermission):
    """Everyone reads what they can see; managers and admins create and change."""

    perm = "helpdesk.change_organization"

    def has_permission(self, request: Request, view) -> bool:
        if request.method in permissions.SAFE_METHODS or view.action != "create":
            return True  # changes are checked on the object, after the 404 for the invisible
        return request.user.has_perm(self.perm)

    def has_object_permission(self, request: Request, view, obj) -> bool:
        return request.method in permissions.SAFE_METHODS or request.user.has_perm(self.perm)


@extend_schema_view(
    list=extend_schema(summary="Organizations (customers see only their own)"),
    retrieve=extend_schema(responses={200: OrganizationSerializer, 404: NOT_FOUND}),
    create=extend_schema(responses={201: OrganizationSerializer, 403: FORBIDDEN}),
    update=extend_schema(responses={200: OrganizationSerializer, 403: FORBIDDEN, 404: NOT_FOUND}),
    partial_update=extend_schema(
        responses={200: OrganizationSerializer, 403: FORBIDDEN, 404: NOT_FOUND}
    ),
)
class OrganizationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                          mixins.CreateModelMixin, mixins.UpdateModelMixin,
                          viewsets.GenericViewSet):
    serializer_class = OrganizationSerializer
    permission_classes = [permissions.IsAuthenticated, OrganizationPermission]
    pagination_class = StandardPagination
    filterset_fields = ["support_tier"]

    def get_queryset(self) -> QuerySet[Organization]:
        qs = Organization.objects.select_related("csm")
        user = self.request.user
        if is_agent(user):
            return qs
        if getattr(user, "organization_id", None):
            return qs.filter(pk=user.organization_id)
        return qs.none()


# --- users ----------------------------------------------------------------------------


class UserFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(method="filter_search", label="Name, username or e-mail")
    organization = IdFilter(field_name="organization_id", label="Organization id")
    team = IdFilter(field_name="memberships__team_id", label="Team id")
    is_agent = django_filters.BooleanFilter(field_name="agent_flag")

    class Meta:
        model = User
        fields = ["search", "organization", "team", "is_agent"]

    def filter_search(self, qs: QuerySet[User], name: str, value: str) -> QuerySet[User]:
        value = value.strip()
        if not value:
            return qs
        return qs.filter(
            Q(username__icontains=value) | Q(email__icontains=value)
            | Q(first_name__icontains=value) | Q(last_name__icontains=value)
        )


@extend_schema_view(
    list=extend_schema(summary="Users (agents see everyone, customers only themselves)"),
    retrieve=extend_schema(responses={200: UserSerializer, 404: NOT_FOUND}),
)
class UserViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = UserSerializer
    pagination_class = StandardPagination
    filterset_class = UserFilter

    def get_queryset(self) -> QuerySet[User]:
        qs = with_agent_flag(User.objects.select_related("organization")).prefetch_related(
            "teams"
        )
        user = self.request.user
        if is_agent(user):
            return qs
        return qs.filter(pk=user.pk)

    @extend_schema(summary="The signed-in user", responses={200: UserSerializer})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def me(self, request: Request) -> Response:
        me = self.get_queryset().get(pk=request.user.pk)
        return Response(self.get_serializer(me).data)
