"""Knowledge base: sections, articles and their versions, synonyms, and the help-center
analytics (visits, searches, views, votes, flags) that measure ticket deflection."""
from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from helpdesk.models import AppendOnlyModel, staff_only

MAX_SECTION_DEPTH = 3


def default_language() -> str:
    """The site's default language ("en" for "en-us"): articles without a translation in
    the reader's language fall back to it."""
    return settings.LANGUAGE_CODE.split("-")[0]


class Audience(models.TextChoices):
    PUBLIC = "public", _("Everyone (public)")
    CUSTOMERS = "customers", _("Logged-in customers")
    INTERNAL = "internal", _("Internal (agents only)")


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("In review")
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class ArticleTemplate(models.TextChoices):
    HOWTO = "howto", _("How-to with steps")
    TROUBLESHOOTING = "troubleshooting", _("Troubleshooting (problem / cause / solution)")
    FAQ = "faq", _("FAQ")
    RELEASE_NOTE = "release_note", _("Release note")
    BLANK = "blank", _("Blank")


class Section(models.Model):
    """A category of the help center, or a section inside one (at most three levels)."""

    name = models.CharField(verbose_name=_("name"), max_length=120)
    slug = models.SlugField(verbose_name=_("slug"), max_length=120, unique=True)
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    description = models.TextField(verbose_name=_("description"), blank=True)
    position = models.PositiveIntegerField(verbose_name=_("position"), default=100)

    class Meta:
        verbose_name = _("section")
        verbose_name_plural = _("sections")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("knowledge:section", args=[self.slug])

    @property
    def depth(self) -> int:
        depth, node = 1, self.parent
        while node is not None:
            depth, node = depth + 1, node.parent
        return depth

    def clean(self) -> None:
        node, seen = self.parent, {self.pk}
        while node is not None:
            if node.pk in seen:
                raise ValidationError({"parent": _("A section cannot be inside itself.")})
            seen.add(node.pk)
            node = node.parent
        if self.depth > MAX_SECTION_DEPTH:
            raise ValidationError({"parent": _("Sections nest at most %(depth)s levels.")
                                             % {"depth": MAX_SECTION_DEPTH}})


