"""API shapes of identity: users, organizations and teams, in full and in brief."""
from __future__ import annotations

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Organization, Team, User

# --- brief forms, nested in other resources ------------------------------------------


class UserBriefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "name"]
        read_only_fields = fields


class UserContactSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "name", "email"]
        read_only_fields = fields


class OrganizationBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["id", "name", "support_tier"]
        read_only_fields = fields


class TeamBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "tier"]
        read_only_fields = fields


# --- full resources -------------------------------------------------------------------


class OrganizationSerializer(serializers.ModelSerializer):
    csm = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), allow_null=True, required=False,
        help_text="Id of the customer success manager (a staff user).",
    )
    csm_name = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = ["id", "name", "domain", "support_tier", "csm", "csm_name", "created_at"]
        read_only_fields = ["id", "created_at"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_csm_name(self, org: Organization) -> str | None:
        return org.csm.display_name if org.csm else None

    def validate_domain(self, value: str) -> str:
        return value.strip().lower()


def with_agent_flag(qs: QuerySet[User]) -> QuerySet[User]:
    """Annotate `agent_flag`, what User.is_agent computes, in SQL: no query per row in lists."""
    via_group = User.groups.through.objects.filter(
        user_id=OuterRef("pk"),
        group__permissions__codename="work_ticket",
        group__permissions__content_type__app_label="tickets",
    )
    direct = User.user_permissions.through.objects.filter(
        user_id=OuterRef("pk"),
        permission__codename="work_ticket",
        permission__content_type__app_label="tickets",
    )
    return qs.annotate(
        agent_flag=ExpressionWrapper(
            Q(is_active=True) & (Q(is_superuser=True) | Exists(via_group) | Exists(direct)),
            output_field=BooleanField(),
        )
    )


class UserSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name", read_only=True)
    organization = OrganizationBriefSerializer(read_only=True, allow_null=True)
    is_agent = serializers.SerializerMethodField()
    teams = TeamBriefSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "name", "email", "organization", "is_agent", "teams"]
        read_only_fields = fields

    def get_is_agent(self, user: User) -> bool:
        flag = getattr(user, "agent_flag", None)
        return bool(user.is_agent if flag is None else flag)
