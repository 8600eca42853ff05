"""Every page a user opens, timed in-process: p50 / p95 / max, queries and SQL time, warm
and cold.

Requests go through django.test.Client inside this process (as `manage.py bench` does), so
the figures are the server's own time: routing, middleware, view, templates and SQL,
without network or a web server. URLs come from reverse(); the objects a page shows are
picked from the database the way a user would meet them (the ticket with the longest
conversation, the customer with most tickets, the latest incident...).

Warm: after unmeasured warm-up requests, so the application caches (metric figures,
permission sets, queue counts, compiled templates) are filled. Cold: before every
measured request the Django cache and the in-process caches are cleared and the database
connection is reopened; PostgreSQL's shared buffers and the OS page cache stay as they are.
"""
from __future__ import annotations

import math
import statistics
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, Min
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import NoReverseMatch, reverse

from casework.models import VocReport
from helpdesk.models import Membership, Team, User
from helpdesk.roles import Role
from incidents.models import Incident
from knowledge.models import Article, ArticleStatus, Audience
from qa.models import CalibrationSession
from qa.models import Review as QAReview
from tickets.models import Message, Ticket
from workforce.models import Rotation

BENCH_PREFIX = "[bench] "
API_SUBJECT = "[bench] API page benchmark"


@dataclass
class Page:
    """One page as a user opens it."""

    area: str
    label: str
    role: str  # key into Context.users
    path: str | None  # None: not measurable here, see `missing`
    method: str = "get"
    payload: Callable[[int], dict] | None = None
    missing: str = ""


@dataclass
class Timing:
    page: Page
    user: str
    warm_ms: list[float] = field(default_factory=list)
    warm_queries: list[int] = field(default_factory=list)
    warm_sql_ms: list[float] = field(default_factory=list)
    cold_ms: list[float] = field(default_factory=list)
    cold_queries: list[int] = field(default_factory=list)
    cold_sql_ms: list[float] = field(default_factory=list)
    # The page's first request in this process, before the cold ones: it also pays the
    # one-time costs of a process (templates compiled, modules imported on first use),
    # which a cold request after a cache flush on a running server does not.
    first_ms: float | None = None
    statuses: Counter = field(default_factory=Counter)
    slowest: tuple[float, str] = (0.0, "")
    note: str = ""

    @staticmethod
    def percentile(values: list[float], p: float) -> float:
        ordered = sorted(values)
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    def row(self) -> dict[str, Any]:
        """The figures of one page, as printed and as written to JSON."""
        out: dict[str, Any] = {"area": self.page.area, "page": self.page.label,
                               "user": self.user, "path": self.page.path, "note": self.note}
        if not self.warm_ms:
            return out
        out.update({
            "status": ",".join(str(code) if n == sum(self.statuses.values()) else
                               f"{code}x{n}" for code, n in sorted(self.statuses.items())),
            "p50_ms": self.percentile(self.warm_ms, 0.5),
            "p95_ms": self.percentile(self.warm_ms, 0.95),
            "max_ms": max(self.warm_ms),
            "cold_p95_ms": self.percentile(self.cold_ms, 0.95) if self.cold_ms else None,
            "cold_max_ms": max(self.cold_ms) if self.cold_ms else None,
            "queries": _range(self.warm_queries),
            "cold_queries": _range(self.cold_queries) if self.cold_queries else "",
            "cold_sql_ms_p95": (self.percentile(self.cold_sql_ms, 0.95)
                                if self.cold_sql_ms else None),
            "first_ms": self.first_ms,
            "sql_ms_p50": statistics.median(self.warm_sql_ms),
            "slowest_sql_ms": self.slowest[0],
            "slowest_sql": " ".join(self.slowest[1].split())[:400],
        })
        return out


