"""Input shapes of the incident pages; the rules live in incidents.services."""
from __future__ import annotations

import re
from typing import Any

from django import forms

from helpdesk import ids
from helpdesk.models import User
from helpdesk.web import DateInput
from tickets.state_machine import Status as TicketStatus

from .models import ActionItem, EntryKind, RoleKind, Severity, Status, UpdateKind
from .severity import IMPACT_LABELS, USERS_LABELS

LEVEL_CHOICES = [("", "As suggested by the matrix")] + [(str(n), f"SEV{n}") for n in range(1, 6)]


def agents() -> Any:
    return (User.objects.filter(is_active=True, groups__permissions__codename="work_ticket")
            .distinct().order_by("first_name", "username"))


class DeclareForm(forms.Form):
    title = forms.CharField(max_length=200, help_text="Shown on the public status page.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                  label="Internal description")
    users_affected = forms.ChoiceField(choices=[(k.value, v) for k, v in USERS_LABELS.items()],
                                       widget=forms.RadioSelect, label="Users affected")
    impact = forms.ChoiceField(choices=[(k.value, v) for k, v in IMPACT_LABELS.items()],
                               widget=forms.RadioSelect)
    level = forms.TypedChoiceField(choices=LEVEL_CHOICES, coerce=int, empty_value=None,
                                   required=False, label="Severity")
    reason = forms.CharField(max_length=255, required=False,
                             label="Reason for overriding the matrix")
    keywords = forms.CharField(max_length=255, required=False,
                               help_text="Comma-separated; new tickets mentioning one are "
                                         "suggested for linking.")
    is_public = forms.BooleanField(required=False, initial=True,
                                   label="Show on the public status page")
    tickets = forms.CharField(required=False, widget=forms.HiddenInput)


class EntryForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k.value, k.label) for k in
                                      (EntryKind.NOTE, EntryKind.DECISION, EntryKind.ACTION)])
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Entry")


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[c for c in Status.choices if c[0] != Status.RESOLVED])
    note = forms.CharField(max_length=500, required=False)


class SeverityForm(forms.Form):
    level = forms.ModelChoiceField(Severity.objects.all(), to_field_name="level",
                                   empty_label=None, label="New severity")
    reason = forms.CharField(max_length=255)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=RoleKind.choices)
    user = forms.ModelChoiceField(queryset=User.objects.none(), label="Person")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = agents()


class LinkForm(forms.Form):
    tickets = forms.CharField(max_length=2000, label="Ticket numbers",
                              help_text="e.g. 12, 15 #18")

    def ticket_ids(self) -> list[int]:
        return parse_ids(self.cleaned_data["tickets"])


def parse_ids(raw: str) -> list[int]:
    """Ticket numbers in free text; one past the database's range names no ticket."""
    return sorted(ids.parse_ids(re.findall(r"\d+", raw or "")))[:1000]


class UpdateForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k.value, k.label) for k in
                                      (UpdateKind.INITIAL, UpdateKind.UPDATE)])
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), label="Message")


class ResolveForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), label="Resolution message")
    ticket_status = forms.ChoiceField(
        choices=[(TicketStatus.RESOLVED.value, "Resolved"),
                 (TicketStatus.WAITING_ON_CUSTOMER.value, "Waiting on customer")],
        label="Move linked tickets to")


class ReviewForm(forms.Form):
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    timeline = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False)
    impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False)
    root_cause = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    went_well = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                label="What went well")
    to_improve = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                 label="What to improve")


class ActionForm(forms.Form):
    title = forms.CharField(max_length=255, label="Action")
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    due_date = forms.DateField(required=False, widget=DateInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = agents()


class ActionStateForm(forms.Form):
    state = forms.ChoiceField(choices=ActionItem.State.choices)
