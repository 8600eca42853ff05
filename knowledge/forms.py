"""Forms of the knowledge app: shapes of input only; the services decide the rest."""
from __future__ import annotations

from django import forms
from django.conf import settings

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
    title = forms.CharField(max_length=200)
    template = forms.ChoiceField(choices=ArticleTemplate.choices,
                                 initial=ArticleTemplate.HOWTO,
                                 help_text="The article starts from this structure.")
    section = forms.ModelChoiceField(Section.objects.all(), required=False)
    audience = forms.ChoiceField(choices=Audience.choices, initial=Audience.PUBLIC)
    language = forms.ChoiceField(choices=settings.LANGUAGES, initial=default_language,
                                 required=False)
    translation_of = forms.ModelChoiceField(
        Article.objects.filter(translation_of__isnull=True), required=False,
        label="Translation of (article number)", widget=forms.NumberInput,
        help_text="The article this one translates, if any.")
    category = forms.ModelChoiceField(Category.objects.all(), required=False,
                                      label="Ticket category it answers")
    product_area = forms.ModelChoiceField(ProductArea.objects.all(), required=False)


class EditArticleForm(forms.Form):
    title = forms.CharField(max_length=200)
    summary = forms.CharField(label="Quick answer", max_length=500, required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 18}),
                           help_text="Markdown.")
    note = forms.CharField(label="What changed", max_length=255, required=False)


class ArticleSettingsForm(forms.ModelForm):
    class Meta:
        model = Article
        fields = ["section", "audience", "language", "translation_of", "category",
                  "product_area", "tags", "owner", "review_interval_days", "related"]
        widgets = {"translation_of": forms.NumberInput}

    def clean_translation_of(self) -> Article | None:
        original = self.cleaned_data.get("translation_of")
        if original is not None and original.pk == self.instance.pk:
            raise forms.ValidationError("An article cannot translate itself.")
        return original


class VoteForm(forms.Form):
    helpful = forms.TypedChoiceField(choices=[("1", "Yes"), ("0", "No")],
                                     coerce=lambda v: v == "1")
    reason = forms.ChoiceField(choices=VoteReason.choices, required=False)
    comment = forms.CharField(max_length=500, required=False)


class FlagForm(forms.Form):
    article = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=FlagKind.choices)
    note = forms.CharField(max_length=2000, required=False)