def _range(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


# --- who opens the pages -------------------------------------------------------------------

@dataclass
class Context:
    users: dict[str, User]
    notes: list[str] = field(default_factory=list)


def _bench_user(username: str, role: str | None, *, superuser: bool = False,
                team: Team | None = None) -> User:
    """A user of that kind when the database has none (no usable password)."""
    user, created = User.objects.get_or_create(
        username=username, defaults={"first_name": "Bench", "last_name": role or "admin",
                                     "is_staff": superuser, "is_superuser": superuser})
    if created:
        user.set_unusable_password()
        user.save()
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    if team is not None:
        Membership.objects.get_or_create(team=team, user=user)
    return User.objects.get(pk=user.pk)


def _first_in_role(role: str, **filters: Any) -> User | None:
    return (User.objects.filter(is_active=True, groups__name=role, **filters)
            .order_by("pk").first())


def pick_users() -> Context:
    l1 = Team.objects.filter(slug="l1-general").first()
    agent = (_first_in_role(Role.AGENT, memberships__team=l1) if l1 else None) \
        or _first_in_role(Role.AGENT) or _bench_user("bench-agent", Role.AGENT, team=l1)
    lead = (_first_in_role(Role.TEAM_LEAD, memberships__is_lead=True)
            or _first_in_role(Role.TEAM_LEAD) or _bench_user("bench-lead", Role.TEAM_LEAD,
                                                               team=l1))
    manager = _first_in_role(Role.MANAGER) or _bench_user("bench-manager", Role.MANAGER)
    reviewer = _first_in_role(Role.QA_REVIEWER) or _bench_user("bench-qa", Role.QA_REVIEWER)
    admin = (User.objects.filter(is_active=True, is_superuser=True).order_by("pk").first()
             or _bench_user("bench-admin", None, superuser=True))
    # The customer with most tickets: the longest portal list anyone sees. Counting over
    # the most recent tickets keeps this a second on a million rows.
    recent = Ticket.objects.order_by("-id").values("id")[:200_000]
    top = (Ticket.objects.filter(id__in=recent).values("requester_id")
           .annotate(n=Count("id")).order_by("-n").first())
    customer = (User.objects.get(pk=top["requester_id"]) if top
                else _bench_user("bench-customer", Role.CUSTOMER))
    return Context(users={"agent": agent, "lead": lead, "manager": manager, "qa": reviewer,
                          "admin": admin, "customer": customer})


# --- which objects ----------------------------------------------------------------------

def longest_ticket(**filters: Any) -> int | None:
    """The ticket with most messages among the latest 50,000 (or among `filters`)."""
    tickets = Ticket.objects.filter(**filters).order_by("-id").values("id")[:50_000]
    row = (Message.objects.filter(ticket_id__in=tickets).values("ticket_id")
           .annotate(n=Count("id")).order_by("-n", "-ticket_id").first())
    return row["ticket_id"] if row else None


def _first_pk(qs: Iterable) -> int | None:
    obj = next(iter(qs), None)
    return obj.pk if obj is not None else None


def _search_word() -> str:
    """A word readers type: the first word of a popular published article's title."""
    title = (Article.objects.filter(status=ArticleStatus.PUBLISHED)
             .order_by("-id").values_list("title", flat=True).first())
    words = [w for w in (title or "").split() if len(w) > 3 and w.isalpha()]
    return (words[0] if words else "password").lower()


def _reverse(name: str, args: list | None = None, query: str = "") -> str | None:
    try:
        return reverse(name, args=args or []) + query
    except NoReverseMatch:
        return None


def catalogue(ctx: Context) -> list[Page]:
    """Every page of the issue-20 list, with the user who opens it."""
    customer = ctx.users["customer"]
    ticket_id = longest_ticket()
    portal_ticket = longest_ticket(requester=customer)
    article = _first_pk(Article.objects.filter(
        status=ArticleStatus.PUBLISHED, audience=Audience.PUBLIC).order_by("-id"))
    article_slug = (Article.objects.filter(pk=article).values_list("slug", flat=True).first()
                    if article else None)
    word = _search_word()
    review = _first_pk(QAReview.objects.order_by("-id"))
    session = _first_pk(CalibrationSession.objects.order_by("-id"))
    incident = _first_pk(Incident.objects.order_by("-id"))
    rotation = _first_pk(Rotation.objects.order_by("id"))
    voc = _first_pk(VocReport.objects.order_by("-week_start"))
    team = (Team.objects.filter(memberships__user=ctx.users["lead"]).order_by("pk").first()
            or Team.objects.order_by("pk").first())

    def page(area: str, label: str, role: str, name: str, args: list | None = None,
             query: str = "", *, needs: object = True, what: str = "") -> Page:
        if needs is None or (args and None in args):
            return Page(area, label, role, None, missing=f"no {what} in the database")
        path = _reverse(name, args, query)
        return Page(area, label, role, path, missing="" if path else f"no URL named {name}")

    def api_create(i: int) -> dict:
        return {"subject": f"{API_SUBJECT} {i}",
                "description": "Created by the page benchmark to time the API. "
                               "The export button does nothing in Safari 17."}

    create_path = _reverse("ticket-list")
    return [
        page("agent", "queue (open, 25/page)", "manager", "agent:queue", ["open"]),
        page("agent", "queue (my teams, 25/page)", "agent", "agent:queue", ["teams"]),
        page("agent", "ticket page (longest conversation)", "manager", "agent:ticket",
             [ticket_id], what="ticket"),
        page("portal", "my tickets", "customer", "portal:tickets"),
        page("portal", "ticket detail", "customer", "portal:ticket", [portal_ticket],
             what="ticket of the customer"),
        page("help center", "home", "customer", "knowledge:home"),
        page("help center", f"search ({word!r})", "customer", "knowledge:search",
             query=f"?q={word}"),
        page("help center", "article", "customer", "knowledge:article", [article_slug],
             what="published public article"),
        page("sla", "dashboard", "manager", "sla:dashboard"),
        page("sla", "approaching breach", "manager", "sla:approaching"),
        page("sla", "paused-time report", "manager", "sla:paused"),
        page("metrics", "mine", "agent", "metrics:mine"),
        page("metrics", "team", "lead", "metrics:team"),
        page("metrics", "manager", "manager", "metrics:manager"),
        page("metrics", "manager medians", "manager", "metrics:manager_medians"),
        page("workforce", "capacity", "manager", "workforce_capacity:dashboard"),
        page("workforce", "schedules (team week)", "lead", "workforce_schedules:week",
             [team.slug if team else None], what="team"),
        page("workforce", "on-call rotations", "manager", "workforce_oncall:rotations"),
        page("workforce", "on-call rotation", "manager", "workforce_oncall:rotation",
             [rotation], what="rotation"),
        page("qa", "queue (unassigned)", "qa", "qa:queue", ["unassigned"]),
        page("qa", "a review", "qa", "qa:review", [review], what="QA review"),
        page("qa", "dashboard", "manager", "qa:dashboard"),
        page("qa", "calibration sessions", "qa", "qa:calibrations"),
        page("qa", "a calibration session", "qa", "qa:calibration", [session],
             what="calibration session"),
        page("incidents", "list", "agent", "incidents:list"),
        page("incidents", "war room", "agent", "incidents:room", [incident],
             what="incident"),
        page("incidents", "status page", "customer", "status:page"),
        page("casework", "dashboard", "manager", "casework:dashboard"),
        page("casework", "voice of customer list", "manager", "casework:voc_list"),
        page("casework", "voice of customer report", "manager", "casework:voc_detail",
             [voc], what="VoC report"),
        page("admin", "tickets", "admin", "admin:tickets_ticket_changelist"),
        page("admin", "SLA clocks", "admin", "admin:sla_clock_changelist"),
        page("admin", "messages", "admin", "admin:tickets_message_changelist"),
        page("admin", "ticket events", "admin", "admin:tickets_ticketevent_changelist"),
        page("admin", "QA reviews", "admin", "admin:qa_review_changelist"),
        page("api", "ticket list (agent)", "agent", "ticket-list"),
        page("api", "ticket detail (agent)", "agent", "ticket-detail", [ticket_id],
             what="ticket"),
        page("api", f"ticket search (q={word!r})", "agent", "ticket-list",
             query=f"?q={word}"),
        Page("api", "ticket create (customer)", "customer", create_path, method="post",
             payload=api_create, missing="" if create_path else "no URL named ticket-list"),
    ]


# --- measuring ----------------------------------------------------------------------------

def _storages() -> dict:
    """Without DEBUG a manifest storage needs collectstatic; fall back if it is missing."""
    from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return {}
    try:
        staticfiles_storage.load_manifest()
        if staticfiles_storage.hashed_files:
            return {}
    except Exception:  # noqa: BLE001, S110 - no manifest: plain storage below
        pass
    storages = dict(settings.STORAGES)
    storages["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    return {"STORAGES": storages}


@contextmanager
def production_like() -> Iterator[None]:
    """DEBUG off (as in production) and any host accepted by the test client. The sign-in
    gates (two-factor, idle expiry, re-authentication) are lifted: the benchmark measures
    the pages behind them, and its users are signed in with force_login."""
    with override_settings(ALLOWED_HOSTS=["*"], DEBUG=False, SECURE_SSL_REDIRECT=False,
                           HELPDESK_2FA_REQUIRED_ROLES=[], HELPDESK_STAFF_IDLE_MINUTES=0,
                           HELPDESK_REAUTH_MINUTES=0,
                           **_storages()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No directory at")
        yield


def clear_caches() -> None:
    """What "cold" means here: no Django cache, no in-process memo, a new connection."""
    cache.clear()
    from sla import models as sla_models
    getattr(sla_models, "_calendar_cache", {}).clear()
    from tickets import rendering
    for value in vars(rendering).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()
    if not connection.in_atomic_block:  # inside a test's transaction, keep it
        connection.close()


def measure(page: Page, user: User, *, iterations: int, warmup: int, cold: int) -> Timing:
    timing = Timing(page, user.username)
    if page.path is None:
        timing.note = f"n/a ({page.missing})"
        return timing
    client = Client()
    client.force_login(user)
    throttle = f"throttle_user_{user.pk}"
    counter = iter(range(10**9))

    def request() -> Any:
        cache.delete(throttle)  # the API's per-user throttle would trip
        if page.method == "post":
            return client.post(page.path, page.payload(next(counter)),
                               content_type="application/json")
        return client.get(page.path)

    def timed(into_ms: list[float], into_queries: list[int],
              into_sql: list[float] | None) -> None:
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            response = request()
            elapsed = (time.perf_counter() - t0) * 1000
        into_ms.append(elapsed)
        into_queries.append(len(ctx.captured_queries))
        timing.statuses[response.status_code] += 1
        sql_ms = 0.0
        for q in ctx.captured_queries:
            ms = float(q.get("time") or 0) * 1000
            sql_ms += ms
            if ms > timing.slowest[0]:
                timing.slowest = (ms, q.get("sql") or "")
        if into_sql is not None:
            into_sql.append(sql_ms)

    try:
        if cold:
            first: list[float] = []
            clear_caches()
            client.force_login(user)
            timed(first, [], None)
            timing.first_ms = first[0]
        for _ in range(cold):
            clear_caches()
            client.force_login(user)  # the session lived in the cache when sessions do
            timed(timing.cold_ms, timing.cold_queries, timing.cold_sql_ms)
        for _ in range(warmup):
            request()
        for _ in range(iterations):
            timed(timing.warm_ms, timing.warm_queries, timing.warm_sql_ms)
    except Exception as exc:  # noqa: BLE001 - report and go on with the other pages
        timing.note = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:100]}"
    return timing


def run(pages: list[Page], ctx: Context, *, iterations: int, warmup: int, cold: int,
        progress: Callable[[str], None] | None = None) -> list[Timing]:
    results = []
    with production_like():
        for page in pages:
            t0 = time.perf_counter()
            timing = measure(page, ctx.users[page.role], iterations=iterations,
                             warmup=warmup, cold=cold)
            results.append(timing)
            if progress:
                progress(f"  {page.area} / {page.label}: {time.perf_counter() - t0:.1f}s")
    return results


def data_summary() -> str:
    """What the figures were measured on: row counts of the big tables (estimates on
    PostgreSQL, exact elsewhere) and the span of ticket history."""
    from casework.models import Investigation
    from incidents.models import Incident as Inc
    from knowledge.models import SearchLog
    from qa.models import Review
    from reporting.models import MetricsHour
    from sla.models import Clock
    from tickets.models import Survey, TicketEvent, TimeEntry
    from workforce.models import ScheduledShift
    models = [("tickets", Ticket), ("messages", Message), ("events", TicketEvent),
              ("SLA clocks", Clock), ("surveys", Survey), ("time entries", TimeEntry),
              ("QA reviews", Review), ("articles", Article), ("searches", SearchLog),
              ("shifts", ScheduledShift), ("incidents", Inc),
              ("investigations", Investigation), ("metrics rollup rows", MetricsHour)]
    parts = [f"{estimated_count(model):,} {label}" for label, model in models]
    span = Ticket.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    if span["first"]:
        parts.append(f"tickets created {span['first']:%Y-%m-%d} .. {span['last']:%Y-%m-%d}")
    return ", ".join(parts)


def estimated_count(model: Any) -> int:
    """pg_class.reltuples on PostgreSQL (instant at any size), COUNT(*) elsewhere."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                        [model._meta.db_table])
            row = cur.fetchone()
        if row and row[0] >= 0:
            return int(row[0])
    return model.objects.count()


# --- output -------------------------------------------------------------------------------

COLUMNS = [("area", "area"), ("page", "page"), ("user", "user"), ("status", "status"),
           ("p50_ms", "p50 ms"), ("p95_ms", "p95 ms"), ("max_ms", "max ms"),
           ("cold_p95_ms", "cold p95"), ("cold_max_ms", "cold max"),
           ("queries", "queries"), ("cold_queries", "cold q"), ("sql_ms_p50", "SQL ms p50"),
           ("cold_sql_ms_p95", "cold SQL p95"), ("first_ms", "first ms")]
NUMERIC = {"p50_ms", "p95_ms", "max_ms", "cold_p95_ms", "cold_max_ms", "sql_ms_p50",
           "cold_sql_ms_p95", "first_ms"}


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key in NUMERIC:
        return f"{value:.1f}"
    return str(value)


def table(results: list[Timing], *, markdown: bool = False) -> list[str]:
    rows = []
    for t in results:
        r = t.row()
        if "p50_ms" not in r:
            rows.append([r["area"], r["page"], r["user"], r["note"] or "n/a"]
                        + [""] * (len(COLUMNS) - 4))
            continue
        status = r["status"] + (f" {r['note']}" if r["note"] else "")
        rows.append([_cell(k, status if k == "status" else r.get(k)) for k, _ in COLUMNS])
    header = [title for _, title in COLUMNS]
    if markdown:
        out = ["| " + " | ".join(header) + " |",
               "|" + "|".join("---:" if k in NUMERIC or k.endswith("queries") else "---"
                              for k, _ in COLUMNS) + "|"]
        out += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
        return out
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    right = {i for i, (k, _) in enumerate(COLUMNS) if k in NUMERIC or k.endswith("queries")}

    def fmt(row: list[str]) -> str:
        return " | ".join(c.rjust(w) if i in right else c.ljust(w)
                          for i, (c, w) in enumerate(zip(row, widths, strict=True)))
    return [fmt(header), "-+-".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def misses(results: list[Timing], *, warm_p95: float, cold_p95: float,
           admin_p95: float) -> list[str]:
    """Pages over the targets of issue 20 (admin change lists have their own)."""
    out = []
    for t in results:
        r = t.row()
        if "p95_ms" not in r:
            continue
        warm_target = admin_p95 if t.page.area == "admin" else warm_p95
        if r["p95_ms"] > warm_target:
            out.append(f"{t.page.area} / {t.page.label}: warm p95 {r['p95_ms']:.0f} ms "
                       f"> {warm_target:.0f}")
        if r["cold_p95_ms"] is not None and r["cold_p95_ms"] > cold_p95:
            out.append(f"{t.page.area} / {t.page.label}: cold p95 {r['cold_p95_ms']:.0f} ms "
                       f"> {cold_p95:.0f}")
        if any(code >= 400 for code in t.statuses):
            out.append(f"{t.page.area} / {t.page.label}: status {r['status']}")
    return out
