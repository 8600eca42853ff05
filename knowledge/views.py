"""Help center pages (public), the new-ticket suggestions, the agent panel's actions, and
the knowledge workspace for agents (editor, freshness, dashboard, search reports).

Anything a reader may not see is a 404. Public endpoints are rate limited per client.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import throttle
from helpdesk.web import agent_required
from tickets.selectors import get_ticket_for

from . import conf, deflection, search, selectors, services
from .forms import ArticleSettingsForm, EditArticleForm, FlagForm, NewArticleForm, VoteForm
from .models import Article, ArticleStatus, FlagKind, SearchSource, Section, Visit

VISIT_COOKIE = "kb_visit"
SEARCH_LIMIT = 10
SEARCH_RATE = 120  # per client and minute
VOTE_RATE = 30


# --- visits -----------------------------------------------------------------------------

def _visit(request: HttpRequest) -> Visit | None:
    """The reader's help-center visit; agents are not tracked (they would skew the figures)."""
    if hasattr(request, "_kb_visit"):
        return request._kb_visit
    visit = None
    if not (request.user.is_authenticated and request.user.is_agent):
        visit = services.touch_visit(request.COOKIES.get(VISIT_COOKIE), user=request.user)
    request._kb_visit = visit
    return visit


def tracked(view: Callable) -> Callable:
    """Set the visit cookie on the response when the view used the visit."""
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with services.analytics_atomic():
            response = view(request, *args, **kwargs)
        visit = getattr(request, "_kb_visit", None)
        if visit is not None and request.COOKIES.get(VISIT_COOKIE) != str(visit.key):
            response.set_cookie(VISIT_COOKIE, str(visit.key), max_age=30 * 86400,
                                httponly=True, samesite="Lax", secure=request.is_secure())
        return response
    return wrapper


def throttled(scope: str, limit: int) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if throttle.exceeded(scope, request, limit):
                return HttpResponse("Too many requests, please slow down.", status=429)
            throttle.hit(scope, request)
            return view(request, *args, **kwargs)
        return wrapper
    return decorator


def _can_manage(user) -> bool:
    return user.is_authenticated and user.is_agent and user.has_perm("knowledge.change_article")


def manager_required(view: Callable) -> Callable:
    @agent_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not _can_manage(request.user):
            raise Http404("Not found")
        return view(request, *args, **kwargs)
    return wrapper


def _new_ticket_url(*, subject: str = "", description: str = "") -> str:
    """"Still need help?": the ticket form, carrying what the reader searched for."""
    params = {k: v for k, v in (("subject", subject), ("description", description)) if v}
    return reverse("portal:new_ticket") + ("?" + urlencode(params) if params else "")


# --- help center ---------------------------------------------------------------------------

@require_GET
def home(request: HttpRequest) -> HttpResponse:
    sections = (Section.objects.filter(parent__isnull=True)
                .prefetch_related("children").order_by("position", "name"))
    popular = (selectors.for_reader(selectors.visible_articles(request.user))
               .only("id", "slug", "title", "summary").order_by("-view_count", "title")[:8])
    return render(request, "knowledge/home.html", {"sections": sections, "popular": popular})


@require_GET
@throttled("kb-search", SEARCH_RATE)
@tracked
def search_view(request: HttpRequest) -> HttpResponse:
    text = request.GET.get("q", "")[:200]
    result = search.search(text, audiences=search.audiences_for(request.user),
                           limit=SEARCH_LIMIT)
    log = None
    if result.query:
        log = services.log_search(visit=_visit(request), text=text,
                                  result_count=len(result), source=SearchSource.HELP_CENTER)
    context = {"q": text, "result": result, "search_id": log.pk if log else "",
               "still_need_help": _new_ticket_url(subject=text)}
    template = "knowledge/_results.html" if request.htmx else "knowledge/search.html"
    return render(request, template, context)


@require_GET
def section(request: HttpRequest, slug: str) -> HttpResponse:
    node = get_object_or_404(Section.objects.select_related("parent", "parent__parent"),
                             slug=slug)
    articles = (selectors.for_reader(selectors.visible_articles(request.user))
                .filter(section=node).only("id", "slug", "title", "summary").order_by("title"))
    page = Paginator(articles, 50).get_page(request.GET.get("page"))
    return render(request, "knowledge/section.html", {
        "section": node, "children": node.children.all(), "page_obj": page,
    })


@require_GET
@tracked
def article(request: HttpRequest, slug: str) -> HttpResponse:
    item = selectors.get_article_for(request.user, slug)
    visit = _visit(request)
    try:
        search_id = int(request.GET.get("s", ""))
    except ValueError:
        search_id = None
    services.record_view(visit=visit, article=item, search_id=search_id)
    query = ""
    if visit is not None and visit.first_query:
        query = visit.first_query
    return render(request, "knowledge/article.html", {
        "article": item,
        "related": selectors.related_articles(item, request.user),
        "translations": selectors.translations_of(item, request.user),
        "vote_form": VoteForm(),
        "voted": None,
        "solved": bool(visit and visit.solved_at),
        "still_need_help": _new_ticket_url(
            subject=query or item.title,
            description=_("I read “%(title)s” in the help center but still need help.")
            % {"title": item.title} + "\n\n"),
        "can_manage": _can_manage(request.user),
    })


