"""Tickets, their conversation, the audit trail, triggers, automations, custom fields and macros."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy

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
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    skill = models.ForeignKey(
        "helpdesk.Skill", null=True, blank=True, on_delete=models.SET_NULL,
        help_text="Skill-based assignment prefers agents with this skill.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class ProductArea(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    skill = models.ForeignKey(
        "helpdesk.Skill", null=True, blank=True, on_delete=models.SET_NULL,
        help_text="Skill-based assignment prefers agents with this skill.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.SlugField(max_length=50, unique=True, allow_unicode=True)

    class Meta:
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
    subject = models.CharField(max_length=255)
    description = models.TextField(help_text="Markdown; rendered safely.")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="requested_tickets"
    )
    ccs = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="cc_tickets",
        help_text="Other customers who follow this ticket (e.g. requesters of merged duplicates).",
    )
    organization = models.ForeignKey(
        "helpdesk.Organization", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="tickets",
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.P3)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL)
    product_area = models.ForeignKey(
        ProductArea, null=True, blank=True, on_delete=models.SET_NULL
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="assigned_tickets", limit_choices_to=staff_only,
    )
    status = models.CharField(max_length=30, choices=STATUS_CHOICES, default=Status.NEW.value)
    waiting_reason = models.CharField(max_length=255, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_tickets"
    )

    created_at = models.DateTimeField()  # indexed with first_response_at (Meta.indexes)
    updated_at = models.DateTimeField()
    status_changed_at = models.DateTimeField()
    first_response_at = models.DateTimeField(
        null=True, blank=True, help_text="First public reply by an agent."
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    # Written only by the sla app (earliest running clock due time); tickets reads it
    # to sort queues most urgent first. Denormalised and indexed on purpose.
    sla_due_at = models.DateTimeField(null=True, blank=True)
    # Also written only by the sla app: the warning colour the queue shows for that clock.
    sla_level = models.CharField(max_length=10, blank=True)
    # Values of the admin-defined custom fields, by field key (tickets.custom_fields holds
    # the types and rules); an empty value is left out. GIN-indexed on PostgreSQL, open
    # tickets only (migration 0019), so a queue filter on one field is an index lookup.
    custom_fields = models.JSONField(default=dict, blank=True, db_default=models.Value(
        {}, output_field=models.JSONField()))

    class Meta:
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

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_public = models.BooleanField(default=True)
    by_agent = models.BooleanField(default=False)
    body = models.TextField(help_text="Markdown as written; rendered safely on display.")
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.WEB)
    created_at = models.DateTimeField()
    merged_from = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Set on copies carried over from a merged duplicate.",
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_time")]

    def __str__(self) -> str:
        kind = "reply" if self.is_public else "note"
        return f"{kind} on #{self.ticket_id} by {self.author}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.message.ticket_id}/{instance.message_id}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=500)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    sender_only = models.BooleanField(
        default=False,
        help_text="Shown to staff and to the author of its message only: a record the "
                  "system attached (such as the original e-mail, which may carry other "
                  "people's addresses), not something shared with the whole ticket.")

    def __str__(self) -> str:
        return self.filename


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    STATUS = "status", "Status changed"
    FIELD = "field", "Field changed"
    REPLY = "reply", "Public reply"
    NOTE = "note", "Internal note"
    ESCALATED = "escalated", "Escalated"
    MERGED = "merged", "Merged"
    ROUTED = "routed", "Routed by rule"
    RULE = "rule", "Trigger or automation"
    MACRO = "macro", "Macro applied"
    ATTACHMENT = "attachment", "Attachment added"
    RETURNED = "esc_returned", "Escalation returned"


class TicketEvent(AppendOnlyModel):
    """Append-only audit trail: who changed what, when, from what to what."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", help_text="Empty for the system (rules, scheduled jobs).",
    )
    created_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    field = models.CharField(max_length=50, blank=True)
    before = models.TextField(blank=True)
    after = models.TextField(blank=True)
    note = models.TextField(blank=True)
    is_public = models.BooleanField(
        default=False, help_text="Shown to the customer in the portal timeline."
    )

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="event_ticket_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on #{self.ticket_id}"


