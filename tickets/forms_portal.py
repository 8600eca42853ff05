"""Customer portal forms: they check the shape of the input; the services decide the rest."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.functional import lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk.web import problem

from .models import Category, ProductArea

PAGE_SIZE = 20


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Zero or more uploaded files; size, count and type are checked by the service."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": _accept_attr()}))
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", _attachment_help())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data if item]
        return [single(data, initial)] if data else []


def _accept_attr() -> str:
    return ",".join(f".{ext}" for ext in settings.HELPDESK_ALLOWED_ATTACHMENT_EXTENSIONS)


def _attachment_help_text() -> str:
    return _("Optional. Up to %(count)s files, %(mb)s MB each (screenshots, logs, PDF, "
             "HAR…).") % {"count": settings.HELPDESK_MAX_ATTACHMENTS_PER_MESSAGE,
                          "mb": settings.HELPDESK_MAX_ATTACHMENT_BYTES // (1024 * 1024)}


# Lazy: the help text is read when the form renders, in the reader's language.
_attachment_help = lazy(_attachment_help_text, str)


class NewTicketForm(forms.Form):
    subject = forms.CharField(
        label=gettext_lazy("Subject"), max_length=255,
        help_text=gettext_lazy("A short summary, e.g. “Export to CSV fails with error 500”."),
    )
    description = forms.CharField(
        label=gettext_lazy("Description"), widget=forms.Textarea(attrs={"rows": 10}),
        help_text=gettext_lazy("What happened, what you expected, and the steps to reproduce. "
                        "Markdown is supported."),
    )
    category = forms.ModelChoiceField(
        queryset=Category.objects.all(), required=False, empty_label=gettext_lazy("Not sure"),
        label=gettext_lazy("Category"),
    )
    product_area = forms.ModelChoiceField(
        queryset=ProductArea.objects.all(), required=False, empty_label=gettext_lazy("Not sure"),
        label=gettext_lazy("Product area"),
    )
    attachments = MultipleFileField(label=gettext_lazy("Attachments"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Picking a category (or product area) swaps in its ticket form's custom fields.
        swap = {"hx-get": reverse("portal:custom_fields_form"), "hx-trigger": "change",
                "hx-target": "#custom-fields", "hx-swap": "innerHTML",
                "hx-include": "[name='category'],[name='product_area']"}
        for name in ("category", "product_area"):
            self.fields[name].widget.attrs.update(swap)


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Your reply"), required=False,
        widget=forms.Textarea(attrs={"rows": 6, "data-shortcut": "reply"}),
        help_text=gettext_lazy("Markdown is supported."),
    )
    attachments = MultipleFileField(label=gettext_lazy("Attachments"))

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("body") or "").strip() and not cleaned.get("attachments"):
            self.add_error("body", _("Write a message or attach a file."))
        return cleaned


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why are you reopening this request?"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Tell us what still does not work, so we can pick it up quickly."),
    )


class TicketFilterForm(forms.Form):
    """The list's filters; unknown values fall back to the defaults instead of erroring."""

    STATUS_CHOICES = [("all", gettext_lazy("All")), ("open", gettext_lazy("Open")),
                      ("solved", gettext_lazy("Solved or closed"))]
    SCOPE_CHOICES = [("organization", gettext_lazy("Everyone in my organization")),
                     ("own", gettext_lazy("Only mine"))]

    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, label=gettext_lazy("Status"))
    scope = forms.ChoiceField(choices=SCOPE_CHOICES, required=False,
                              label=gettext_lazy("Requests of"))

    def __init__(self, *args, show_scope: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not show_scope:
            del self.fields["scope"]

    def value(self, name: str) -> str:
        default = self.fields[name].choices[0][0] if name in self.fields else "own"
        if not self.is_valid():
            return default
        return self.cleaned_data.get(name) or default


def add_service_error(form: forms.Form, exc: Exception, *, field: str | None = None) -> None:
    """Show an error raised by a service on the form, on the field it names if any."""
    if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
        return
    if isinstance(exc, ValidationError):
        form.add_error(field, exc.messages)
    elif isinstance(exc, PermissionDenied):
        form.add_error(None, str(exc) or _("You cannot do this on this request."))
    else:  # a refused transition: its text in the reader's language
        form.add_error(field, problem(exc))
