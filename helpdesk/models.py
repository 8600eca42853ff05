"""Identity: users, organizations with a support tier, teams (queues) and skills."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """An audit record was about to be changed or deleted."""


class AppendOnlyModel(models.Model):
    """Audit trails: rows are inserted, never updated or deleted."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError(f"{self._meta.verbose_name_plural} are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.verbose_name_plural} are append-only.")


def staff_groups() -> models.QuerySet:
    """Ids of the role groups that work tickets (every staff role), as a subquery."""
    from django.contrib.auth.models import Group

    return Group.objects.filter(
        permissions__codename="work_ticket", permissions__content_type__app_label="tickets"
    ).values("pk")


def staff_only() -> models.Q:
    """`limit_choices_to` of user fields that must name staff: an assignee, a CSM, whoever
    gets an SLA alert, a page or a shift, owns an article or an action item. Customers are
    neither offered nor accepted there (admin, model forms, API), so internal content never
    goes to one set there by mistake. Staff: members of a role that works tickets, and
    superusers; inactive ones too, so an old record stays editable. Two index lookups, not
    an OR over a column of every user: customers outnumber agents a thousand to one."""
    members = User.groups.through.objects.filter(group_id__in=staff_groups()).values("user_id")
    superusers = User.objects.filter(is_superuser=True).values("pk")
    return models.Q(pk__in=members) | models.Q(pk__in=superusers)


class SupportTier(models.TextChoices):
    ENTERPRISE = "enterprise", _("Enterprise")
    BUSINESS = "business", _("Business")
    PROFESSIONAL = "professional", _("Professional")
    STARTER = "starter", _("Starter")
    FREE = "free", _("Free")


