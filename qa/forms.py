"""QA forms: the scorecard (built from a scorecard version), disputes, coaching, calibration."""
from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from helpdesk.ids import parse_id
from helpdesk.models import Team, User
from helpdesk.roles import Role

from .models import Dispute, Review, Scorecard
from .services import ScoreInput

NOT_APPLICABLE = "na"


def _ints(values: list[str]) -> set[int]:
    out = set()
    for v in values:
        try:
            out.add(int(v))
        except (TypeError, ValueError) as exc:
            raise ValidationError(_("Invalid choice.")) from exc
    return out


def parse_scores(card: Scorecard, data: QueryDict) -> ScoreInput:
    """The scorecard form's fields: level_<dimension id> (a level id or "na"),
    comment_<dimension id>, auto_fail and checklist (item ids), summary."""
    result = ScoreInput(summary=data.get("summary", "")[:10000])
    for dim_id in card.dimensions.values_list("pk", flat=True):
        raw = data.get(f"level_{dim_id}", "")
        if raw == NOT_APPLICABLE:
            result.not_applicable.add(dim_id)
        elif raw:
            try:
                result.levels[dim_id] = int(raw)
            except ValueError as exc:
                raise ValidationError(_("Invalid level.")) from exc
        comment = data.get(f"comment_{dim_id}", "")
        if comment:
            result.comments[dim_id] = comment[:5000]
    result.auto_fail = _ints(data.getlist("auto_fail"))
    result.checklist = _ints(data.getlist("checklist"))
    return result


class DisputeForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=5000,
        label=_("What do you disagree with?"),
        help_text=_("Point at the dimension and what in the conversation supports your view."))


class ResolveForm(forms.Form):
    outcome = forms.ChoiceField(choices=Dispute.Outcome.choices, widget=forms.RadioSelect,
                                label=_("Decision"))
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=5000,
                           label=_("Explanation for the agent"))


class CoachingForm(forms.Form):
    agent = forms.ModelChoiceField(queryset=User.objects.none(), label=_("Agent"))
    held_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label=_("Date"))
    strengths = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                                label=_("Strengths"),
                                help_text=_("Lead with positives: specific examples."))
    development_focus = forms.CharField(max_length=200, label=_("Development focus"),
                                        help_text=_("One specific area."))
    goals = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                            required=False, label=_("Goals"),
                            help_text=_("Specific, measurable goals."))
    follow_up_on = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}),
                                   required=False, label=_("Follow-up date"))
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                            required=False, label=_("Notes"))
    reviews = forms.ModelMultipleChoiceField(queryset=Review.objects.none(), required=False,
                                             widget=forms.CheckboxSelectMultiple,
                                             label=_("Reviews"),
                                             help_text=_("Reviews discussed in this session."))

    def __init__(self, *args: Any, coach: User, agent: User | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = (
            User.objects.filter(is_active=True, groups__name=Role.AGENT).exclude(pk=coach.pk)
            .distinct().order_by("first_name", "username"))
        chosen = agent
        if chosen is None and self.is_bound:
            chosen = User.objects.filter(pk=self.data.get("agent") or 0).first()
        if chosen is not None:
            # The agent's submitted reviews: a coaching session discusses recent ones.
            self.fields["reviews"].queryset = Review.objects.filter(
                agent=chosen, submitted_at__isnull=False).select_related("ticket").order_by(
                "-submitted_at")
        self.fields["reviews"].label_from_instance = (
            lambda r: f"#{r.ticket_id} {r.ticket.subject} — {r.score}")


class CalibrationForm(forms.Form):
    title = forms.CharField(max_length=200, label=_("Title"))
    participants = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), widget=forms.CheckboxSelectMultiple,
        label=_("Participants"), help_text=_("At least two reviewers; they score blind."))
    tickets = forms.CharField(
        required=False, max_length=500, label=_("Ticket numbers"),
        help_text=_("Comma-separated, e.g. 12, 40, 57. Empty: 3 recently resolved tickets "
                    "picked at random across categories and priorities."))

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["participants"].queryset = (
            User.objects.filter(is_active=True).filter(
                groups__permissions__codename="review_tickets",
                groups__permissions__content_type__app_label="qa")
            .distinct().order_by("first_name", "username"))

    def clean_tickets(self) -> list[int]:
        raw = self.cleaned_data.get("tickets", "")
        ids = []
        for part in raw.replace(";", ",").split(","):
            part = part.strip().lstrip("#")
            if not part:
                continue
            number = parse_id(part)
            if number is None:
                raise ValidationError(_("“%(part)s” is not a ticket number.") % {"part": part})
            ids.append(number)
        return ids


class DashboardForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                            label=_("From"))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}),
                          label=_("To (inclusive)"))
    team = forms.ModelChoiceField(Team.objects.all(), required=False, empty_label=_("All teams"),
                                  label=_("Team"))
    dimension = forms.ChoiceField(required=False, choices=[], label=_("Dimension"))

    def __init__(self, *args: Any, dimensions: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["dimension"].choices = [("", _("All dimensions"))] + [
            (d, d) for d in dimensions]
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("id", f"filter_{name}")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise ValidationError(_("The end of the period is before its start."))
        return data