class Escalation(models.Model):
    """A handoff between tiers (or to engineering) with the packet the next tier needs."""

    class Kind(models.TextChoices):
        TIER = "tier", "To another tier"
        ENGINEERING = "engineering", "To engineering"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TIER)
    from_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    issue_summary = models.TextField()
    troubleshooting_done = models.TextField()
    reason = models.TextField("why escalating")
    customer_expectation = models.TextField()
    next_steps = models.TextField("suggested next steps")
    # Set when the receiving tier sends the escalation back for missing context
    # (tickets.services.return_escalation); such an escalation counts as rework.
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    missing_context = models.TextField(
        blank=True, help_text="What the receiving tier asked for when it returned the case."
    )

    PACKET_FIELDS = (
        "issue_summary", "troubleshooting_done", "reason", "customer_expectation", "next_steps",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_at"], name="escalation_created")]

    def __str__(self) -> str:
        return f"Escalation of #{self.ticket_id} to {self.to_team or 'engineering'}"

    @property
    def is_returned(self) -> bool:
        return self.returned_at is not None


class RuleEvent(models.TextChoices):
    """What a trigger reacts to (the domain events of `tickets.events`)."""

    CREATED = "created", "Ticket created"
    UPDATED = "updated", "Ticket updated (any change)"
    CUSTOMER_REPLY = "customer_reply", "Public reply by the customer"
    AGENT_REPLY = "agent_reply", "Public reply by an agent"
    STATUS_CHANGED = "status_changed", "Status changed"
    PRIORITY_CHANGED = "priority_changed", "Priority changed"
    ASSIGNED = "assigned", "Assigned (team or agent)"
    TAGS_CHANGED = "tags_changed", "Tags changed"
    REOPENED = "reopened", "Reopened"
    ESCALATED = "escalated", "Escalated"
    NOTE_ADDED = "note_added", "Internal note by an agent"


class Rule(models.Model):
    """What triggers and automations share: conditions (all or any) and actions, in order.

    `conditions` is a list of {"field", "op", "value"} and `actions` a list of
    {"action", "value"}; the names come from `tickets.rules.registry`, where apps above
    tickets add theirs (SLA state, e-mail from a template, webhooks).
    """

    name = models.CharField(max_length=120)
    order = models.PositiveIntegerField(default=100, db_index=True)
    is_active = models.BooleanField(default=True)
    match_all = models.BooleanField(
        default=True, help_text="All conditions must hold; unticked: any one of them.")
    conditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list, blank=True)
    stop_processing = models.BooleanField(
        default=False, help_text="Do not evaluate later rules when this one fires.")
    # Written by the engine (queryset update, so the held rule set stays valid).
    last_warning = models.TextField(blank=True)
    last_warning_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name


class Trigger(Rule):
    """Runs when something happens to a ticket, inside the write that made it happen."""

    events = models.JSONField(
        default=list, help_text=f"Any of: {', '.join(RuleEvent.values)}")

    class Meta(Rule.Meta):
        pass


class Automation(Rule):
    """Runs on time (Celery beat): once per ticket per window of its time condition."""

    class Since(models.TextChoices):
        CREATED = "created", "Hours since created"
        UPDATED = "updated", "Hours since last update"
        WAITING = "waiting", "Hours waiting (on the customer or a third party)"
        RESOLVED = "resolved", "Hours since resolved"

    since = models.CharField(max_length=10, choices=Since.choices)
    hours = models.DecimalField(max_digits=7, decimal_places=2,
                                validators=[MinValueValidator(0)])
    business_hours = models.BooleanField(
        default=False, help_text="Count business hours of an SLA calendar, not calendar hours.")
    calendar = models.CharField(
        max_length=100, blank=True,
        help_text="Name of the SLA calendar for business hours; empty: the default policy's.")
    # How far the scan has gone along the time column (its value, then the ticket id):
    # the next scan starts there, so its cost follows the tickets that became due.
    scanned_until = models.DateTimeField(null=True, blank=True)
    scanned_id = models.BigIntegerField(default=0)

    class Meta(Rule.Meta):
        pass