@require_POST
@throttled("kb-vote", VOTE_RATE)
@tracked
def vote(request: HttpRequest, slug: str) -> HttpResponse:
    item = selectors.get_article_for(request.user, slug)
    form = VoteForm(request.POST)
    visit = _visit(request)
    voted = None
    if form.is_valid() and visit is not None:
        try:
            voted = services.vote(visit=visit, article=item, user=request.user,
                                  helpful=form.cleaned_data["helpful"],
                                  reason=form.cleaned_data["reason"] or "",
                                  comment=form.cleaned_data["comment"])
        except ValidationError as exc:
            form.add_error(None, exc)
    context = {"article": item, "vote_form": form, "voted": voted}
    if request.htmx:
        return render(request, "knowledge/_vote.html", context)
    if voted:
        messages.success(request, _("Thanks for your feedback."))
    return redirect(item.get_absolute_url())


@require_POST
@throttled("kb-vote", VOTE_RATE)
@tracked
def solved(request: HttpRequest) -> HttpResponse:
    """"This solved my problem" (from an article or from the ticket form's suggestions)."""
    visit = _visit(request)
    item = None
    if slug := request.POST.get("article"):
        item = selectors.get_article_for(request.user, slug)
    if visit is not None:
        services.mark_solved(visit=visit, article=item)
    if request.htmx:
        return render(request, "knowledge/_solved.html", {"article": item})
    messages.success(request, _("Great, glad that helped!"))
    return redirect(item.get_absolute_url() if item else reverse("knowledge:home"))


@require_GET
@throttled("kb-search", SEARCH_RATE)
@tracked
def suggestions(request: HttpRequest) -> HttpResponse:
    """Articles for the ticket being written (htmx, below the portal's new-ticket form)."""
    subject = request.GET.get("subject", "")[:255]
    description = request.GET.get("description", "")[:2000]
    result = search.SearchResult(query="")
    log = None
    if subject.strip() or description.strip():
        result = search.suggest(subject, description,
                                audiences=search.audiences_for(request.user))
        if subject.strip():
            log = services.log_search(visit=_visit(request), text=subject,
                                      result_count=len(result), source=SearchSource.SUGGESTION)
    return render(request, "knowledge/_suggestions.html", {
        "result": result, "search_id": log.pk if log else "",
    })


@require_GET
def sitemap(request: HttpRequest) -> HttpResponse:
    """Public published articles only (what search engines may index)."""
    from django.contrib.sitemaps.views import sitemap as sitemap_view

    from .sitemaps import ArticleSitemap

    return sitemap_view(request, {"articles": ArticleSitemap},
                        template_name="knowledge/sitemap.xml")


# --- agent ticket panel ------------------------------------------------------------------

