"""Help-center articles per language: each is indexed with its language's analysis and
found by readers of that language; readers of another language get the default-language
articles where theirs has none. Runs on SQLite (FTS5) and PostgreSQL (tsvector) alike."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from knowledge import search, services
from knowledge.models import Audience, SearchTerm
from tests.knowledge.conftest import publish

PUBLIC = (Audience.PUBLIC,)
pytestmark = pytest.mark.django_db


@pytest.fixture
def reset(db):
    original = publish("Reset your password", summary="Use the Forgot link on the login page.",
                       body="Open the login page and click Forgot password.")
    german = publish("Passwort zurücksetzen", language="de", translation_of=original,
                     summary="Nutzen Sie den Link „Passwort vergessen“ auf der Anmeldeseite.",
                     body="Öffnen Sie die Anmeldeseite und klicken Sie auf Passwort vergessen. "
                          "Wir senden Ihnen eine E-Mail mit einem Link.")
    english_only = publish("Export invoices to CSV", body="Billing > Invoices > Export.")
    return {"en": original, "de": german, "only_en": english_only}


def titles(result) -> list[str]:
    return [h.title for h in result.hits]


def test_a_german_reader_finds_german_articles_by_german_word_forms(reset):
    # "Passwörter" and "zurückgesetzt" are other forms of the title's words (German stems).
    result = search.search("Passwörter zurückgesetzt", audiences=PUBLIC, language="de")
    assert titles(result) == ["Passwort zurücksetzen"] and result.language == "de"
    result = search.search("Anmeldeseiten", audiences=PUBLIC, language="de")
    assert titles(result) == ["Passwort zurücksetzen"]


def test_search_runs_in_the_active_language_when_none_is_given(reset):
    with translation.override("de"):
        assert titles(search.search("Passwort", audiences=PUBLIC)) == ["Passwort zurücksetzen"]
    with translation.override("en"):
        assert titles(search.search("password", audiences=PUBLIC)) == ["Reset your password"]


def test_english_readers_never_get_german_articles(reset):
    # "passwort" is one letter from the English "password": corrected, but in English.
    assert titles(search.search("Passwort", audiences=PUBLIC, language="en")) == [
        "Reset your password"]
    assert search.search("Anmeldeseite", audiences=PUBLIC, language="en").hits == []


def test_a_german_reader_falls_back_to_the_default_language(reset):
    result = search.search("invoices csv", audiences=PUBLIC, language="de")
    assert titles(result) == ["Export invoices to CSV"] and result.language == "en"


def test_the_vocabulary_is_kept_per_language(reset):
    assert SearchTerm.objects.filter(language="de", word="anmeldeseite").exists()
    assert not SearchTerm.objects.filter(language="en", word="anmeldeseite").exists()
    # A typo is corrected from the reader's language only.
    result = search.search("Pasword zurucksetzen", audiences=PUBLIC, language="de")
    assert titles(result) == ["Passwort zurücksetzen"]


def test_lists_show_the_readers_translation_instead_of_the_original(client, reset):
    german = client.get(reverse("knowledge:home"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Passwort zurücksetzen" in german and "Reset your password" not in german
    assert "Export invoices to CSV" in german  # no German version: the original
    english = client.get(reverse("knowledge:home"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Reset your password" in english and "Passwort zurücksetzen" not in english


def test_an_article_links_its_other_languages(client, reset):
    page = client.get(reverse("knowledge:article", args=[reset["en"].slug])).content.decode()
    assert f'href="{reset["de"].get_absolute_url()}" hreflang="de"' in page


def test_the_search_page_says_when_results_fall_back(client, reset):
    page = client.get(reverse("knowledge:search"), {"q": "invoices"},
                      HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Export invoices to CSV" in page and "Standardsprache" in page


def test_the_portal_suggestions_come_in_the_customers_language(client, kunde, reset):
    client.force_login(kunde)
    page = client.get(reverse("knowledge:suggest"),
                      {"subject": "Passwort vergessen", "description": ""}).content.decode()
    assert "Passwort zurücksetzen" in page and "Reset your password" not in page


def test_one_translation_per_language(reset):
    with pytest.raises(ValidationError):
        services.create_article(title="Passwort neu setzen", author=None, language="de",
                                translation_of=reset["en"])
    with pytest.raises(ValidationError):
        services.create_article(title="Zurücksetzen", author=None, language="xx")
