"""Tickets, their conversation, the audit trail, triggers, automations, custom fields and macros."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.utils.translation import gettext_lazy as _

from helpdesk.models import AppendOnlyModel, Team, staff_only

from .custom_fields import check_definition, check_values_setting
from .state_machine import LABELS, OPEN_STATUSES, WAITING_STATUSES, Status

# The labels are marked in the Django-free state machine; translated where they are read.
STATUS_CHOICES = [(s.value, gettext_lazy(LABELS[s])) for s in Status]
OPEN_STATUS_VALUES = sorted(s.value for s in OPEN_STATUSES)


class Priority(models.IntegerChoices):
    P1 = 1, gettext_lazy("P1 critical")
    P2 = 2, gettext_lazy("P2 high")
    P3 = 3, gettext_lazy("P3 medium")
    P4 = 4, gettext_lazy("P4 low")
    P5 = 5, gettext_lazy("P5 request")


class Channel(models.TextChoices):
    EMAIL = "email", gettext_lazy("Email")
    WEB = "web", gettext_lazy("Web")
    CHAT = "chat", gettext_lazy("Chat")
    PHONE = "phone", gettext_lazy("Phone")
    API = "api", gettext_lazy("API")


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    slug = models.SlugField(max_length=100, unique=True, verbose_name=_("slug"))
    skill = models.ForeignKey(
        "helpdesk.Skill", null=True, blank=True, on_delete=models.SET_NULL,
        help_text=_("Skill-based assignment prefers agents with this skill."),
        verbose_name=_("skill"),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class ProductArea(models.Model):
    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    slug = models.SlugField(max_length=100, unique=True, verbose_name=_("slug"))
    skill = models.ForeignKey(
        "helpdesk.Skill", null=True, blank=True, on_delete=models.SET_NULL,
        help_text=_("Skill-based assignment prefers agents with this skill."),
        verbose_name=_("skill"),
    )

    class Meta:
        verbose_name = _("product area")
        verbose_name_plural = _("product areas")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True, allow_unicode=True, verbose_name=_("name"))

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def _open_index(name: str, *leading: str) -> models.Index:
    """Index for a queue: its filter column(s), then the queue order, open tickets only.

    PostgreSQL sorts NULLs last in ascending order, so this plain index serves the
    queue's "sla_due_at ASC NULLS LAST" ordering (SQLite cannot index NULLS LAST).
    """
    return models.Index(
        fields=[*leading, "sla_due_at", "priority", "created_at", "id"],
        name=name,
        condition=Q(status__in=OPEN_STATUS_VALUES),
    )


class Ticket(models.Model):
    subject = models.CharField(max_length=255, verbose_name=_("subject"))
    description = models.TextField(help_text=_("Markdown; rendered safely."),
                                   verbose_name=_("description"))
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets",
        verbose_name=_("requester")
    )
    ccs = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="cc_tickets",
        help_text=_("Other customers who follow this ticket (e.g. requesters of merged "
                    "duplicates)."),
        verbose_name=_("ccs"),
    )
    organization = models.ForeignKey(
        "helpdesk.Organization", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="tickets", verbose_name=_("organization"),
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.P3,
                                                verbose_name=_("priority"))
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL,
                                 verbose_name=_("category"))
    product_area = models.ForeignKey(
        ProductArea, null=True, blank=True, on_delete=models.SET_NULL,
        verbose_name=_("product area")
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB,
                               verbose_name=_("channel"))
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets", verbose_name=_("tags"))
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets",
        verbose_name=_("team")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="assigned_tickets", limit_choices_to=staff_only, verbose_name=_("assignee"),
    )
    status = models.CharField(max_length=30, choices=STATUS_CHOICES, default=Status.NEW.value,
                              verbose_name=_("status"))
    waiting_reason = models.CharField(max_length=255, blank=True, verbose_name=_("waiting reason"))
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tickets",
        verbose_name=_("merged into")
    )

    # indexed with first_response_at (Meta.indexes)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    status_changed_at = models.DateTimeField(verbose_name=_("status changed at"))
    first_response_at = models.DateTimeField(
        null=True, blank=True, help_text=_("First public reply by an agent."),
        verbose_name=_("first response at")
    )
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))
    reopen_count = models.PositiveIntegerField(default=0, verbose_name=_("reopen count"))
    # Written only by the sla app (earliest running clock due time); tickets reads it
    # to sort queues most urgent first. Denormalised and indexed on purpose.
    sla_due_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sla due at"))
    # Also written only by the sla app: the warning colour the queue shows for that clock.
    sla_level = models.CharField(max_length=10, blank=True, verbose_name=_("sla level"))
    # Values of the admin-defined custom fields, by field key (tickets.custom_fields holds
    # the types and rules); an empty value is left out. GIN-indexed on PostgreSQL, open
    # tickets only (migration 0019), so a queue filter on one field is an index lookup.
    custom_fields = models.JSONField(default=dict, blank=True, db_default=models.Value(
        {}, output_field=models.JSONField()), verbose_name=_("custom fields"))

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = [F("sla_due_at").asc(nulls_last=True), "priority", "created_at", "id"]
        permissions = [
            ("work_ticket", "Can work tickets in the agent workspace"),
            ("view_all_tickets", "Can see tickets of every team"),
            ("bulk_update_ticket", "Can change many tickets at once"),
            ("merge_ticket", "Can merge duplicate tickets"),
        ]
        indexes = [
            _open_index("ticket_open_queue"),
            _open_index("ticket_open_team_queue", "team"),
            _open_index("ticket_open_assignee_queue", "assignee"),
            # The "unassigned" queue per team: a few thousand rows among the open ones, which
            # PostgreSQL's statistics cannot tell from the assignee index above.
            models.Index(fields=["team", "sla_due_at", "priority", "created_at", "id"],
                         name="ticket_unassigned_queue",
                         condition=Q(status__in=OPEN_STATUS_VALUES, assignee__isnull=True)),
            models.Index(fields=["requester", "-created_at"], name="ticket_requester_recent"),
            models.Index(fields=["organization", "-created_at"], name="ticket_org_recent"),
            models.Index(fields=["status", "resolved_at"], name="ticket_status_resolved"),
            # Arrival history per team (workforce forecasts) and handle time per team; the
            # channel is included so the hourly arrivals by channel are an index-only scan.
            models.Index(fields=["team", "created_at"], name="ticket_team_created_channel",
                         include=["channel"]),
            # Metrics: hourly rollups by resolution time and by last change, and the
            # active-agent count (one probe per agent).
            # resolved_at − created_at (time to resolution, its median) and
            # first_response_at − created_at (first response) from the indexes alone.
            models.Index(fields=["resolved_at"], name="ticket_resolved_created",
                         include=["created_at"]),
            models.Index(fields=["created_at"], name="ticket_created_first_response",
                         include=["first_response_at"]),
            models.Index(fields=["updated_at"], name="ticket_updated"),
            # Automations on waiting time scan the waiting tickets by when they started.
            models.Index(fields=["status_changed_at", "id"], name="ticket_waiting_since",
                         condition=Q(status__in=sorted(s.value for s in WAITING_STATUSES))),
            models.Index(fields=["assignee", "resolved_at"], name="ticket_assignee_resolved"),
            # The API list (every status, most urgent first): the model's ordering over all
            # tickets, so a page of a team's 800,000 tickets is an index walk, not a sort.
            models.Index(fields=["sla_due_at", "priority", "created_at", "id"],
                         name="ticket_urgency"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("agent:ticket", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUS_VALUES

    @property
    def status_label(self) -> str:
        return gettext(LABELS[Status(self.status)])

    @property
    def reference(self) -> str:
        return f"#{self.pk}"


class Message(models.Model):
    """One entry of the conversation: a public reply or an internal note."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages",
                               verbose_name=_("ticket"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("author")
    )
    is_public = models.BooleanField(default=True, verbose_name=_("is public"))
    by_agent = models.BooleanField(default=False, verbose_name=_("by agent"))
    body = models.TextField(help_text=_("Markdown as written; rendered safely on display."),
                            verbose_name=_("body"))
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB,
                               verbose_name=_("channel"))
    created_at = models.DateTimeField(verbose_name=_("created at"))
    merged_from = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("Set on copies carried over from a merged duplicate."),
        verbose_name=_("merged from"),
    )

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_time")]

    def __str__(self) -> str:
        # No author: a note was written by the system (handoff packets, merges), a public
        # message lost its sender (user deleted); named as the ticket page names them.
        if self.author_id is not None:
            author = str(self.author)
        else:
            author = gettext("Unknown sender") if self.is_public else gettext("System")
        values = {"ticket": self.ticket_id, "author": author}
        if self.is_public:
            return gettext("reply on #%(ticket)s by %(author)s") % values
        return gettext("note on #%(ticket)s by %(author)s") % values


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.message.ticket_id}/{instance.message_id}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments",
                                verbose_name=_("message"))
    file = models.FileField(upload_to=attachment_path, max_length=500, verbose_name=_("file"))
    filename = models.CharField(max_length=255, verbose_name=_("filename"))
    content_type = models.CharField(max_length=100, verbose_name=_("content type"))
    size = models.PositiveIntegerField(verbose_name=_("size"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    sender_only = models.BooleanField(
        default=False,
        help_text=_("Shown to staff and to the author of its message only: a record the "
                    "system attached (such as the original e-mail, which may carry other "
                    "people's addresses), not something shared with the whole ticket."),
        verbose_name=_("sender only"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class EventKind(models.TextChoices):
    CREATED = "created", _("Created")
    STATUS = "status", _("Status changed")
    FIELD = "field", _("Field changed")
    REPLY = "reply", _("Public reply")
    NOTE = "note", _("Internal note")
    ESCALATED = "escalated", _("Escalated")
    MERGED = "merged", _("Merged")
    ROUTED = "routed", _("Routed by rule")
    RULE = "rule", _("Trigger or automation")
    MACRO = "macro", _("Macro applied")
    ATTACHMENT = "attachment", _("Attachment added")
    RETURNED = "esc_returned", _("Escalation returned")


class TicketEvent(AppendOnlyModel):
    """Append-only audit trail: who changed what, when, from what to what."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events",
                               verbose_name=_("ticket"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text=_("Empty for the system (rules, scheduled jobs)."),
        verbose_name=_("actor"),
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    kind = models.CharField(max_length=20, choices=EventKind.choices, verbose_name=_("kind"))
    field = models.CharField(max_length=50, blank=True, verbose_name=_("field"))
    before = models.TextField(blank=True, verbose_name=_("before"))
    after = models.TextField(blank=True, verbose_name=_("after"))
    note = models.TextField(blank=True, verbose_name=_("note"))
    is_public = models.BooleanField(
        default=False, help_text=_("Shown to the customer in the portal timeline."),
        verbose_name=_("is public")
    )

    class Meta:
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="event_ticket_time")]

    def __str__(self) -> str:
        return gettext("%(kind)s on #%(ticket)s") % {"kind": self.get_kind_display(),
                                                    "ticket": self.ticket_id}


class Escalation(models.Model):
    """A handoff between tiers (or to engineering) with the packet the next tier needs."""

    class Kind(models.TextChoices):
        TIER = "tier", _("To another tier")
        ENGINEERING = "engineering", _("To engineering")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations",
                               verbose_name=_("ticket"))
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TIER,
                            verbose_name=_("kind"))
    from_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("from team")
    )
    to_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("to team")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("actor")
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    issue_summary = models.TextField(verbose_name=_("issue summary"))
    troubleshooting_done = models.TextField(verbose_name=_("troubleshooting done"))
    reason = models.TextField(_("why escalating"))
    customer_expectation = models.TextField(verbose_name=_("customer expectation"))
    next_steps = models.TextField(_("suggested next steps"))
    # Set when the receiving tier sends the escalation back for missing context
    # (tickets.services.return_escalation); such an escalation counts as rework.
    returned_at = models.DateTimeField(null=True, blank=True, verbose_name=_("returned at"))
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", verbose_name=_("returned by"),
    )
    missing_context = models.TextField(
        blank=True, help_text=_("What the receiving tier asked for when it returned the case."),
        verbose_name=_("missing context")
    )

    PACKET_FIELDS = (
        "issue_summary", "troubleshooting_done", "reason", "customer_expectation", "next_steps",
    )

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="escalation_created")]

    def __str__(self) -> str:
        return gettext("Escalation of #%(ticket)s to %(team)s") % {
            "ticket": self.ticket_id, "team": self.to_team or gettext("engineering")}

    @property
    def is_returned(self) -> bool:
        return self.returned_at is not None


class RuleEvent(models.TextChoices):
    """What a trigger reacts to (the domain events of `tickets.events`)."""

    CREATED = "created", _("Ticket created")
    UPDATED = "updated", _("Ticket updated (any change)")
    CUSTOMER_REPLY = "customer_reply", _("Public reply by the customer")
    AGENT_REPLY = "agent_reply", _("Public reply by an agent")
    STATUS_CHANGED = "status_changed", _("Status changed")
    PRIORITY_CHANGED = "priority_changed", _("Priority changed")
    ASSIGNED = "assigned", _("Assigned (team or agent)")
    TAGS_CHANGED = "tags_changed", _("Tags changed")
    REOPENED = "reopened", _("Reopened")
    ESCALATED = "escalated", _("Escalated")
    NOTE_ADDED = "note_added", _("Internal note by an agent")


class Rule(models.Model):
    """What triggers and automations share: conditions (all or any) and actions, in order.

    `conditions` is a list of {"field", "op", "value"} and `actions` a list of
    {"action", "value"}; the names come from `tickets.rules.registry`, where apps above
    tickets add theirs (SLA state, e-mail from a template, webhooks).
    """

    name = models.CharField(max_length=120, verbose_name=_("name"))
    order = models.PositiveIntegerField(default=100, db_index=True, verbose_name=_("order"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    match_all = models.BooleanField(
        default=True, help_text=_("All conditions must hold; unticked: any one of them."),
        verbose_name=_("match all"))
    conditions = models.JSONField(default=list, blank=True, verbose_name=_("conditions"))
    actions = models.JSONField(default=list, blank=True, verbose_name=_("actions"))
    stop_processing = models.BooleanField(
        default=False, help_text=_("Do not evaluate later rules when this one fires."),
        verbose_name=_("stop processing"))
    # Written by the engine (queryset update, so the held rule set stays valid).
    last_warning = models.TextField(blank=True, verbose_name=_("last warning"))
    last_warning_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last warning at"))

    class Meta:
        abstract = True
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class Trigger(Rule):
    """Runs when something happens to a ticket, inside the write that made it happen."""

    events = models.JSONField(
        default=list, verbose_name=_("events"),
        help_text=format_lazy(_("Any of: {events}"), events=", ".join(RuleEvent.values)))

    class Meta(Rule.Meta):
        verbose_name = _("trigger")
        verbose_name_plural = _("triggers")


class Automation(Rule):
    """Runs on time (Celery beat): once per ticket per window of its time condition."""

    class Since(models.TextChoices):
        CREATED = "created", _("Hours since created")
        UPDATED = "updated", _("Hours since last update")
        WAITING = "waiting", _("Hours waiting (on the customer or a third party)")
        RESOLVED = "resolved", _("Hours since resolved")

    since = models.CharField(max_length=10, choices=Since.choices, verbose_name=_("since"))
    hours = models.DecimalField(max_digits=7, decimal_places=2,
                                validators=[MinValueValidator(0)], verbose_name=_("hours"))
    business_hours = models.BooleanField(
        default=False, help_text=_("Count business hours of an SLA calendar, not calendar hours."),
        verbose_name=_("business hours"))
    calendar = models.CharField(
        max_length=100, blank=True,
        help_text=_("Name of the SLA calendar for business hours; empty: the default policy's."),
        verbose_name=_("calendar"))
    # How far the scan has gone along the time column (its value, then the ticket id):
    # the next scan starts there, so its cost follows the tickets that became due.
    scanned_until = models.DateTimeField(null=True, blank=True, verbose_name=_("scanned until"))
    scanned_id = models.BigIntegerField(default=0, verbose_name=_("scanned id"))

    class Meta(Rule.Meta):
        verbose_name = _("automation")
        verbose_name_plural = _("automations")


class RuleFire(models.Model):
    """One firing of a trigger or an automation on a ticket: the rule's history (admin),
    and for automations the unique record that the window was served once."""

    trigger = models.ForeignKey(Trigger, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="fires", verbose_name=_("trigger"))
    automation = models.ForeignKey(Automation, null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="fires",
                                   verbose_name=_("automation"))
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+",
                               verbose_name=_("ticket"))
    fired_at = models.DateTimeField(verbose_name=_("fired at"))
    # Automations: the start of the condition window (created, updated, waiting since...).
    window = models.DateTimeField(null=True, blank=True, verbose_name=_("window"))
    changes = models.TextField(blank=True, verbose_name=_("changes"))

    class Meta:
        verbose_name = _("rule fire")
        verbose_name_plural = _("rule fires")
        ordering = ["-fired_at", "-id"]
        indexes = [
            models.Index(fields=["trigger", "-fired_at"], name="rulefire_trigger_recent"),
            models.Index(fields=["automation", "-fired_at"], name="rulefire_auto_recent"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["automation", "ticket", "window"],
                                    condition=Q(automation__isnull=False),
                                    name="rulefire_once_per_window"),
        ]

    def __str__(self) -> str:
        return gettext("%(rule)s on #%(ticket)s") % {"rule": self.trigger or self.automation,
                                                    "ticket": self.ticket_id}


class FieldType(models.TextChoices):
    TEXT = "text", _("Text")
    LONG_TEXT = "long_text", _("Long text")
    NUMBER = "number", _("Number")
    DECIMAL = "decimal", _("Decimal")
    DATE = "date", _("Date")
    CHECKBOX = "checkbox", _("Checkbox")
    DROPDOWN = "dropdown", _("Drop-down")
    MULTISELECT = "multiselect", _("Multi-select")
    REGEX = "regex", _("Text matching a pattern")
    ORGANIZATION = "organization", _("Link to an organization")
    USER = "user", _("Link to a user")


class CustomField(models.Model):
    """A field admins add to tickets: its type, who sees and fills it, where it applies."""

    key = models.SlugField(
        max_length=40, unique=True,
        help_text=_("The name in the API, filters and exports: lower-case letters, digits "
                    "and underscores, starting with a letter. Do not change it once in use."),
        verbose_name=_("key"))
    label = models.CharField(max_length=100, verbose_name=_("label"))
    help_text = models.CharField(max_length=300, blank=True,
                                 help_text=_("Shown under the field in forms."),
                                 verbose_name=_("help text"))
    field_type = models.CharField(max_length=20, choices=FieldType.choices,
                                  default=FieldType.TEXT, verbose_name=_("field type"))
    choices = models.JSONField(
        default=list, blank=True,
        help_text=_('Drop-down and multi-select only: the options, e.g. ["Basic", "Pro"].'),
        verbose_name=_("choices"))
    pattern = models.CharField(
        max_length=300, blank=True,
        help_text=_(r"Pattern fields only: a regular expression the whole value must match, "
                    r"e.g. ORD-\d{6}."), verbose_name=_("pattern"))
    pattern_hint = models.CharField(
        max_length=200, blank=True,
        help_text=_("Pattern fields only: what a valid value looks like, shown on error."),
        verbose_name=_("pattern hint"))
    customer_visible = models.BooleanField(
        default=False, help_text=_("Customers see its value in the portal."),
        verbose_name=_("customer visible"))
    customer_editable = models.BooleanField(
        default=False, help_text=_("Customers may fill it in the portal (implies visible)."),
        verbose_name=_("customer editable"))
    customer_required = models.BooleanField(
        default=False, help_text=_("Customers must fill it when filing a request in the "
                                   "portal (implies editable). A ticket form can also require it."),
        verbose_name=_("customer required"))
    categories = models.ManyToManyField(
        Category, blank=True, related_name="+",
        help_text=_("Where it applies: tickets of these categories. Empty: every category."),
        verbose_name=_("categories"))
    product_areas = models.ManyToManyField(
        ProductArea, blank=True, related_name="+",
        help_text=_("Where it applies: tickets of these product areas. Empty: every area."),
        verbose_name=_("product areas"))
    show_in_queue = models.BooleanField(
        default=False, help_text=_("An optional column of the agent queues."),
        verbose_name=_("show in queue"))
    order = models.PositiveIntegerField(default=100, verbose_name=_("order"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["order", "label", "id"]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        check_definition(self)


class TicketForm(models.Model):
    """The fields customers are asked for when they file under a category or product area."""

    name = models.CharField(max_length=120, unique=True, verbose_name=_("name"))
    category = models.OneToOneField(
        Category, null=True, blank=True, on_delete=models.CASCADE, related_name="ticket_form",
        help_text=_("Shown when the customer picks this category."), verbose_name=_("category"))
    product_area = models.OneToOneField(
        ProductArea, null=True, blank=True, on_delete=models.CASCADE,
        related_name="ticket_form",
        help_text=_("Shown when the customer picks this product area (a category's form "
                    "comes first)."), verbose_name=_("product area"))
    is_default = models.BooleanField(
        default=False, help_text=_("Shown when no category or product area form applies."),
        verbose_name=_("is default"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))

    class Meta:
        verbose_name = _("ticket form")
        verbose_name_plural = _("ticket forms")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True),
                                    name="one_default_ticket_form"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not (self.category_id or self.product_area_id or self.is_default):
            raise ValidationError(gettext("Choose a category or a product area for this form, or "
                                          "make it the default form."))


class TicketFormField(models.Model):
    form = models.ForeignKey(TicketForm, on_delete=models.CASCADE, related_name="items",
                             verbose_name=_("form"))
    field = models.ForeignKey(CustomField, on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("field"))
    required = models.BooleanField(default=False,
                                   help_text=_("Customers must fill it on this form."),
                                   verbose_name=_("required"))
    order = models.PositiveIntegerField(default=0, verbose_name=_("order"))

    class Meta:
        verbose_name = _("ticket form field")
        verbose_name_plural = _("ticket form fields")
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["form", "field"], name="ticket_form_field_once"),
        ]

    def __str__(self) -> str:
        return f"{self.form}: {self.field}"

    def clean(self) -> None:
        if self.field_id and not self.field.customer_editable:
            raise ValidationError({"field": gettext(
                'Only fields customers may edit can be on a customer form; tick '
                '"customer editable" first.')})


class Macro(models.Model):
    """A canned reply with placeholders, which may also set fields."""

    name = models.CharField(max_length=120, unique=True, verbose_name=_("name"))
    body = models.TextField(
        blank=True,
        help_text=_("Markdown. Placeholders: {{ requester_name }}, {{ requester_first_name }}, "
                    "{{ ticket_id }}, {{ subject }}, {{ organization }}, {{ agent_name }}, "
                    "{{ team }}."),
        verbose_name=_("body"),
    )
    is_public = models.BooleanField(default=True,
                                    help_text=_("Send as a public reply, else a note."),
                                    verbose_name=_("is public"))
    set_status = models.CharField(max_length=30, choices=STATUS_CHOICES, blank=True,
                                  verbose_name=_("set status"))
    set_priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, null=True, blank=True, verbose_name=_("set priority")
    )
    add_tags = models.ManyToManyField(Tag, blank=True, related_name="+", verbose_name=_("add tags"))
    status_reason = models.CharField(
        max_length=255, blank=True, help_text=_("Reason recorded when the status needs one."),
        verbose_name=_("status reason")
    )
    set_custom_fields = models.JSONField(
        default=dict, blank=True,
        help_text=_('Custom field values to set, by key, e.g. {"plan": "Pro"}; null clears one.'),
        verbose_name=_("set custom fields"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))

    class Meta:
        verbose_name = _("macro")
        verbose_name_plural = _("macros")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        check_values_setting(self.set_custom_fields, name="set_custom_fields")


class SavedFilter(models.Model):
    """A named queue filter an agent keeps (optionally shared with everyone)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters",
        verbose_name=_("owner")
    )
    name = models.CharField(max_length=80, verbose_name=_("name"))
    query = models.CharField(max_length=1000, help_text=_("The queue's filter query string."),
                             verbose_name=_("query"))
    is_shared = models.BooleanField(default=False, verbose_name=_("is shared"))

    class Meta:
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_filter_name")
        ]

    def __str__(self) -> str:
        return self.name


class TimeEntry(models.Model):
    """Time an agent spent on a ticket: logged with a reply, or measured by a running timer
    (ended_at empty while it runs). Handle time is the sum of these."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="time_entries",
                               verbose_name=_("ticket"))
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="time_entries", verbose_name=_("agent"))
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("message"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Logged minutes; for a timer, set when it stops."),
        verbose_name=_("minutes")
    )
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("time entry")
        verbose_name_plural = _("time entries")
        indexes = [
            models.Index(fields=["ticket", "started_at"], name="time_ticket_start"),
            models.Index(fields=["agent", "started_at"], name="time_agent_start"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["agent"], condition=Q(ended_at__isnull=True),
                                    name="one_running_timer_per_agent"),
        ]

    def __str__(self) -> str:
        return gettext("%(agent)s on #%(ticket)s: %(minutes)s") % {
            "agent": self.agent, "ticket": self.ticket_id,
            "minutes": self.minutes or gettext("running")}


class Survey(models.Model):
    """The satisfaction survey of one resolution of a ticket (exactly one per resolution)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        RESPONDED = "responded", _("Responded")
        SKIPPED = "skipped", _("Skipped")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="surveys",
                               verbose_name=_("ticket"))
    resolution = models.PositiveSmallIntegerField(
        help_text=_("Which resolution of the ticket (reopen count at the time)."),
        verbose_name=_("resolution")
    )
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="surveys", verbose_name=_("requester"))
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="rated_surveys",
                              help_text=_("The assignee at resolution, whom the rating credits."),
                              verbose_name=_("agent"))
    team = models.ForeignKey("helpdesk.Team", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("team"))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED,
                              verbose_name=_("status"))
    skip_reason = models.CharField(max_length=200, blank=True, verbose_name=_("skip reason"))
    scheduled_for = models.DateTimeField(db_index=True, verbose_name=_("scheduled for"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)],
        verbose_name=_("rating")
    )
    nps = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)], verbose_name=_("nps")
    )
    comment = models.TextField(blank=True, verbose_name=_("comment"))
    responded_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                        verbose_name=_("responded at"))

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-scheduled_for"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "resolution"],
                                    name="one_survey_per_resolution"),
        ]
        indexes = [models.Index(fields=["requester", "sent_at"], name="survey_requester_sent")]

    def __str__(self) -> str:
        return gettext("Survey of #%(ticket)s (%(status)s)") % {"ticket": self.ticket_id,
                                                              "status": self.get_status_display()}