class Organization(models.Model):
    name = models.CharField(max_length=200, unique=True, verbose_name=_("name"))
    domain = models.CharField(
        max_length=200, blank=True, db_index=True,
        help_text=_("E-mail domain whose senders and sign-ups join this organization."),
        verbose_name=_("domain"),
    )
    support_tier = models.CharField(
        max_length=20, choices=SupportTier.choices, default=SupportTier.FREE, db_index=True,
        verbose_name=_("support tier")
    )
    csm = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        limit_choices_to=staff_only,
        related_name="managed_organizations", verbose_name=_("customer success manager"),
    )
    notes = models.TextField(blank=True, verbose_name=_("notes"))
    annual_value = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True,
        help_text=_("Yearly contract value; weights product feedback by revenue."),
        verbose_name=_("annual value"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    staff_sso_only = models.BooleanField(
        _("staff sign in only through SSO"), default=False,
        help_text=_("For the organization of your own staff: its agents cannot sign in with a "
                    "local password (nor get an API token with one), only through single "
                    "sign-on."))

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Skill(models.Model):
    name = models.CharField(max_length=80, unique=True, verbose_name=_("name"))

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """Anyone who signs in: customers and staff. What they may do comes from their groups."""

    email = models.EmailField(_("email address"), blank=True, db_index=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="members",
        verbose_name=_("organization")
    )
    is_org_admin = models.BooleanField(
        _("organization admin contact"), default=False,
        help_text=_("Sees every ticket of their organization in the portal."),
    )
    skills = models.ManyToManyField(Skill, blank=True, related_name="agents",
                                    verbose_name=_("skills"))
    is_away = models.BooleanField(
        default=False, help_text=_("Away agents receive no automatic assignments."),
        verbose_name=_("is away")
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    # Empty: the browser's Accept-Language decides (helpdesk.middleware.UserLanguageMiddleware).
    language = models.CharField(_("language"), max_length=8, blank=True, default="",
                                choices=settings.LANGUAGES)
    # What the user chose in the workspace, by feature (e.g. "queue_columns"): read with
    # the user of every request, so no page pays a query for it. Written only through
    # helpdesk.services.set_preference.
    preferences = models.JSONField(_("preferences"), default=dict, blank=True,
                                   db_default=models.Value({}, output_field=models.JSONField()))

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]
        indexes = [
            models.Index(fields=["id"], name="user_superusers",
                         condition=models.Q(is_superuser=True)),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @cached_property
    def is_agent(self) -> bool:
        """Staff who work tickets (agents, leads, QA, managers, admins)."""
        return self.is_active and self.has_perm("tickets.work_ticket")

    @cached_property
    def sees_all_tickets(self) -> bool:
        return self.is_active and self.has_perm("tickets.view_all_tickets")

    @cached_property
    def team_ids(self) -> list[int]:
        return list(self.memberships.values_list("team_id", flat=True))


class TeamTier(models.TextChoices):
    L1 = "l1", _("L1 general")
    L2 = "l2", _("L2 technical")
    L2_ENTERPRISE = "l2_enterprise", _("L2 enterprise")
    L3 = "l3", _("L3 specialty")


class AssignmentStrategy(models.TextChoices):
    MANUAL = "manual", _("Manual (agents pick from the queue)")
    ROUND_ROBIN = "round_robin", _("Round robin")
    LEAST_LOADED = "least_loaded", _("Least loaded")
    SKILL_BASED = "skill_based", _("Skill based")


class Team(models.Model):
    """A queue of work with a tier of support."""

    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    slug = models.SlugField(max_length=100, unique=True, verbose_name=_("slug"))
    tier = models.CharField(max_length=20, choices=TeamTier.choices, default=TeamTier.L1,
                            verbose_name=_("tier"))
    description = models.TextField(blank=True, verbose_name=_("description"))
    assignment_strategy = models.CharField(
        max_length=20, choices=AssignmentStrategy.choices, default=AssignmentStrategy.MANUAL,
        verbose_name=_("assignment strategy")
    )
    is_default = models.BooleanField(
        default=False, help_text=_("Receives tickets that no intake rule routes elsewhere."),
        verbose_name=_("is default")
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams", blank=True,
        verbose_name=_("members")
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["tier", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True),
                name="one_default_team",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships",
                             verbose_name=_("team"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships",
        verbose_name=_("user")
    )
    is_lead = models.BooleanField(default=False, verbose_name=_("is lead"))
    # Round-robin picks the member who was assigned longest ago.
    last_assigned_at = models.DateTimeField(null=True, blank=True,
                                            verbose_name=_("last assigned at"))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="unique_team_member")
        ]

    def __str__(self) -> str:
        return gettext("%(user)s in %(team)s") % {"user": self.user, "team": self.team}


class Notification(models.Model):
    """A message to one user, in-app and optionally by e-mail; every one is kept.

    `dedupe_key` makes a notification idempotent: a retried job that notifies again
    with the same key finds the row and sends nothing.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
        verbose_name=_("recipient")
    )
    title = models.CharField(max_length=200, verbose_name=_("title"))
    body = models.TextField(blank=True, verbose_name=_("body"))
    url = models.CharField(max_length=500, blank=True, verbose_name=_("url"))
    source = models.CharField(max_length=50, help_text=_("What triggered it, e.g. sla.level."),
                              verbose_name=_("source"))
    urgent = models.BooleanField(default=False, verbose_name=_("urgent"))
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True,
                                  verbose_name=_("dedupe key"))
    created_at = models.DateTimeField(db_index=True, verbose_name=_("created at"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))
    email_wanted = models.BooleanField(default=True, verbose_name=_("email wanted"))
    emailed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("emailed at"))
    email_error = models.TextField(blank=True, verbose_name=_("email error"))
    in_digest = models.BooleanField(
        default=False, help_text=_("E-mailed in the recipient's next digest, not on its own."),
        verbose_name=_("in digest"))
    body_html = models.TextField(
        blank=True, help_text=_("The e-mail's HTML body, rendered from its notice template "
                                "(escaped values); empty: built from the plain text."),
        verbose_name=_("body html"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox"),
            models.Index(fields=["recipient"], name="notification_unread",
                         condition=models.Q(read_at__isnull=True)),
            # The digest job's scan: only notices still waiting for a digest.
            models.Index(fields=["recipient", "created_at"], name="notification_digest_due",
                         condition=models.Q(in_digest=True, emailed_at__isnull=True,
                                            email_wanted=True)),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.recipient}"


class NotificationPreference(models.Model):
    """How one user wants to be told: channels, muted kinds, and quiet hours (local time).

    Urgent notifications (P1, SEV1) ignore quiet hours and mutes.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference", verbose_name=_("user"))
    email_enabled = models.BooleanField(default=True, verbose_name=_("email enabled"))
    in_app_enabled = models.BooleanField(default=True, verbose_name=_("in app enabled"))
    muted_sources = models.JSONField(
        default=list, blank=True, help_text=_("Sources (e.g. sla.level) the user does not want."),
        verbose_name=_("muted sources")
    )
    quiet_start = models.TimeField(null=True, blank=True, verbose_name=_("quiet start"))
    quiet_end = models.TimeField(null=True, blank=True, verbose_name=_("quiet end"))
    digest_minutes = models.PositiveIntegerField(
        default=0, help_text=_("0: one e-mail per notification; N: one digest every N minutes "
                               "(urgent ones still at once)."), verbose_name=_("digest minutes"))
    unassigned_replies = models.BooleanField(
        default=False, help_text=_("Tell me when a customer answers an unassigned ticket of "
                                   "my teams."), verbose_name=_("unassigned replies"))

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return gettext("Notification preferences of %(user)s") % {"user": self.user}


class NoticeTemplate(models.Model):
    """An admin's wording of one notice (customer e-mail or staff notification).

    Keyed by event (e.g. `customer.reply`); a team-specific row wins over the global one
    (team empty), which wins over the default shipped in `templates/notices/`. The text
    uses the same `{{ placeholder }}` syntax as macros, never template code.
    """

    key = models.CharField(max_length=80, help_text=_("The event, e.g. customer.reply."),
                           verbose_name=_("key"))
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="notice_templates",
                             help_text=_("Empty: every team without its own wording."),
                             verbose_name=_("team"))
    subject = models.CharField(max_length=250, verbose_name=_("subject"))
    body_text = models.TextField(help_text=_("Plain-text body."), verbose_name=_("body text"))
    body_html = models.TextField(blank=True,
                                 help_text=_("HTML body; empty: built from the plain text."),
                                 verbose_name=_("body html"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("notice template")
        verbose_name_plural = _("notice templates")
        ordering = ["key", "team__name"]
        constraints = [
            models.UniqueConstraint(fields=["key", "team"], name="notice_template_per_team"),
            models.UniqueConstraint(fields=["key"], condition=models.Q(team__isnull=True),
                                    name="notice_template_global"),
        ]

    def __str__(self) -> str:
        team = self.team or gettext("all teams")
        return f"{self.key} ({team})"


class AuditEntry(AppendOnlyModel):
    """One create, change or delete of a policy or a person (see helpdesk.audit)."""

    class Action(models.TextChoices):
        CREATE = "create", _("Created")
        CHANGE = "change", _("Changed")
        DELETE = "delete", _("Deleted")
        ERASE = "erase", _("Erased")
        EXPORT = "export", _("Exported")

    at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("at"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+", verbose_name=_("actor"))
    # Kept when the actor's account is deleted: "user #12" or "system".
    actor_label = models.CharField(max_length=60, verbose_name=_("actor label"))
    action = models.CharField(max_length=10, choices=Action.choices, db_index=True,
                              verbose_name=_("action"))
    model = models.CharField(max_length=80, db_index=True, help_text=_("app_label.Model"),
                             verbose_name=_("model"))
    object_id = models.CharField(max_length=64, db_index=True, verbose_name=_("object id"))
    object_repr = models.CharField(max_length=200, verbose_name=_("object repr"))
    # {"field": [before, after], ...}
    changes = models.JSONField(default=dict, blank=True, verbose_name=_("changes"))

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["model", "object_id"], name="audit_object")]

    def __str__(self) -> str:
        return gettext("%(action)s %(model)s #%(object)s by %(actor)s") % {
            "action": self.get_action_display(), "model": self.model, "object": self.object_id,
            "actor": self.actor_label}
