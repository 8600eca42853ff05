"""REST API for identity: organizations and users, plus the API plumbing other apps share."""
from __future__ import annotations

import django_filters
from django import forms
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _
from django_otp import match_token
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from .ids import MAX_ID, MIN_ID
from .keyset import KeysetPagination
from .models import Organization, User
from .paging import EstimatedCountPaginator
from .serializers import OrganizationSerializer, UserSerializer, with_agent_flag
from .throttle import ClientAddressThrottle


class StandardPagination(PageNumberPagination):
    """25 per page by default; clients may ask for up to 100 with ?page_size= (more is
    capped at 100). A page size that is not a whole number of at least 1 is a 400."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    # A million tickets: "count" is the planner's estimate past 20,000 rows (an exact
    # count reads every row); "next" still comes from the rows themselves.
    django_paginator_class = EstimatedCountPaginator

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:  # absent, or empty as a form sends an unused field
            return self.page_size
        if not raw.isascii() or not raw.isdecimal() or int(raw) < 1:
            raise serializers.ValidationError(
                {self.page_size_query_param: "Give a whole number of at least 1."})
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = (
                    f"Results per page (default {self.page_size}; more than "
                    f"{self.max_page_size} is capped at {self.max_page_size}).")
            elif parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters


class CursorPagination(KeysetPagination):
    """The default for lists that grow without bound (tickets, messages, events, users):
    `?cursor=` pages, no count; `?page=` still numbered pages (StandardPagination)."""

    legacy_class = StandardPagination


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer that is not a field-by-field validation error."""

    detail = serializers.CharField()


NOT_FOUND = OpenApiResponse(ErrorSerializer, description="Not found, or not visible to you.")
FORBIDDEN = OpenApiResponse(ErrorSerializer, description="Visible to you, but not allowed.")


def is_agent(user: User) -> bool:
    return bool(user.is_authenticated and user.is_agent)


class IdField(forms.IntegerField):
    """An id in the database's range (1 to 2^63 - 1); anything else is a 400."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", MIN_ID)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


ID_SCHEMA = {"type": "integer", "format": "int64", "minimum": MIN_ID, "maximum": MAX_ID}


@extend_schema_field(ID_SCHEMA)
class IdFilter(django_filters.NumberFilter):
    """An object's id, matched as given (no lookup of the object); out of range is a 400."""

    field_class = IdField


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0) in a query string; anything else is a 400, not "no filter"."""

    widget = forms.TextInput  # the select widget would read an unknown value as "unknown"

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value in (True, "true", "True", "1"):
            return True
        if value in (False, "false", "False", "0"):
            return False
        raise forms.ValidationError(_("Give true or false."), code="invalid")

    def validate(self, value) -> None:
        pass


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


# --- authentication -------------------------------------------------------------------


class TokenObtainThrottle(ClientAddressThrottle):
    """Sign-in attempts per client address, as for the login form (guessing passwords)."""

    scope = "auth_token"

    def get_rate(self) -> str:
        rates = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {})
        return rates.get(self.scope) or f"{settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE}/minute"

    def get_cache_key(self, request: Request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ThrottledObtainAuthToken(ObtainAuthToken):
    """POST username and password, get the token for `Authorization: Token <key>`.

    Staff also send `otp`, a current two-factor code (HELPDESK_STAFF_TOKEN_NEEDS_2FA): a
    stolen password alone gives no API access to thousands of conversations."""

    throttle_classes = [TokenObtainThrottle]

    def post(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if settings.HELPDESK_STAFF_TOKEN_NEEDS_2FA and user.is_agent:
            code = str(request.data.get("otp", "")).strip()
            if not code or match_token(user, code) is None:
                raise serializers.ValidationError(
                    {"otp": ["Staff need a current two-factor code (`otp`) for a token; "
                             "enrol at /accounts/2fa/setup/ first."]})
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


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
    is_agent = StrictBooleanFilter(field_name="agent_flag")

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
    pagination_class = CursorPagination  # every customer who ever wrote in: no bound
    filterset_class = UserFilter

    def get_queryset(self) -> QuerySet[User]:
        qs = with_agent_flag(User.objects.select_related("organization")).prefetch_related(
            "teams"
        )
        user = self.request.user
        if is_agent(user):
            return qs
        return qs.filter(pk=user.pk)

    def filter_queryset(self, queryset: QuerySet[User]) -> QuerySet[User]:
        # Query-string filters narrow the list; they never turn a lookup into a 404.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    @extend_schema(summary="The signed-in user", responses={200: UserSerializer})
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def me(self, request: Request) -> Response:
        me = self.get_queryset().get(pk=request.user.pk)
        return Response(self.get_serializer(me).data)