class RuleFire(models.Model):
    """One firing of a trigger or an automation on a ticket: the rule's history (admin),
    and for automations the unique record that the window was served once."""

    trigger = models.ForeignKey(Trigger, null=True, blank=True, on_delete=models.CASCADE,
                                related_name="fires")
    automation = models.ForeignKey(Automation, null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="fires")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    fired_at = models.DateTimeField()
    # Automations: the start of the condition window (created, updated, waiting since...).
    window = models.DateTimeField(null=True, blank=True)
    changes = models.TextField(blank=True)

    class Meta:
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
        return f"{self.trigger or self.automation} on #{self.ticket_id}"


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    LONG_TEXT = "long_text", "Long text"
    NUMBER = "number", "Number"
    DECIMAL = "decimal", "Decimal"
    DATE = "date", "Date"
    CHECKBOX = "checkbox", "Checkbox"
    DROPDOWN = "dropdown", "Drop-down"
    MULTISELECT = "multiselect", "Multi-select"
    REGEX = "regex", "Text matching a pattern"
    ORGANIZATION = "organization", "Link to an organization"
    USER = "user", "Link to a user"


class CustomField(models.Model):
    """A field admins add to tickets: its type, who sees and fills it, where it applies."""

    key = models.SlugField(
        max_length=40, unique=True,
        help_text="The name in the API, filters and exports: lower-case letters, digits "
                  "and underscores, starting with a letter. Do not change it once in use.")
    label = models.CharField(max_length=100)
    help_text = models.CharField(max_length=300, blank=True,
                                 help_text="Shown under the field in forms.")
    field_type = models.CharField(max_length=20, choices=FieldType.choices,
                                  default=FieldType.TEXT)
    choices = models.JSONField(
        default=list, blank=True,
        help_text='Drop-down and multi-select only: the options, e.g. ["Basic", "Pro"].')
    pattern = models.CharField(
        max_length=300, blank=True,
        help_text=r"Pattern fields only: a regular expression the whole value must match, "
                  r"e.g. ORD-\d{6}.")
    pattern_hint = models.CharField(
        max_length=200, blank=True,
        help_text="Pattern fields only: what a valid value looks like, shown on error.")
    customer_visible = models.BooleanField(
        default=False, help_text="Customers see its value in the portal.")
    customer_editable = models.BooleanField(
        default=False, help_text="Customers may fill it in the portal (implies visible).")
    customer_required = models.BooleanField(
        default=False, help_text="Customers must fill it when filing a request in the "
                                 "portal (implies editable). A ticket form can also require it.")
    categories = models.ManyToManyField(
        Category, blank=True, related_name="+",
        help_text="Where it applies: tickets of these categories. Empty: every category.")
    product_areas = models.ManyToManyField(
        ProductArea, blank=True, related_name="+",
        help_text="Where it applies: tickets of these product areas. Empty: every area.")
    show_in_queue = models.BooleanField(
        default=False, help_text="An optional column of the agent queues.")
    order = models.PositiveIntegerField(default=100)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "label", "id"]

    def __str__(self) -> str:
        return self.label

    def clean(self) -> None:
        check_definition(self)


class TicketForm(models.Model):
    """The fields customers are asked for when they file under a category or product area."""

    name = models.CharField(max_length=120, unique=True)
    category = models.OneToOneField(
        Category, null=True, blank=True, on_delete=models.CASCADE, related_name="ticket_form",
        help_text="Shown when the customer picks this category.")
    product_area = models.OneToOneField(
        ProductArea, null=True, blank=True, on_delete=models.CASCADE,
        related_name="ticket_form",
        help_text="Shown when the customer picks this product area (a category's form "
                  "comes first).")
    is_default = models.BooleanField(
        default=False, help_text="Shown when no category or product area form applies.")
    is_active = models.BooleanField(default=True)

    class Meta:
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
    form = models.ForeignKey(TicketForm, on_delete=models.CASCADE, related_name="items")
    field = models.ForeignKey(CustomField, on_delete=models.CASCADE, related_name="+")
    required = models.BooleanField(default=False,
                                   help_text="Customers must fill it on this form.")
    order = models.PositiveIntegerField(default=0)

    class Meta:
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

    name = models.CharField(max_length=120, unique=True)
    body = models.TextField(
        blank=True,
        help_text="Markdown. Placeholders: {{ requester_name }}, {{ requester_first_name }}, "
        "{{ ticket_id }}, {{ subject }}, {{ organization }}, {{ agent_name }}, {{ team }}.",
    )
    is_public = models.BooleanField(default=True, help_text="Send as a public reply, else a note.")
    set_status = models.CharField(max_length=30, choices=STATUS_CHOICES, blank=True)
    set_priority = models.PositiveSmallIntegerField(
        choices=Priority.choices, null=True, blank=True
    )
    add_tags = models.ManyToManyField(Tag, blank=True, related_name="+")
    status_reason = models.CharField(
        max_length=255, blank=True, help_text="Reason recorded when the status needs one."
    )
    set_custom_fields = models.JSONField(
        default=dict, blank=True,
        help_text='Custom field values to set, by key, e.g. {"plan": "Pro"}; null clears one.')
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        check_values_setting(self.set_custom_fields, name="set_custom_fields")


