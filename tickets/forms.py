"""Input shapes of the agent workspace: forms validate and convert, services decide."""
from __future__ import annotations

import json
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils.choices import BaseChoiceIterator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from helpdesk.ids import parse_id
from helpdesk.models import Team, User
from helpdesk.selectors import agent_choices, agents

from .models import Category, Channel, Escalation, Macro, Priority, ProductArea, Ticket
from .state_machine import LABELS, PACKET, TRANSITIONS, Status, allowed_targets
from .widgets import CachedModelChoiceField, use_fast_selects

# Parameters of a queue URL that are not part of a saved filter.
NOT_SAVED_PARAMS = ("page", "csrfmiddlewaretoken", "queue")


def agent_users() -> QuerySet[User]:
    """Active users who may work tickets (every staff role carries tickets.work_ticket)."""
    return agents()


def error_text(form: forms.Form) -> str:
    """All of a form's errors as one readable sentence, for a flash message."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            parts.append(f"{label}: {error}" if label else str(error))
    return " ".join(parts)


def settable_statuses(current: str) -> list[tuple[str, str]]:
    """Targets reachable from `current` without a handoff packet (that needs the escalate form)."""
    source = Status(current)
    return [
        (target.value, gettext(LABELS[target])) for target in allowed_targets(source)
        if PACKET not in TRANSITIONS[(source, target)].requires
    ]


class AgentChoices(BaseChoiceIterator):
    """Lazy: read when rendered, never at import."""

    def __init__(self, empty_label: str | None) -> None:
        self.empty_label = empty_label

    def __iter__(self):
        if self.empty_label is not None:
            yield ("", self.empty_label)
        yield from agent_choices()


class AgentChoiceField(forms.ModelChoiceField):
    """Validates against the agent queryset; renders from the cached (id, name) list."""

    def label_from_instance(self, obj: User) -> str:
        return obj.display_name

    def _get_choices(self) -> AgentChoices:
        return AgentChoices(self.empty_label)

    choices = property(_get_choices, forms.ChoiceField.choices.fset)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file input that accepts several files; limits are checked by the services."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data if d]
        return [super().clean(data, initial)] if data else []


def parse_tags(text: str) -> list[str]:
    return sorted({t.strip().lower() for t in (text or "").split(",") if t.strip()})


# --- ticket page ------------------------------------------------------------------------

class ReplyForm(forms.Form):
    PUBLIC, NOTE = "public", "note"

    body = forms.CharField(
        label=_("Message"), required=False,
        widget=forms.Textarea(attrs={"rows": 6, "data-shortcut": "reply"}),
        help_text=_("Markdown. Press r anywhere on the page to jump here. In an internal "
                    "note, @username tells a colleague (type @ for names)."),
    )
    visibility = forms.ChoiceField(
        label=_("Send as"), choices=[(PUBLIC, _("Public reply")), (NOTE, _("Internal note"))],
        initial=PUBLIC, widget=forms.RadioSelect,
    )
    attachments = MultipleFileField(label=_("Attachments"))
    set_status = forms.ChoiceField(label=_("And set status"), required=False)
    status_reason = forms.CharField(label=_("Reason for the status"), required=False,
                                    max_length=255)
    time_minutes = forms.IntegerField(
        label=_("Time spent (minutes)"), required=False, min_value=0, max_value=600,
        help_text=_("Optional; counts towards the ticket's handle time."),
    )

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "reply_%s")
        super().__init__(*args, **kwargs)
        if ticket.pk:  # "@" completion in internal notes (static/js/mentions.js)
            self.fields["body"].widget.attrs["data-mentions-url"] = reverse(
                "agent:mentions", args=[ticket.pk])
        self.fields["set_status"].choices = [("", gettext("Keep the status"))] + settable_statuses(
            ticket.status)

    @property
    def is_public(self) -> bool:
        return self.cleaned_data.get("visibility") != self.NOTE


class TransitionForm(forms.Form):
    to = forms.ChoiceField(label=_("New status"),
                           choices=[(s.value, _(LABELS[s])) for s in Status])
    reason = forms.CharField(label=_("Reason"), required=False, max_length=255)
    assignee = AgentChoiceField(label=_("Assignee"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = agent_users()


class UpdateForm(forms.Form):
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)
    category = CachedModelChoiceField(label=_("Category"), queryset=Category.objects.all(),
                                      required=False, empty_label="—")
    product_area = CachedModelChoiceField(label=_("Product area"),
                                          queryset=ProductArea.objects.all(),
                                          required=False, empty_label="—")
    team = CachedModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False,
                                  empty_label="—")
    assignee = AgentChoiceField(label=_("Assignee"), queryset=User.objects.none(), required=False,
                                empty_label=_("Unassigned"))
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500,
                           help_text=_("Comma-separated."))
    # The values the form was rendered with: what the agent changed is what differs from
    # them, and the service refuses it if someone else changed the same field meanwhile.
    base = forms.CharField(widget=forms.HiddenInput, required=False, max_length=2000)

    FIELDS = ("priority", "category", "product_area", "team", "assignee", "tags")

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "upd_%s")
        tags = sorted(t.name for t in ticket.tags.all())
        start = {
            "priority": ticket.priority, "category": ticket.category_id,
            "product_area": ticket.product_area_id, "team": ticket.team_id,
            "assignee": ticket.assignee_id, "tags": tags,
        }
        kwargs.setdefault("initial", {**start, "tags": ", ".join(tags),
                                      "base": json.dumps(start, separators=(",", ":"))})
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        self.fields["assignee"].queryset = agent_users()

    def clean_base(self) -> dict[str, Any] | None:
        raw = self.cleaned_data.get("base")
        if not raw:
            return None
        try:
            base = json.loads(raw)
        except ValueError:
            raise forms.ValidationError(
                gettext("The form is damaged: reload the ticket.")) from None
        if not isinstance(base, dict) or set(base) != set(self.FIELDS):
            raise forms.ValidationError(gettext("The form is damaged: reload the ticket."))
        return base

    def _submitted(self) -> dict[str, Any]:
        data = self.cleaned_data
        out = {"priority": data["priority"],
               "tags": sorted(parse_tags(data.get("tags", "")))}
        for name in ("category", "product_area", "team", "assignee"):
            out[name] = data[name].pk if data.get(name) else None
        return out

    def changes(self) -> dict[str, Any]:
        """The fields the agent changed: against the values the form was rendered with
        when it carries them, else against the ticket as it is now."""
        data, submitted = self.cleaned_data, self._submitted()
        base = data.get("base") or {
            "priority": self.ticket.priority, "category": self.ticket.category_id,
            "product_area": self.ticket.product_area_id, "team": self.ticket.team_id,
            "assignee": self.ticket.assignee_id,
            "tags": sorted(t.name for t in self.ticket.tags.all())}
        changes: dict[str, Any] = {}
        for name in self.FIELDS:
            if submitted[name] != base[name]:
                changes[name] = submitted[name] if name in ("priority", "tags") \
                    else data.get(name)
        return changes

    def expected(self) -> dict[str, Any] | None:
        """What the changed fields were when the form was rendered (for the service)."""
        base = self.cleaned_data.get("base")
        return {name: base[name] for name in self.changes()} if base else None


class EscalateForm(forms.Form):
    to_team = CachedModelChoiceField(label=_("Escalate to team"), queryset=Team.objects.all(),
                                     required=False, empty_label="—")
    engineering = forms.BooleanField(label=_("Send to engineering instead"), required=False)
    issue_summary = forms.CharField(label=_("Issue summary"),
                                    widget=forms.Textarea(attrs={"rows": 2}))
    troubleshooting_done = forms.CharField(label=_("Troubleshooting done"),
                                           widget=forms.Textarea(attrs={"rows": 3}))
    reason = forms.CharField(label=_("Why escalating"), widget=forms.Textarea(attrs={"rows": 2}))
    customer_expectation = forms.CharField(label=_("Customer expectation"),
                                           widget=forms.Textarea(attrs={"rows": 2}))
    next_steps = forms.CharField(label=_("Suggested next steps"),
                                 widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, ticket: Ticket, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "esc_%s")
        super().__init__(*args, **kwargs)
        self.fields["to_team"].queryset = Team.objects.exclude(pk=ticket.team_id)
        self.fields["to_team"].exclude_pks = frozenset({ticket.team_id})
        if Status.ENGINEERING not in allowed_targets(ticket.status):
            del self.fields["engineering"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("engineering") and not data.get("to_team"):
            self.add_error("to_team", gettext("Choose the team to escalate to."))
        return data

    def packet(self) -> dict[str, str]:
        return {f: self.cleaned_data.get(f, "") for f in Escalation.PACKET_FIELDS}


class MergeForm(forms.Form):
    into = forms.CharField(label=_("Merge this ticket into ticket #"), max_length=20,
                           help_text=_("This ticket is closed as a duplicate."))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "merge_%s")
        super().__init__(*args, **kwargs)

    def clean_into(self) -> int:
        number = parse_id(self.cleaned_data["into"].strip().lstrip("#"))
        if number is None:
            raise forms.ValidationError(gettext("Enter a ticket number, like 1234."))
        return number


class MacroForm(forms.Form):
    macro = forms.ModelChoiceField(label=_("Macro"), queryset=Macro.objects.filter(is_active=True),
                                   empty_label=_("Choose a macro"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "macro_%s")
        super().__init__(*args, **kwargs)
        self.fields["macro"].queryset = Macro.objects.filter(is_active=True)


# --- queue ------------------------------------------------------------------------------

class BulkForm(forms.Form):
    ASSIGN, UNASSIGN, STATUS = "assign", "unassign", "status"

    ids = forms.TypedMultipleChoiceField(coerce=int, label=_("Tickets"),
                                         error_messages={"required": _("Select some tickets.")})
    action = forms.ChoiceField(choices=[(ASSIGN, _("Assign")), (UNASSIGN, _("Unassign")),
                                        (STATUS, _("Set status"))], label=_("Bulk action"))
    assignee = AgentChoiceField(label=_("Assign to"), queryset=User.objects.none(), required=False,
                                empty_label=_("Choose an agent"))
    status = forms.ChoiceField(label=_("Set status to"), required=False)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=255)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "bulk_%s")
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = agent_users()
        self.fields["status"].choices = [("", gettext("Choose a status"))] + [
            (s.value, gettext(LABELS[s])) for s in Status
            if s not in (Status.NEW, Status.ESCALATED, Status.ENGINEERING)
        ]
        # Any id is accepted here; the view keeps only the tickets the agent can see.
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(v, v) for v in raw if parse_id(v) is not None]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action == self.ASSIGN and not data.get("assignee"):
            self.add_error("assignee", gettext("Choose the agent to assign to."))
        if action == self.STATUS and not data.get("status"):
            self.add_error("status", gettext("Choose the status to set."))
        return data


class SavedFilterForm(forms.Form):
    name = forms.CharField(label=_("Filter name"), max_length=80)
    is_shared = forms.BooleanField(label=_("Share with everyone"), required=False)
    query = forms.CharField(required=False, max_length=900, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "sf_%s")
        super().__init__(*args, **kwargs)

    def clean_query(self) -> str:
        return clean_query(self.cleaned_data.get("query", ""))


def clean_query(query: str | QueryDict) -> str:
    """A queue query string without paging, empty values or the CSRF token."""
    params = query.copy() if isinstance(query, QueryDict) else QueryDict(query or "")
    out = QueryDict(mutable=True)
    for key in sorted(params):
        if key in NOT_SAVED_PARAMS:
            continue
        values = [v for v in params.getlist(key) if v.strip()]
        if values:
            out.setlist(key, values)
    return out.urlencode()


# --- new ticket on behalf of a customer ------------------------------------------------

class NewTicketForm(forms.Form):
    requester = forms.CharField(label=_("Requester (username or email)"), max_length=254)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices, initial=Channel.PHONE)
    subject = forms.CharField(label=_("Subject"), max_length=255)
    description = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 8}),
                                  help_text=_("Markdown."))
    priority = forms.TypedChoiceField(label=_("Priority"), choices=[("", _("Let the rules decide"))]
                                      + list(Priority.choices), coerce=int, required=False,
                                      empty_value=None)
    category = CachedModelChoiceField(label=_("Category"), queryset=Category.objects.all(),
                                      required=False, empty_label="—")
    product_area = CachedModelChoiceField(label=_("Product area"),
                                          queryset=ProductArea.objects.all(),
                                          required=False, empty_label="—")
    tags = forms.CharField(label=_("Tags"), required=False, max_length=500,
                           help_text=_("Comma-separated."))
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Picking a category (or product area) swaps in its ticket form's custom fields.
        swap = {"hx-get": reverse("agent:new_ticket_fields"), "hx-trigger": "change",
                "hx-target": "#custom-fields", "hx-swap": "innerHTML",
                "hx-include": "[name='category'],[name='product_area']"}
        for name in ("category", "product_area"):
            self.fields[name].widget.attrs.update(swap)

    def clean_requester(self) -> User:
        value = self.cleaned_data["requester"].strip()
        users = User.objects.filter(is_active=True)
        found = list(users.filter(username__iexact=value)[:2])
        if not found and "@" in value:
            found = list(users.filter(email__iexact=value)[:2])
        if not found:
            raise forms.ValidationError(gettext("No active user with that username or email."))
        if len(found) > 1:
            raise forms.ValidationError(gettext("Several users match; use the username."))
        return found[0]


for _form in (ReplyForm, TransitionForm, UpdateForm, EscalateForm, MergeForm, MacroForm,
              BulkForm, SavedFilterForm, NewTicketForm):
    use_fast_selects(_form.base_fields)