class Article(models.Model):
    """The live article. Its title/summary/body are what readers see and search finds; an
    edit of a published article waits in an ArticleVersion draft until it is published."""

    section = models.ForeignKey(Section, verbose_name=_("section"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="articles")
    slug = models.SlugField(verbose_name=_("slug"), max_length=200, unique=True)
    title = models.CharField(verbose_name=_("title"), max_length=200)
    summary = models.CharField(_("quick answer"), max_length=500, blank=True)
    body = models.TextField(verbose_name=_("body"), blank=True,
                            help_text=_("Markdown; rendered safely."))
    tags = models.CharField(verbose_name=_("tags"), max_length=255, blank=True,
                            help_text=_("Comma-separated."))
    template = models.CharField(verbose_name=_("template"), max_length=20,
                                choices=ArticleTemplate.choices, default=ArticleTemplate.BLANK)
    category = models.ForeignKey(
        "tickets.Category", verbose_name=_("category"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="articles",
        help_text=_("The ticket category this article answers (coverage)."),
    )
    product_area = models.ForeignKey("tickets.ProductArea", verbose_name=_("product area"),
                                     null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="articles")
    audience = models.CharField(verbose_name=_("audience"), max_length=12, choices=Audience.choices,
                                default=Audience.PUBLIC)
    status = models.CharField(verbose_name=_("status"), max_length=12,
                              choices=ArticleStatus.choices, default=ArticleStatus.DRAFT)
    # The language the article is written in: it is indexed with that language's analysis
    # and found by readers of that language (knowledge.search).
    language = models.CharField(verbose_name=_("language"), max_length=8,
                                choices=settings.LANGUAGES, default=default_language)
    # A translation points at the article it translates (in any language); readers of a
    # language without a translation get the original (knowledge.selectors.for_reader).
    translation_of = models.ForeignKey("self", verbose_name=_("translation of"), null=True,
                                       blank=True, on_delete=models.SET_NULL,
                                       related_name="translations")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="owned_articles",
                              limit_choices_to=staff_only)
    related = models.ManyToManyField("self", verbose_name=_("related"), blank=True,
                                     symmetrical=False, related_name="related_from")
    last_reviewed_on = models.DateField(verbose_name=_("last reviewed on"), null=True, blank=True)
    review_interval_days = models.PositiveIntegerField(
        verbose_name=_("review interval days"), default=180,
    )
    # last_reviewed_on + interval, kept by save(): the freshness list and the weekly
    # reminder scan this indexed column instead of computing dates per row.
    review_due_on = models.DateField(verbose_name=_("review due on"), null=True, blank=True)
    created_from_ticket = models.ForeignKey(
        "tickets.Ticket", verbose_name=_("created from ticket"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField(verbose_name=_("created at"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))
    published_at = models.DateTimeField(verbose_name=_("published at"), null=True, blank=True)
    # Denormalised counters, bumped with F() by the services.
    view_count = models.PositiveIntegerField(verbose_name=_("view count"), default=0)
    helpful_count = models.PositiveIntegerField(verbose_name=_("helpful count"), default=0)
    unhelpful_count = models.PositiveIntegerField(verbose_name=_("unhelpful count"), default=0)
    # PostgreSQL only: weighted title (A) > summary (B) > body and tags (C); kept up to date
    # by knowledge.search.index_article(). SQLite uses the FTS5 table knowledge_article_fts.
    search_vector = SearchVectorField(verbose_name=_("search vector"), null=True, editable=False)
    # PostgreSQL only: title (A) + summary and tags (B), small enough to rank thousands of
    # matches in a few ms; search ranks these first and reads whole bodies only when the
    # head matches do not fill the page (title matches rank above body matches anyway).
    head_vector = SearchVectorField(verbose_name=_("head vector"), null=True, editable=False)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["title"]
        permissions = [
            ("publish_article", "Can publish and archive knowledge articles"),
            ("view_kb_dashboard", "Can see the knowledge deflection dashboard and reports"),
        ]
        indexes = [
            models.Index(fields=["status", "audience"], name="kb_article_status_aud"),
            models.Index(fields=["owner", "review_due_on"], name="kb_article_owner_due",
                         condition=models.Q(status="published")),
            models.Index(fields=["review_due_on"], name="kb_article_review_due",
                         condition=models.Q(status="published")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["translation_of", "language"],
                                    name="kb_one_translation_per_language"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        if self.last_reviewed_on:
            self.review_due_on = self.last_reviewed_on + timedelta(days=self.review_interval_days)
        else:
            self.review_due_on = None
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("knowledge:article", args=[self.slug])

    @property
    def is_published(self) -> bool:
        return self.status == ArticleStatus.PUBLISHED

    @property
    def helpfulness(self) -> float | None:
        votes = self.helpful_count + self.unhelpful_count
        return self.helpful_count / votes if votes else None

    @property
    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.tags.split(",") if t.strip()]


class VersionState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    REVIEW = "review", _("In review")
    PUBLISHED = "published", _("Published")
    SUPERSEDED = "superseded", _("Superseded")
    DISCARDED = "discarded", _("Discarded")


class ArticleVersion(models.Model):
    """Every saved content of an article. At most one open (draft or in review) version per
    article: the pending edit of a published article."""

    article = models.ForeignKey(Article, verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="versions")
    number = models.PositiveIntegerField(verbose_name=_("number"))
    title = models.CharField(verbose_name=_("title"), max_length=200)
    summary = models.CharField(verbose_name=_("summary"), max_length=500, blank=True)
    body = models.TextField(verbose_name=_("body"), blank=True)
    state = models.CharField(verbose_name=_("state"), max_length=12, choices=VersionState.choices,
                             default=VersionState.DRAFT)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True,
                               blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(verbose_name=_("note"), max_length=255, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    published_at = models.DateTimeField(verbose_name=_("published at"), null=True, blank=True)

    class Meta:
        verbose_name = _("article version")
        verbose_name_plural = _("article versions")
        ordering = ["article", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="kb_version_number"),
            models.UniqueConstraint(fields=["article"], name="kb_one_open_version",
                                    condition=models.Q(state__in=["draft", "review"])),
        ]

    def __str__(self) -> str:
        return f"{self.article} v{self.number} ({self.get_state_display()})"


class ArticleEventKind(models.TextChoices):
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class ArticleEvent(AppendOnlyModel):
    """Who published or archived an article, and when: the article's audit trail."""

    article = models.ForeignKey(Article, verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="events")
    kind = models.CharField(verbose_name=_("kind"), max_length=12, choices=ArticleEventKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="+")
    version = models.ForeignKey(ArticleVersion, verbose_name=_("version"), null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("article event")
        verbose_name_plural = _("article events")
        ordering = ["article", "created_at", "pk"]

    def __str__(self) -> str:
        return gettext("%(article)s %(kind)s by %(actor)s") % {
            "article": self.article, "kind": self.get_kind_display(),
            "actor": self.actor or gettext("System")}


class Synonym(models.Model):
    """Terms that mean the same to a reader: a search for one finds the others."""

    terms = models.CharField(
        verbose_name=_("terms"), max_length=500,
        help_text=_('Comma-separated equivalent terms, e.g. "sign in, login, log in".'),
    )

    class Meta:
        verbose_name = _("synonym")
        verbose_name_plural = _("synonyms")
        ordering = ["terms"]

    def __str__(self) -> str:
        return self.terms

    @property
    def term_list(self) -> list[str]:
        return [t.strip().lower() for t in self.terms.split(",") if t.strip()]

    def clean(self) -> None:
        if len(self.term_list) < 2:
            raise ValidationError({"terms": _("Give at least two terms.")})


class SearchTerm(models.Model):
    """A word of the published articles one audience may read: the vocabulary that spelling
    corrections and search-as-you-type completions come from. Written by knowledge.search
    when articles are indexed; a full re-index drops words no article uses any more."""

    word = models.CharField(verbose_name=_("word"), max_length=40)
    stem = models.CharField(verbose_name=_("stem"), max_length=40)
    audience = models.CharField(verbose_name=_("audience"), max_length=10, choices=Audience.choices)
    # Stems differ per language: a German query is completed and corrected from the words
    # of the German articles only.
    language = models.CharField(verbose_name=_("language"), max_length=8, default=default_language)

    class Meta:
        verbose_name = _("search term")
        verbose_name_plural = _("search terms")
        constraints = [models.UniqueConstraint(fields=["language", "audience", "word"],
                                               name="kb_term_unique_lang")]
        indexes = [models.Index(fields=["language", "audience", "stem"],
                                name="kb_term_lang_stem")]

    def __str__(self) -> str:
        return self.word


class Visit(models.Model):
    """One help-center visit (anonymous cookie and/or user), followed from the first search
    to article views, votes and any ticket it filed."""

    key = models.UUIDField(verbose_name=_("key"), default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True,
                             blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(verbose_name=_("started at"), db_index=True)
    last_seen_at = models.DateTimeField(verbose_name=_("last seen at"))
    first_query = models.CharField(verbose_name=_("first query"), max_length=255, blank=True)
    article_views = models.PositiveIntegerField(verbose_name=_("article views"), default=0)
    solved_at = models.DateTimeField(verbose_name=_("solved at"), null=True, blank=True)
    solved_article = models.ForeignKey(Article, verbose_name=_("solved article"), null=True,
                                       blank=True, on_delete=models.SET_NULL, related_name="+")
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    ticket_filed_at = models.DateTimeField(verbose_name=_("ticket filed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        indexes = [models.Index(fields=["user", "-last_seen_at"], name="kb_visit_user_recent")]

    def __str__(self) -> str:
        return gettext("visit %(key)s") % {"key": self.key}


class SearchSource(models.TextChoices):
    HELP_CENTER = "help", _("Help center")
    SUGGESTION = "suggest", _("Ticket form suggestions")
    AGENT = "agent", _("Agent ticket page")
    API = "api", _("API")


class SearchLog(models.Model):
    """One search: normalised text, how many results, what was clicked, whether a ticket
    followed. Search-as-you-type keystrokes of one query collapse into one row."""

    query = models.CharField(verbose_name=_("query"), max_length=255)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    source = models.CharField(verbose_name=_("source"), max_length=8, choices=SearchSource.choices,
                              default=SearchSource.HELP_CENTER)
    visit = models.ForeignKey(Visit, verbose_name=_("visit"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="searches")
    result_count = models.PositiveIntegerField(verbose_name=_("result count"))
    clicked_article = models.ForeignKey(Article, verbose_name=_("clicked article"), null=True,
                                        blank=True, on_delete=models.SET_NULL, related_name="+")
    clicked_at = models.DateTimeField(verbose_name=_("clicked at"), null=True, blank=True)
    refined_to = models.CharField(
        verbose_name=_("refined to"), max_length=255, blank=True,
        help_text=_("The next query of the same visit when this one got no click."),
    )
    ticket_followed = models.BooleanField(verbose_name=_("ticket followed"), default=False)

    class Meta:
        verbose_name = _("search log")
        verbose_name_plural = _("search logs")
        indexes = [
            models.Index(fields=["created_at"], name="kb_search_created"),
            models.Index(fields=["visit", "-created_at"], name="kb_search_visit_recent"),
            models.Index(fields=["query", "created_at"], name="kb_search_query_time"),
        ]

    def __str__(self) -> str:
        return self.query


class ArticleView(models.Model):
    article = models.ForeignKey(Article, verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="views")
    visit = models.ForeignKey(Visit, verbose_name=_("visit"), null=True, blank=True,
                              on_delete=models.CASCADE, related_name="views")
    search = models.ForeignKey(SearchLog, verbose_name=_("search"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"))

    class Meta:
        verbose_name = _("article view")
        verbose_name_plural = _("article views")
        indexes = [models.Index(fields=["article", "created_at"], name="kb_view_article_time")]

    def __str__(self) -> str:
        return gettext("view of %(article)s") % {"article": self.article_id}


class VoteReason(models.TextChoices):
    NONE = "", "—"
    NOT_RELEVANT = "not_relevant", _("Not what I was looking for")
    UNCLEAR = "unclear", _("Hard to follow")
    OUTDATED = "outdated", _("Out of date or wrong")
    DID_NOT_WORK = "did_not_work", _("The steps did not work")


class ArticleVote(models.Model):
    """"Was this helpful?": one vote per article and visit (a later vote replaces it)."""

    article = models.ForeignKey(Article, verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="votes")
    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE,
                              related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True,
                             blank=True, on_delete=models.SET_NULL, related_name="+")
    helpful = models.BooleanField(verbose_name=_("helpful"))
    reason = models.CharField(verbose_name=_("reason"), max_length=20, choices=VoteReason.choices,
                              blank=True)
    comment = models.CharField(verbose_name=_("comment"), max_length=500, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), db_index=True)

    class Meta:
        verbose_name = _("article vote")
        verbose_name_plural = _("article votes")
        constraints = [
            models.UniqueConstraint(fields=["article", "visit"], name="kb_one_vote_per_visit"),
        ]

    def __str__(self) -> str:
        if self.helpful:
            return gettext("helpful: %(article)s") % {"article": self.article_id}
        return gettext("not helpful: %(article)s") % {"article": self.article_id}


class FlagKind(models.TextChoices):
    WRONG = "wrong", _("Wrong")
    OUTDATED = "outdated", _("Outdated")


class ArticleFlag(models.Model):
    """An agent says an article is wrong or outdated (usually from a ticket)."""

    article = models.ForeignKey(Article, verbose_name=_("article"), on_delete=models.CASCADE,
                                related_name="flags")
    ticket = models.ForeignKey("tickets.Ticket", verbose_name=_("ticket"), null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reporter"), null=True,
                                 on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(verbose_name=_("kind"), max_length=10, choices=FlagKind.choices)
    note = models.TextField(verbose_name=_("note"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"))
    resolved_at = models.DateTimeField(verbose_name=_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("article flag")
        verbose_name_plural = _("article flags")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["article", "resolved_at"], name="kb_flag_open")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.article}"