class FollowUp(models.Model):
    """A low score (1–2) to be handled by the team lead within 24 h."""

    survey = models.OneToOneField(Survey, on_delete=models.CASCADE, related_name="follow_up",
                                  verbose_name=_("survey"))
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="follow_ups",
                               verbose_name=_("ticket"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="follow_ups",
                              limit_choices_to=staff_only, verbose_name=_("owner"))
    due_at = models.DateTimeField(db_index=True, verbose_name=_("due at"))
    handled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("handled at"))
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("handled by"))
    outcome = models.TextField(blank=True, verbose_name=_("outcome"))
    reminded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reminded at"))

    class Meta:
        verbose_name = _("follow up")
        verbose_name_plural = _("follow ups")
        ordering = ["due_at"]

    def __str__(self) -> str:
        return gettext("Follow-up of #%(ticket)s") % {"ticket": self.ticket_id}


class TicketFollower(models.Model):
    """An agent who follows a ticket: told of its public replies, notes and status changes.

    Only staff who can see the ticket may follow it; notices go only to followers who
    still can (a ticket moved to another team stops reaching the old team's followers).
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="followers",
                               verbose_name=_("ticket"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="followed_tickets", verbose_name=_("user"))
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("ticket follower")
        verbose_name_plural = _("ticket followers")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "user"], name="ticket_follower_once"),
        ]

    def __str__(self) -> str:
        return gettext("%(user)s follows %(ticket)s") % {"user": self.user, "ticket": self.ticket}


class PendingEvents(models.Model):
    """The outbox of domain events: what the deferred handlers (mail, notices, casework,
    deflection...) still have to react to. Written in the transaction of the change that
    emitted them, deleted by the worker in the transaction in which the handlers ran, so
    a reaction is never lost (broker down, worker killed) and never applied twice."""

    events = models.JSONField(verbose_name=_("events"))
    created_at = models.DateTimeField(db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("pending events")
        verbose_name_plural = _("pending events")
        ordering = ["pk"]

    def __str__(self) -> str:
        count = len(self.events)
        return ngettext("%(count)s event of %(created)s", "%(count)s events of %(created)s",
                        count) % {"count": count, "created": f"{self.created_at:%Y-%m-%d %H:%M:%S}"}


class TicketChange(models.Model):
    """One change to a ticket row, in the order sync jobs must apply them: the change log
    behind the incremental export (`GET /api/v1/tickets/changes/`).

    Written only by database triggers on the tickets table (migration
    `ticket_change_log`), never by Python: every write counts, `queryset.update()` and
    deletions included, and the write path pays no extra round trip. `xid` is the writing
    transaction's id on PostgreSQL (0 on SQLite, whose single writer makes `id` the commit
    order); `tickets.changes` reads the log in (xid, id) order, and only transactions older
    than every one still running, so a change that commits late is never skipped.
    """

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATED = "updated", _("Updated")
        MERGED = "merged", _("Merged into another ticket")
        DELETED = "deleted", _("Deleted")

    id = models.BigAutoField(primary_key=True, verbose_name=_("id"))
    xid = models.BigIntegerField(default=0, verbose_name=_("xid"))
    # No foreign key: the change outlives a deleted ticket.
    ticket_id = models.BigIntegerField(verbose_name=_("ticket id"))
    kind = models.CharField(max_length=10, choices=Kind.choices, verbose_name=_("kind"))
    merged_into_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("merged into id"))
    changed_at = models.DateTimeField(db_default=Now(), verbose_name=_("changed at"))

    class Meta:
        verbose_name = _("ticket change")
        verbose_name_plural = _("ticket changes")
        ordering = ["xid", "id"]
        indexes = [
            # The reader's walk: (xid, id) > cursor, in order.
            models.Index(fields=["xid", "id"], name="ticket_change_order"),
            # Retention: delete what is older than N days.
            models.Index(fields=["changed_at"], name="ticket_change_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.ticket_id}"
