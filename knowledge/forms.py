"""Forms of the knowledge app: shapes of input only; the services decide the rest."""
from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tickets.models import Category, ProductArea

from .models import (
    Article,
    ArticleTemplate,
    Audience,
    FlagKind,
    Section,
    VoteReason,
    default_language,
)


class NewArticleForm(forms.Form):
    title = forms.CharField(max_length=200, label=_("Title"))
    template = forms.ChoiceField(choices=ArticleTemplate.choices,
                                 initial=ArticleTemplate.HOWTO, label=_("Template"),
                                 help_text=_("The article starts from this structure."))
    section = forms.ModelChoiceField(Section.objects.all(), required=False, label=_("Section"))
    audience = forms.ChoiceField(choices=Audience.choices, initial=Audience.PUBLIC,
                                 label=_("Audience"))
    language = forms.ChoiceField(choices=settings.LANGUAGES, initial=default_language,
                                 required=False, label=_("Language"))
    translation_of = forms.ModelChoiceField(
        Article.objects.filter(translation_of__isnull=True), required=False,
        label=_("Translation of (article number)"), widget=forms.NumberInput,
        help_text=_("The article this one translates, if any."))
    category = forms.ModelChoiceField(Category.objects.all(), required=False,
                                      label=_("Ticket category it answers"))
    product_area = forms.ModelChoiceField(ProductArea.objects.all(), required=False,
                                          label=_("Product area"))


class EditArticleForm(forms.Form):
    title = forms.CharField(max_length=200, label=_("Title"))
    summary = forms.CharField(label=_("Quick answer"), max_length=500, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 18}),
                           label=_("Body"), help_text=_("Markdown."))
    note = forms.CharField(label=_("What changed"), max_length=255, required=False)


class ArticleSettingsForm(forms.ModelForm):
    class Meta:
        model = Article
        fields = ["section", "audience", "language", "translation_of", "category",
                  "product_area", "tags", "owner", "review_interval_days", "related"]
        widgets = {"translation_of": forms.NumberInput}
        labels = {"section": _("Section"), "audience": _("Audience"), "language": _("Language"),
                  "translation_of": _("Translation of (article number)"),
                  "category": _("Ticket category it answers"), "product_area": _("Product area"),
                  "tags": _("Tags"), "owner": _("Owner"),
                  "review_interval_days": _("Review interval (days)"),
                  "related": _("Related articles")}
        help_texts = {"tags": _("Comma-separated."),
                      "category": _("The ticket category this article answers (coverage).")}

    def clean_translation_of(self) -> Article | None:
        original = self.cleaned_data.get("translation_of")
        if original is not None and original.pk == self.instance.pk:
            raise forms.ValidationError(_("An article cannot translate itself."))
        return original


class VoteForm(forms.Form):
    helpful = forms.TypedChoiceField(choices=[("1", _("Yes")), ("0", _("No"))],
                                     coerce=lambda v: v == "1", label=_("Was this helpful?"))
    reason = forms.ChoiceField(choices=VoteReason.choices, required=False, label=_("Reason"))
    comment = forms.CharField(max_length=500, required=False, label=_("Comment"))


class FlagForm(forms.Form):
    article = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=FlagKind.choices, label=_("This article is"))
    note = forms.CharField(max_length=2000, required=False, label=_("What is wrong?"))
