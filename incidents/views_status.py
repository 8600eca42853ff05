"""The public status page and its Atom feed: no login, briefly cached, rate limited.

Only public updates are read here; internal timeline entries never reach these pages.
"""
from __future__ import annotations

from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import cache_page
from django.views.decorators.http import require_GET

from helpdesk import throttle
from tickets.rendering import render_markdown

from . import selectors
from .models import PublicUpdate

CACHE_SECONDS = 30
RATE_LIMIT = 120  # requests per minute and client


def _throttled(request: HttpRequest) -> HttpResponse | None:
    if throttle.exceeded("status", request, RATE_LIMIT):
        return HttpResponse(gettext("Too many requests."), status=429, content_type="text/plain")
    throttle.hit("status", request)
    return None


@require_GET
def status_page(request: HttpRequest) -> HttpResponse:
    if (limited := _throttled(request)) is not None:
        return limited
    return _status_page_cached(request)


@cache_page(CACHE_SECONDS)
def _status_page_cached(request: HttpRequest) -> HttpResponse:
    active, recent = selectors.status_page()
    return render(request, "incidents/status/page.html", {"active": active, "recent": recent})


@require_GET
def incident(request: HttpRequest, pk: int) -> HttpResponse:
    if (limited := _throttled(request)) is not None:
        return limited
    return _incident_cached(request, pk)


@cache_page(CACHE_SECONDS)
def _incident_cached(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "incidents/status/incident.html",
                  {"incident": selectors.public_incident(pk)})


class UpdatesFeed(Feed):
    feed_type = Atom1Feed
    title = gettext_lazy("Service status")
    subtitle = gettext_lazy("Public updates on incidents.")

    def link(self) -> str:
        return reverse("status:page")

    def items(self) -> list[PublicUpdate]:
        return list(selectors.public_updates().select_related("incident")[:50])

    def item_title(self, item: PublicUpdate) -> str:
        return f"{item.incident.title}: {item.get_kind_display()} ({item.get_status_display()})"

    def item_description(self, item: PublicUpdate) -> str:
        return render_markdown(item.body)

    def item_link(self, item: PublicUpdate) -> str:
        return reverse("status:incident", args=[item.incident_id]) + f"#update-{item.pk}"

    def item_pubdate(self, item: PublicUpdate):
        return item.created_at

    def item_updateddate(self, item: PublicUpdate):
        return item.created_at


@require_GET
def feed(request: HttpRequest) -> HttpResponse:
    if (limited := _throttled(request)) is not None:
        return limited
    return cache_page(CACHE_SECONDS)(UpdatesFeed())(request)
