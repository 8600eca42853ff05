"""Benchmark of help-center search at the design size: 5,000 articles and 1,000,000 logged
searches (seeded once with bulk inserts into the current database), then p50/p95 of search
(the search function and the HTMX endpoint) and of ticket-form suggestions.

    manage.py kb_bench [--articles 5000] [--searches 1000000] [--runs 400]
"""
# ruff: noqa: S608 - table names are module constants; every value is a bound parameter.
from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from knowledge import search
from knowledge.models import Article, ArticleStatus, Audience, SearchLog, Synonym

BENCH_PREFIX = "kb-bench-"
VERBS = ["Reset", "Configure", "Export", "Import", "Connect", "Troubleshoot", "Set up",
         "Change", "Delete", "Enable", "Disable", "Sync", "Share", "Invite", "Upgrade",
         "Restore", "Rotate", "Verify", "Schedule", "Migrate"]
OBJECTS = ["password", "invoice", "SSO login", "API token", "webhook", "CSV export",
           "two-factor authentication", "team members", "billing plan", "mobile app",
           "calendar sync", "email notifications", "custom domain", "data retention",
           "audit log", "payment method", "user roles", "single sign-on", "report builder",
           "dashboard widgets", "Slack integration", "Salesforce connector", "backups",
           "IP allowlist", "session timeout"]
CONTEXTS = ["on Android", "on iOS", "for admins", "in the dashboard", "with Okta",
            "with Azure AD", "for enterprise plans", "after an upgrade", "from the API",
            "in the EU region", "for new users", "on the web app"]
WORDS = ("account access admin alert api app approve archive attach audit backup billing "
         "browser cache certificate change click client configure connect cookie csv "
         "customer dashboard data delete device disable domain download email enable error "
         "export field file filter folder google import integration invoice key language "
         "limit link list log login mobile network notification okta option owner page "
         "password payment permission plan policy profile quota record region report "
         "request restore role rule saml schedule screen search secret security server "
         "session setting share single slack sso status storage subscription sync team "
         "template timeout token trial update upgrade upload user verify view webhook "
         "widget workspace").split()
QUERIES = ["reset password", "password", "invoice", "export csv", "sso", "sso login okta",
           "api token", "webhook", "two factor", "billing plan", "mobile app android",
           "calendar sync", "custom domain", "audit log", "payment method", "user roles",
           "slack", "backups restore", "session timeout", "ip allowlist", "pass", "inv",
           "configure web", "upgrade billing plan enterprise", "rotate api token",
           "pasword reset", "webhok", "single sign on", "sign in", "log in problems",
           # as customers type them: questions, extra words, typos next to right words
           "how do i reset my password please", "double charge on my card",
           "update my e-mail", "webhok retries", "why do i keep getting logged out",
           "two-factor authentication setup"]
TICKETS = [
    ("Cannot log in with Okta", "Since this morning our users get an error on the SSO page."),
    ("Invoice shows the wrong amount", "We were charged twice for the enterprise plan."),
    ("Export to CSV fails", "The export button spins forever and no file is downloaded."),
    ("Webhook not firing", "Our endpoint does not receive events since the upgrade."),
    ("How do I add team members?", "I want to invite three colleagues as admins."),
    ("Mobile app crashes on Android", "After the update the app closes on start."),
]


def _ip(first: int, n: int) -> str:
    """A distinct client per request, so the per-client rate limit stays out of the way."""
    return f"{first}.{n // 62500 % 250}.{n // 250 % 250}.{n % 250}"


def _pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


