"""Which language a page speaks: the signed-in user's choice, else the browser's
Accept-Language, else English; visitors can switch with the language picker."""
from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk.models import User

pytestmark = pytest.mark.django_db

GERMAN_HOME = "Wie können wir helfen?"
ENGLISH_HOME = "How can we help?"


def home(client, accept: str = "") -> str:
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
    response = client.get(reverse("knowledge:home"), **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_a_visitor_reads_the_language_their_browser_asks_for(client):
    response = client.get(reverse("knowledge:home"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    page = response.content.decode()
    assert GERMAN_HOME in page
    assert response["Content-Language"] == "de"
    assert ENGLISH_HOME in home(client, "fr-FR,en;q=0.5")  # no French: English
    assert ENGLISH_HOME in home(client)


def test_a_visitor_switches_language_with_the_picker(client):
    assert 'name="language"' in home(client)
    client.post(reverse("set_language"), {"language": "de", "next": "/help/"})
    assert GERMAN_HOME in home(client, "en")  # the choice wins over the browser


def test_the_users_own_choice_wins_over_the_browser(client, kunde, customer_a):
    client.force_login(kunde)  # chose German
    assert GERMAN_HOME in home(client, "en-GB,en;q=0.9")
    client.force_login(customer_a)  # chose nothing: the browser decides
    assert GERMAN_HOME in home(client, "de")
    customer_a.language = "en"
    customer_a.save()
    assert ENGLISH_HOME in home(client, "de")


def test_language_and_time_zone_are_set_on_the_preferences_page(client, customer_a):
    client.force_login(customer_a)
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert 'name="language"' in page and 'name="time_zone"' in page
    response = client.post(reverse("notifications:language"),
                           {"language": "de", "time_zone": "Europe/Berlin"}, follow=True)
    user = User.objects.get(pk=customer_a.pk)
    assert (user.language, user.time_zone) == ("de", "Europe/Berlin")
    page = response.content.decode()
    assert "Sprache und Zeitzone gespeichert." in page  # confirmed in the new language
    assert "<h1>Einstellungen</h1>" in page


def test_an_unknown_language_or_zone_is_refused_and_changes_nothing(client, customer_a):
    client.force_login(customer_a)
    for data in ({"language": "xx", "time_zone": "UTC"},
                 {"language": "de", "time_zone": "Mars/Olympus"}):
        assert client.post(reverse("notifications:language"), data).status_code == 400
    user = User.objects.get(pk=customer_a.pk)
    assert (user.language, user.time_zone) == ("", "UTC")


def test_nobody_sets_anyone_elses_language(client, customer_a, customer_b):
    """The form writes the signed-in user's own row; there is no id to tamper with."""
    client.force_login(customer_a)
    client.post(reverse("notifications:language"),
                {"language": "de", "time_zone": "UTC", "user": customer_b.pk,
                 "pk": customer_b.pk})
    assert User.objects.get(pk=customer_b.pk).language == ""
    assert User.objects.get(pk=customer_a.pk).language == "de"
