"""Server-side cost of each page in the load-test mix, measured in one process.

Usage: python loadtest/profile_pages.py [--repeat 30] [--profile "queue page"]

Signs in the busiest agent and a customer with open requests, requests each page of the
mix `--repeat` times through Django's test client (no network, no load generator) and
prints mean / p95 wall time, the CPU time of this process (what bounds throughput on a
busy machine) and the SQL part of the wall time. With --profile NAME, prints the top
functions of a cProfile run of that page: where the CPU goes once the database is fast.
Run with the production settings (DEBUG=0) against the seeded database.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--profile", default="")
    parser.add_argument("--writes", action="store_true", help="also replies and new tickets")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count
    from django.test import Client

    from tickets.models import Ticket

    agent_id = (Ticket.objects.filter(assignee__isnull=False).exclude(status="closed")
                .values("assignee_id").annotate(n=Count("pk")).order_by("-n")
                .values_list("assignee_id", flat=True).first())
    open_ticket = (Ticket.objects.filter(assignee_id=agent_id).exclude(status="closed")
                   .order_by("pk").first())
    customer_ticket = Ticket.objects.exclude(status="closed").order_by("pk").first()
    from helpdesk.models import User

    agent = Client(HTTP_HOST="127.0.0.1")
    agent.force_login(User.objects.get(pk=agent_id))
    customer = Client(HTTP_HOST="127.0.0.1")
    customer.force_login(customer_ticket.requester)
    htmx = {"HTTP_HX_REQUEST": "true"}
    from rest_framework.authtoken.models import Token

    api = {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user_id=agent_id)[0].key}"}
    api_customer = {"HTTP_AUTHORIZATION":
                    f"Token {Token.objects.get_or_create(user=customer_ticket.requester)[0].key}"}
    pages = [  # (name, client, method, url, data, extra)
        ("queue page", agent, "get", "/agent/queue/mine/", None, {}),
        ("queue page (teams)", agent, "get", "/agent/queue/teams/", None, {}),
        ("queue page (htmx, page 2)", agent, "get", "/agent/queue/open/?page=2", None, htmx),
        ("ticket page", agent, "get", f"/agent/tickets/{open_ticket.pk}/", None, {}),
        ("portal: my tickets", customer, "get", "/portal/", None, {}),
        ("portal: ticket page", customer, "get", f"/portal/tickets/{customer_ticket.pk}/",
         None, {}),
        ("portal: new ticket form", customer, "get", "/portal/tickets/new/", None, {}),
        ("help center search", customer, "get", "/help/search/?q=password+reset", None, {}),
        ("api: list", Client(), "get", "/api/v1/tickets/?status=new", None, api),
        ("api: ticket", Client(), "get", f"/api/v1/tickets/{open_ticket.pk}/", None, api),
    ]
    if args.writes:  # these add replies and tickets to the database
        pages += [
            ("reply (htmx)", agent, "post", f"/agent/tickets/{open_ticket.pk}/reply/",
             {"body": "We are looking into it.", "visibility": "note"}, htmx),
            ("portal: file ticket", customer, "post", "/portal/tickets/new/",
             {"subject": "Export fails", "description": "Since this morning."}, {}),
            ("api: create", Client(), "post", "/api/v1/tickets/",
             {"subject": "Monitoring alert", "description": "From our integration."},
             api_customer),
        ]
    sql_ms: list[float] = []

    def timing(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_ms.append((time.perf_counter() - start) * 1000)

    print(f"{'page':30} {'mean ms':>8} {'p95 ms':>8} {'cpu ms':>8} {'sql ms':>8} "
          f"{'queries':>8} {'KB':>6}")
    for name, client, method, url, data, extra in pages:
        def request(client=client, method=method, url=url, data=data, extra=extra):
            return getattr(client, method)(url, data, **extra)

        response = request()  # warm: imports, template loading, caches
        if response.status_code not in (200, 201, 302):
            print(f"{name:30} status {response.status_code}")
            continue
        walls, cpus, sqls, counts = [], [], [], []
        with connection.execute_wrapper(timing):
            for _ in range(args.repeat):
                sql_ms.clear()
                start, cpu = time.perf_counter(), time.process_time()
                response = request()
                walls.append((time.perf_counter() - start) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
                sqls.append(sum(sql_ms))
                counts.append(len(sql_ms))
        walls.sort()
        p95 = walls[max(0, int(len(walls) * 0.95) - 1)]
        print(f"{name:30} {statistics.mean(walls):8.1f} {p95:8.1f} {statistics.mean(cpus):8.1f} "
              f"{statistics.mean(sqls):8.1f} {statistics.mean(counts):8.0f} "
              f"{len(response.content) / 1024:6.0f}")
        if name == args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.repeat):
                request()
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
