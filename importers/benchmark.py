"""A large django-helpdesk database for the import benchmark, written straight into its
schema (COPY on PostgreSQL): seeding a million tickets through its models would take hours.

The schema comes from django-helpdesk's own migrations (importers.dh_env); the rows follow
what its code writes: an opening follow-up repeating the description, replies and notes,
status follow-ups with their "Status" ticket change, CCs and a custom field on some
tickets. Deterministic for a given seed.
"""
from __future__ import annotations

import random
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

CHUNK = 20_000
# Closed, resolved, duplicate for tickets older than a month; the backlog is recent (as in
# devdata.seeding): 40 % of the last month's tickets are open, 0.2 % of older ones.
DONE_MIX = ((4, 89), (3, 10), (5, 1))
OPEN_MIX = ((1, 90), (2, 10))
LABELS = {1: "Open", 2: "Reopened", 3: "Resolved", 4: "Closed", 5: "Duplicate"}
WORDS = ("login vpn export invoice timeout error sync webhook password report api token "
         "mobile browser certificate refund crash slow upload billing permission").split()


class Target:
    """Rows into one database: COPY through psycopg, or executemany on SQLite."""

    def __init__(self, location: str) -> None:
        self.postgres = location.startswith(("postgres://", "postgresql://"))
        if self.postgres:
            import psycopg

            self.conn = psycopg.connect(location)
        else:
            self.conn = sqlite3.connect(location)

    def write(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        names = ", ".join(columns)
        if self.postgres:
            with self.conn.cursor() as cur, cur.copy(
                    f"COPY {table} ({names}) FROM STDIN") as copy:  # our own identifiers
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(columns))
            rows = [tuple(v.isoformat(sep=" ") if isinstance(v, datetime) else
                          int(v.total_seconds() * 1e6) if isinstance(v, timedelta) else v
                          for v in row) for row in rows]
            self.conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",  # noqa: S608
                                  rows)

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        if self.postgres:
            with self.conn.cursor() as cur:
                for table in ("auth_user", "helpdesk_queue", "helpdesk_ticket",
                              "helpdesk_followup"):
                    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                                f"(SELECT max(id) FROM {table}))")
                cur.execute("ANALYZE")
            self.conn.commit()
        self.conn.close()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def generate(location: str, *, tickets: int, followups: int = 3, seed: int = 27,
             log: Callable[[str], None] = print) -> dict[str, int]:
    """Fill a migrated, empty django-helpdesk database; returns the rows written per table."""
    rng = random.Random(seed)
    target = Target(location)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=730)
    agents, customers = 50, max(tickets // 20, 10)
    counts = {}
    began = time.perf_counter()
    joined = start - timedelta(days=30)
    domains = max(customers // 8, 1)

    def email(i: int) -> str:
        return (f"agent{i}@support.example" if i <= agents
                else f"customer{i}@org{i % domains}.example")

    users = [(i, "!", False, i <= agents, f"user{i}", "Agent" if i <= agents else "Customer",
              str(i), email(i), True, joined) for i in range(1, agents + customers + 1)]
    target.write("auth_user", ("id", "password", "is_superuser", "is_staff", "username",
                               "first_name", "last_name", "email", "is_active", "date_joined"),
                 users)
    counts["auth_user"] = len(users)
    queues = [(i, name, name.lower(), True, True, False, True)
              for i, name in enumerate(("Support", "Billing", "Engineering", "Sales", "Ops"), 1)]
    target.write("helpdesk_queue", ("id", "title", "slug", "allow_public_submission",
                                    "allow_email_submission", "email_box_ssl",
                                    "enable_notifications_on_email_events"), queues)
    target.write("helpdesk_customfield", ("id", "name", "label", "data_type",
                                          "empty_selection_list", "required", "staff_only",
                                          "ordering"),
                 [(1, "plan", "Plan", "varchar", False, False, False, 1)])
    target.commit()
    done_statuses, done_weights = zip(*DONE_MIX, strict=True)
    open_statuses, open_weights = zip(*OPEN_MIX, strict=True)
    fid = 0
    totals = dict.fromkeys(("helpdesk_ticket", "helpdesk_followup", "helpdesk_ticketchange",
                            "helpdesk_ticketcc", "helpdesk_ticketcustomfieldvalue"), 0)
    for lo in range(1, tickets + 1, CHUNK):
        t_rows, f_rows, c_rows, cc_rows, v_rows = [], [], [], [], []
        for tid in range(lo, min(lo + CHUNK, tickets + 1)):
            created = start + timedelta(seconds=(tid / tickets) * 729 * 86400)
            recent = now - created < timedelta(days=30)
            if rng.random() < (0.4 if recent else 0.002):
                status = rng.choices(open_statuses, open_weights)[0]
            else:
                status = rng.choices(done_statuses, done_weights)[0]
            customer = rng.randint(agents + 1, agents + customers)
            agent = rng.randint(1, agents)
            queue = rng.randint(1, len(queues))
            description = _sentence(rng, 14)
            at = created
            f_rows.append((fid := fid + 1, tid, at, "Ticket Opened", description, True, None,
                           None))
            for n in range(1, followups):
                at = at + timedelta(hours=rng.randint(1, 30))
                last = n == followups - 1
                new_status = status if last and status != 1 else None
                public = rng.random() > 0.2
                f_rows.append((fid := fid + 1, tid, at, LABELS[new_status] if new_status
                               else "Comment", _sentence(rng, 20), public,
                               agent if n % 2 or not public else None, new_status))
                if new_status:
                    c_rows.append((fid, "Status", "Open", LABELS[new_status]))
            if status == 1 and at > now:
                at = now
            t_rows.append((tid, _sentence(rng, 6)[:200], queue, created, at,
                           email(customer),
                           agent if status != 1 or rng.random() < 0.6 else None, status,
                           False, description, None, rng.choices((1, 2, 3, 4, 5),
                                                                 (3, 11, 45, 30, 11))[0],
                           None, str(uuid.UUID(int=rng.getrandbits(128))),
                           max(tid - 1, 1) if status == 5 else None))
            if tid % 20 == 0:
                cc_rows.append((tid, None, f"cc{tid}@org{tid % 97}.example", True, False))
            if tid % 3 == 0:
                v_rows.append((tid, 1, rng.choice(("Free", "Pro", "Enterprise"))))
        target.write("helpdesk_ticket", (
            "id", "title", "queue_id", "created", "modified", "submitter_email",
            "assigned_to_id", "status", "on_hold", "description", "resolution", "priority",
            "due_date", "secret_key", "merged_to_id"), t_rows)
        target.write("helpdesk_followup", ("id", "ticket_id", "date", "title", "comment",
                                           "public", "user_id", "new_status"), f_rows)
        target.write("helpdesk_ticketchange", ("followup_id", "field", "old_value",
                                               "new_value"), c_rows)
        target.write("helpdesk_ticketcc", ("ticket_id", "user_id", "email", "can_view",
                                           "can_update"), cc_rows)
        target.write("helpdesk_ticketcustomfieldvalue", ("ticket_id", "field_id", "value"),
                     v_rows)
        target.commit()
        for table, rows in (("helpdesk_ticket", t_rows), ("helpdesk_followup", f_rows),
                            ("helpdesk_ticketchange", c_rows), ("helpdesk_ticketcc", cc_rows),
                            ("helpdesk_ticketcustomfieldvalue", v_rows)):
            totals[table] += len(rows)
        done = min(lo + CHUNK - 1, tickets)
        if done % 100_000 < CHUNK or done == tickets:
            log(f"  source: {done:,} tickets in {time.perf_counter() - began:.0f}s")
    target.close()
    counts.update(totals)
    return counts

