"""Time the manager metrics dashboard (90 days by default) on the configured database:
cold (cache cleared) and warm (cached) renders, with query counts, after building or
syncing the hourly rollup it reads, and the medians fragment the page loads after it."""
from __future__ import annotations

import time

from django.core.cache import cache
from django.core.management.base import BaseCommand
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import User
from reporting import rollups
from reporting.models import MetricsRollupState


class Command(BaseCommand):
    help = "Time the manager metrics dashboard: cold and warm renders and query counts."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--runs", type=int, default=3)

    def handle(self, *args, days: int, runs: int, **options):
        user = next((u for u in User.objects.filter(is_active=True).order_by("pk")
                     if u.sees_all_tickets), None)
        if user is None:
            self.stderr.write("No active user who sees all tickets (a manager) to log in as.")
            return
        client = Client()
        client.force_login(user)
        end = timezone.localdate()
        start = end - timezone.timedelta(days=days - 1)
        if not MetricsRollupState.objects.filter(covered_to__isnull=False).exists():
            began = time.perf_counter()
            rows = rollups.rebuild(max(days + 30, 120))
            self.stdout.write(f"built the hourly rollup ({rows} rows) in "
                              f"{time.perf_counter() - began:.1f}s")
        else:
            began = time.perf_counter()
            rollups.sync()
            self.stdout.write(f"rollup sync: {(time.perf_counter() - began) * 1000:.0f} ms")
        query = f"?start={start}&end={end}"
        url = reverse("metrics:manager") + query
        self.stdout.write(f"{connection.vendor}: manager dashboard {start}..{end} as {user}")
        for label, clear in [("cold", True)] * runs + [("warm", False)] * runs:
            if clear:
                cache.clear()
            reset_queries()
            with CaptureQueriesContext(connection) as ctx:
                began = time.perf_counter()
                response = client.get(url, HTTP_HOST="localhost")
                elapsed = (time.perf_counter() - began) * 1000
            self.stdout.write(f"{label}: {elapsed:8.1f} ms  {len(ctx.captured_queries):3d} "
                              f"queries  HTTP {response.status_code}")
        cache.clear()
        began = time.perf_counter()
        response = client.get(reverse("metrics:manager_medians") + query, HTTP_HOST="localhost")
        self.stdout.write(f"medians (loaded after the page, live): "
                          f"{(time.perf_counter() - began) * 1000:8.1f} ms  "
                          f"HTTP {response.status_code}")