@agent_required
@require_GET
def panel_search(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_ticket_for(request.user, pk)
    text = request.GET.get("q", "")[:200]
    if text.strip():
        result = search.search(text, audiences=search.audiences_for(request.user), limit=8)
        services.log_search(visit=None, text=text, result_count=len(result),
                            source=SearchSource.AGENT)
    else:
        result = search.suggest(ticket.subject, ticket.description,
                                audiences=search.audiences_for(request.user))
    return render(request, "knowledge/_panel_results.html", {
        "ticket": ticket, "result": result, "flag_form": FlagForm(),
        "base_url": request.build_absolute_uri("/")[:-1],
    })


@agent_required
@require_POST
def flag(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_ticket_for(request.user, pk)
    form = FlagForm(request.POST)
    if not form.is_valid():
        return HttpResponse(_("Choose wrong or outdated."), status=400)
    item = get_object_or_404(selectors.visible_articles(request.user),
                             pk=form.cleaned_data["article"])
    services.flag_article(item, reporter=request.user, kind=form.cleaned_data["kind"],
                          note=form.cleaned_data["note"], ticket=ticket)
    text = _("Thanks: “%(title)s” was flagged as %(kind)s; its owner is told.") % {
        "title": item.title, "kind": str(FlagKind(form.cleaned_data["kind"]).label).lower()}
    if request.htmx:
        return HttpResponse(f'<p class="flash flash-success" role="status">'
                            f'{_escape(text)}</p>')
    messages.success(request, text)
    return redirect("agent:ticket", pk=ticket.pk)


def _escape(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


@manager_required
@require_POST
def draft_from_ticket(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_ticket_for(request.user, pk)
    try:
        item = services.draft_from_ticket(ticket, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("agent:ticket", pk=ticket.pk)
    messages.success(request,
                     _("Draft article created from the ticket; edit it before publishing."))
    return redirect("knowledge:edit", pk=item.pk)


# --- knowledge workspace (agents) ------------------------------------------------------------

@manager_required
@require_GET
def manage(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    qs = Article.objects.select_related("owner", "section").only(
        "id", "slug", "title", "status", "audience", "updated_at", "review_due_on",
        "owner__id", "owner__username", "owner__first_name", "owner__last_name",
        "section__id", "section__name").order_by("-updated_at", "-id")
    if status in ArticleStatus.values:
        qs = qs.filter(status=status)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "knowledge/manage/list.html", {
        "page_obj": page, "status": status, "statuses": ArticleStatus.choices,
        "new_form": NewArticleForm(),
    })


@manager_required
@require_POST
def new_article(request: HttpRequest) -> HttpResponse:
    form = NewArticleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the article a title and a template."))
        return redirect("knowledge:manage")
    data = form.cleaned_data
    item = services.create_article(
        title=data["title"], author=request.user, template=data["template"],
        section=data["section"], audience=data["audience"], category=data["category"],
        product_area=data["product_area"], language=data["language"] or None,
        translation_of=data["translation_of"])
    return redirect("knowledge:edit", pk=item.pk)


@manager_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(Article.objects.select_related("owner", "section"), pk=pk)
    draft = services.open_version(item)
    source = draft or item
    form = EditArticleForm(initial={"title": source.title, "summary": source.summary,
                                    "body": source.body})
    settings_form = ArticleSettingsForm(instance=item)
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action in ("save", "review", "publish"):
                form = EditArticleForm(request.POST)
                if form.is_valid():
                    d = form.cleaned_data
                    services.save_draft(item, author=request.user, title=d["title"],
                                        summary=d["summary"], body=d["body"], note=d["note"])
                    if action == "review":
                        services.submit_for_review(item, actor=request.user)
                    if action == "publish":
                        services.publish(item, actor=request.user)
                    messages.success(request, {"save": _("Draft saved."),
                                               "review": _("Sent for review."),
                                               "publish": _("Published.")}[action])
                    return redirect("knowledge:edit", pk=item.pk)
            elif action == "settings":
                settings_form = ArticleSettingsForm(request.POST, instance=item)
                if settings_form.is_valid():
                    settings_form.save()
                    messages.success(request, _("Settings saved."))
                    return redirect("knowledge:edit", pk=item.pk)
            elif action == "discard":
                services.discard_draft(item, actor=request.user)
                return redirect("knowledge:edit", pk=item.pk)
            elif action == "archive":
                services.archive(item, actor=request.user)
                return redirect("knowledge:edit", pk=item.pk)
            elif action == "reviewed":
                services.mark_reviewed(item, actor=request.user)
                messages.success(request, _("Marked as reviewed today."))
                return redirect("knowledge:edit", pk=item.pk)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return render(request, "knowledge/manage/edit.html", {
        "article": item, "draft": draft, "form": form, "settings_form": settings_form,
        "versions": item.versions.select_related("author").order_by("-number")[:20],
        "flags": item.flags.filter(resolved_at__isnull=True).select_related("reporter")[:20],
        "can_publish": request.user.has_perm("knowledge.publish_article"),
    })


@manager_required
@require_GET
def freshness(request: HttpRequest) -> HttpResponse:
    everyone = request.GET.get("all") == "1"
    qs = selectors.overdue_articles(owner=None if everyone else request.user)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "knowledge/manage/freshness.html", {
        "page_obj": page, "everyone": everyone, "today": timezone.localdate()})


def _period(request: HttpRequest) -> tuple[datetime, datetime, int]:
    try:
        days = max(1, min(366, int(request.GET.get("days", "30"))))
    except ValueError:
        days = 30
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    return end - timedelta(days=days), end, days


def _dashboard_required(view: Callable) -> Callable:
    @agent_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.has_perm("knowledge.view_kb_dashboard"):
            raise Http404("Not found")
        return view(request, *args, **kwargs)
    return wrapper


def _short_number(value: float) -> str:
    """A figure as the reader's locale writes it, without decimals when whole ("24", "12,5")."""
    return formats.number_format(value, 0 if value == int(value) else None)


@_dashboard_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    start, end, days = _period(request)
    figures = selectors.dashboard(start=start, end=end)
    definition = _(deflection.DEFINITION) % {
        "window": _("%(hours)s h") % {"hours": _short_number(figures.window_hours)},
        "cost": f"{conf.currency()}{_short_number(figures.cost_per_ticket)}"}
    return render(request, "knowledge/manage/dashboard.html", {
        "d": figures, "days": days, "definition": definition,
        "helpfulness_rows": selectors.article_helpfulness(limit=10),
    })


@_dashboard_required
@require_GET
def reports(request: HttpRequest) -> HttpResponse:
    start, end, days = _period(request)
    return render(request, "knowledge/manage/reports.html", {
        "days": days,
        "top": selectors.top_searches(start=start, end=end),
        "zero": selectors.zero_result_searches(start=start, end=end),
        "zero_rate": selectors.zero_result_rate(start=start, end=end),
        "no_click": selectors.no_click_searches(start=start, end=end),
        "refinements": selectors.refinements(start=start, end=end),
    })