class Command(BaseCommand):
    help = "Seed 5,000 articles and 1,000,000 searches (if absent) and time search."

    def add_arguments(self, parser):
        parser.add_argument("--articles", type=int, default=5000)
        parser.add_argument("--searches", type=int, default=1_000_000)
        parser.add_argument("--runs", type=int, default=400)

    def handle(self, *args, **opts):
        self.seed_articles(opts["articles"])
        self.seed_searches(opts["searches"])
        if not Synonym.objects.filter(terms="sign in, login, log in").exists():
            Synonym.objects.create(terms="sign in, login, log in")
        search.forget_synonyms()
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                # VACUUM too: a re-index rewrites every article row, and the dead rows it
                # leaves would be read by every search until autovacuum comes by.
                cur.execute("VACUUM ANALYZE knowledge_article")
                cur.execute("VACUUM ANALYZE knowledge_searchterm")
                cur.execute("ANALYZE knowledge_searchlog")
        self.stdout.write(f"database: {connection.vendor}; articles: "
                          f"{Article.objects.count():,}; logged searches: "
                          f"{SearchLog.objects.count():,}")
        runs = opts["runs"]
        rng = random.Random(7)
        audiences = search.audiences_for(None)

        def run_search():
            search.search(rng.choice(QUERIES), audiences=audiences)

        def run_suggest():
            subject, description = rng.choice(TICKETS)
            search.suggest(subject, description, audiences=audiences)

        with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False):
            client = Client()
            counter = iter(range(10**9))

            def run_htmx():
                n = next(counter)
                response = client.get("/help/search/", {"q": rng.choice(QUERIES)},
                                      HTTP_HX_REQUEST="true",
                                      REMOTE_ADDR=_ip(10, n))
                assert response.status_code == 200, response.status_code

            def run_suggest_htmx():
                n = next(counter)
                subject, description = rng.choice(TICKETS)
                response = client.get("/help/suggest/", {"subject": subject,
                                                         "description": description},
                                      HTTP_HX_REQUEST="true",
                                      REMOTE_ADDR=_ip(11, n))
                assert response.status_code == 200, response.status_code

            self.measure("search()", run_search, runs, target=30)
            self.measure("GET /help/search/ (htmx)", run_htmx, runs, target=30)
            self.measure("suggest()", run_suggest, runs, target=50)
            self.measure("GET /help/suggest/ (htmx)", run_suggest_htmx, runs, target=50)

    def measure(self, name: str, fn: Callable[[], None], runs: int, *, target: float) -> None:
        for _ in range(min(20, runs)):  # warm caches and connections
            fn()
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - start) * 1000)
        p95 = _pct(samples, 95)
        verdict = "OK" if p95 < target else "OVER TARGET"
        self.stdout.write(f"{name:28s} p50 {statistics.median(samples):6.2f} ms  "
                          f"p95 {p95:6.2f} ms  max {max(samples):7.2f} ms  "
                          f"(target p95 < {target} ms: {verdict})")

    def seed_articles(self, wanted: int) -> None:
        have = Article.objects.filter(slug__startswith=BENCH_PREFIX).count()
        if have >= wanted:
            return
        rng = random.Random(42)
        now = timezone.now()
        batch = []
        self.stdout.write(f"seeding {wanted - have:,} articles…")
        for i in range(have, wanted):
            title = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(CONTEXTS)}"
            body = "\n\n".join(
                " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 30))).capitalize()
                + "." for _ in range(rng.randint(6, 14)))
            roll = rng.random()
            audience = (Audience.INTERNAL if roll < 0.05 else
                        Audience.CUSTOMERS if roll < 0.15 else Audience.PUBLIC)
            batch.append(Article(
                slug=f"{BENCH_PREFIX}{i}", title=title,
                summary=" ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + ".",
                body=body, tags=",".join(rng.sample(WORDS, 3)), audience=audience,
                status=ArticleStatus.PUBLISHED, created_at=now, updated_at=now,
                published_at=now, last_reviewed_on=now.date()))
            if len(batch) == 1000:
                Article.objects.bulk_create(batch)
                batch = []
        if batch:
            Article.objects.bulk_create(batch)
        with transaction.atomic():
            search.index_article(None)

    def seed_searches(self, wanted: int) -> None:
        have = SearchLog.objects.count()
        missing = wanted - have
        if missing <= 0:
            return
        self.stdout.write(f"seeding {missing:,} logged searches…")
        queries = [q for q in QUERIES] + [f"{v} {o}".lower() for v in VERBS for o in OBJECTS]
        with connection.cursor() as cur:
            cur.execute("CREATE TEMP TABLE kb_bench_q (n integer, q varchar(255))")
            cur.executemany("INSERT INTO kb_bench_q (n, q) VALUES (%s, %s)",
                            list(enumerate(queries)))
            nq = len(queries)
            if connection.vendor == "postgresql":
                cur.execute(f"""
                    INSERT INTO knowledge_searchlog
                      (query, created_at, source, result_count, refined_to, ticket_followed)
                    SELECT q.q, now() - (g %% 7776000) * interval '1 second', 'help',
                           (g %% 11), '', false
                    FROM generate_series(1, %s) g JOIN kb_bench_q q ON q.n = g %% {nq}
                """, [missing])
            else:
                cur.execute(f"""
                    INSERT INTO knowledge_searchlog
                      (query, created_at, source, result_count, refined_to, ticket_followed)
                    WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < %s)
                    SELECT q.q, datetime('now', '-' || (x % 7776000) || ' seconds'), 'help',
                           (x % 11), '', 0
                    FROM g JOIN kb_bench_q q ON q.n = x % {nq}
                """, [missing])
            cur.execute("DROP TABLE kb_bench_q")