class SavedFilter(models.Model):
    """A named queue filter an agent keeps (optionally shared with everyone)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_filters"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000, help_text="The queue's filter query string.")
    is_shared = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_filter_name")
        ]

    def __str__(self) -> str:
        return self.name


class TimeEntry(models.Model):
    """Time an agent spent on a ticket: logged with a reply, or measured by a running timer
    (ended_at empty while it runs). Handle time is the sum of these."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="time_entries")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="time_entries")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Logged minutes; for a timer, set when it stops."
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "time entries"
        indexes = [
            models.Index(fields=["ticket", "started_at"], name="time_ticket_start"),
            models.Index(fields=["agent", "started_at"], name="time_agent_start"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["agent"], condition=Q(ended_at__isnull=True),
                                    name="one_running_timer_per_agent"),
        ]

    def __str__(self) -> str:
        return f"{self.agent} on #{self.ticket_id}: {self.minutes or 'running'}"


class Survey(models.Model):
    """The satisfaction survey of one resolution of a ticket (exactly one per resolution)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENT = "sent", "Sent"
        RESPONDED = "responded", "Responded"
        SKIPPED = "skipped", "Skipped"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="surveys")
    resolution = models.PositiveSmallIntegerField(
        help_text="Which resolution of the ticket (reopen count at the time)."
    )
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="surveys")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="rated_surveys",
                              help_text="The assignee at resolution, whom the rating credits.")
    team = models.ForeignKey("helpdesk.Team", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    skip_reason = models.CharField(max_length=200, blank=True)
    scheduled_for = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    nps = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)]
    )
    comment = models.TextField(blank=True)
    responded_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-scheduled_for"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "resolution"],
                                    name="one_survey_per_resolution"),
        ]
        indexes = [models.Index(fields=["requester", "sent_at"], name="survey_requester_sent")]

    def __str__(self) -> str:
        return f"Survey of #{self.ticket_id} ({self.status})"


class FollowUp(models.Model):
    """A low score (1–2) to be handled by the team lead within 24 h."""

    survey = models.OneToOneField(Survey, on_delete=models.CASCADE, related_name="follow_up")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="follow_ups")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="follow_ups",
                              limit_choices_to=staff_only)
    due_at = models.DateTimeField(db_index=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    outcome = models.TextField(blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return f"Follow-up of #{self.ticket_id}"


class TicketFollower(models.Model):
    """An agent who follows a ticket: told of its public replies, notes and status changes.

    Only staff who can see the ticket may follow it; notices go only to followers who
    still can (a ticket moved to another team stops reaching the old team's followers).
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="followers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="followed_tickets")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ticket", "user"], name="ticket_follower_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} follows {self.ticket}"


class PendingEvents(models.Model):
    """The outbox of domain events: what the deferred handlers (mail, notices, casework,
    deflection...) still have to react to. Written in the transaction of the change that
    emitted them, deleted by the worker in the transaction in which the handlers ran, so
    a reaction is never lost (broker down, worker killed) and never applied twice."""

    events = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{len(self.events)} event(s) of {self.created_at:%Y-%m-%d %H:%M:%S}"


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
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        MERGED = "merged", "Merged into another ticket"
        DELETED = "deleted", "Deleted"

    id = models.BigAutoField(primary_key=True)
    xid = models.BigIntegerField(default=0)
    # No foreign key: the change outlives a deleted ticket.
    ticket_id = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    merged_into_id = models.BigIntegerField(null=True, blank=True)
    changed_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["xid", "id"]
        indexes = [
            # The reader's walk: (xid, id) > cursor, in order.
            models.Index(fields=["xid", "id"], name="ticket_change_order"),
            # Retention: delete what is older than N days.
            models.Index(fields=["changed_at"], name="ticket_change_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.ticket_id}"
