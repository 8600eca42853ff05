"""Input shapes of the incident pages; the rules live in incidents.services."""
from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from helpdesk import ids
from helpdesk.models import User
from helpdesk.web import DateInput
from tickets.state_machine import Status as TicketStatus

from .models import ActionItem, EntryKind, RoleKind, Severity, Status, UpdateKind
from .severity import IMPACT_LABELS, USERS_LABELS

LEVEL_CHOICES = [("", _("As suggested by the matrix"))] + [(str(n), f"SEV{n}") for n in range(1, 6)]


def agents() -> Any:
    return (User.objects.filter(is_active=True, groups__permissions__codename="work_ticket")
            .distinct().order_by("first_name", "username"))


class DeclareForm(forms.Form):
    title = forms.CharField(max_length=200, label=_("Title"),
                            help_text=_("Shown on the public status page."))
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                  label=_("Internal description"))
    users_affected = forms.ChoiceField(choices=[(k.value, v) for k, v in USERS_LABELS.items()],
                                       widget=forms.RadioSelect, label=_("Users affected"))
    impact = forms.ChoiceField(choices=[(k.value, v) for k, v in IMPACT_LABELS.items()],
                               widget=forms.RadioSelect, label=_("Impact"))
    level = forms.TypedChoiceField(choices=LEVEL_CHOICES, coerce=int, empty_value=None,
                                   required=False, label=_("Severity"))
    reason = forms.CharField(max_length=255, required=False,
                             label=_("Reason for overriding the matrix"))
    keywords = forms.CharField(max_length=255, required=False, label=_("Keywords"),
                               help_text=_("Comma-separated; new tickets mentioning one are "
                                           "suggested for linking."))
    is_public = forms.BooleanField(required=False, initial=True,
                                   label=_("Show on the public status page"))
    tickets = forms.CharField(required=False, widget=forms.HiddenInput)


class EntryForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k.value, k.label) for k in
                                      (EntryKind.NOTE, EntryKind.DECISION, EntryKind.ACTION)],
                             label=_("Kind"))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label=_("Entry"))


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=[c for c in Status.choices if c[0] != Status.RESOLVED],
                               label=_("Status"))
    note = forms.CharField(max_length=500, required=False, label=_("Note"))


class SeverityForm(forms.Form):
    level = forms.ModelChoiceField(Severity.objects.all(), to_field_name="level",
                                   empty_label=None, label=_("New severity"))
    reason = forms.CharField(max_length=255, label=_("Reason"))


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=RoleKind.choices, label=_("Role"))
    user = forms.ModelChoiceField(queryset=User.objects.none(), label=_("Person"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = agents()


class LinkForm(forms.Form):
    tickets = forms.CharField(max_length=2000, label=_("Ticket numbers"),
                              help_text=_("e.g. 12, 15 #18"))

    def ticket_ids(self) -> list[int]:
        return parse_ids(self.cleaned_data["tickets"])


def parse_ids(raw: str) -> list[int]:
    """Ticket numbers in free text; one past the database's range names no ticket."""
    return sorted(ids.parse_ids(re.findall(r"\d+", raw or "")))[:1000]


class UpdateForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k.value, k.label) for k in
                                      (UpdateKind.INITIAL, UpdateKind.UPDATE)],
                             label=_("Kind"))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), label=_("Message"))


class ResolveForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), label=_("Resolution message"))
    ticket_status = forms.ChoiceField(
        choices=[(TicketStatus.RESOLVED.value, _("Resolved")),
                 (TicketStatus.WAITING_ON_CUSTOMER.value, _("Waiting on customer"))],
        label=_("Move linked tickets to"))


class ReviewForm(forms.Form):
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                              label=_("Summary"))
    timeline = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False,
                               label=_("Timeline"))
    impact = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), required=False,
                             label=_("Impact"))
    root_cause = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                                 label=_("Root cause"))
    went_well = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                label=_("What went well"))
    to_improve = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                 label=_("What to improve"))


class ActionForm(forms.Form):
    title = forms.CharField(max_length=255, label=_("Action"))
    owner = forms.ModelChoiceField(queryset=User.objects.none(), required=False,
                                   label=_("Owner"))
    due_date = forms.DateField(required=False, widget=DateInput, label=_("Due date"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = agents()


class ActionStateForm(forms.Form):
    state = forms.ChoiceField(choices=ActionItem.State.choices, label=_("Status"))
