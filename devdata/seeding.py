"""Synthetic data for demos and load tests: a realistic helpdesk, written fast.

`seed()` generates organizations (a mix of support tiers), their customers, agents in
the four default teams, and months of tickets with conversations, escalations and an
audit trail, deterministically for a given seed.

It deliberately bypasses `tickets.services`: a million tickets through the services
would take hours. Instead rows are generated in chunks and written straight into the
tables (COPY on PostgreSQL, executemany elsewhere) with ids assigned here, while
keeping the invariants the services keep:

- a ticket's organization is its requester's organization, its team is the last team
  it was routed or escalated to, its assignee (if any) is a member of that team;
- statuses are consistent with the timestamps: resolved tickets have resolved_at,
  closed ones closed_at (auto-close delay after resolution), first_response_at is the
  first public agent reply, messages and events never predate the ticket nor follow
  "now";
- every ticket has a "created" event, every reply a reply/note event, every status
  reached a status event and every escalation an Escalation row with its packet.

Domain events are not dispatched (nothing happened "now"); apps that keep derived
state (SLA clocks...) should rebuild it from the rows if they need it.

Run it on a database nobody else writes to meanwhile: ids are pre-allocated.
"""
from __future__ import annotations

import functools
import math
import multiprocessing
import os
import random
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

from helpdesk import generators
from helpdesk.bulkload import BulkLoadError, RowWriter
from helpdesk.generators import Batch, Generator, Run, TicketHistory
from helpdesk.models import Membership, Organization, SupportTier, Team, User
from helpdesk.roles import Role, sync_roles
from sla.defaults import MATRIX as SLA_MATRIX
from sla.defaults import TIER_MULTIPLIERS as SLA_TIER
from tickets.changes import CHANGE_LOG_TRIGGERS
from tickets.models import (
    Category,
    Escalation,
    EventKind,
    Message,
    ProductArea,
    Tag,
    Ticket,
    TicketEvent,
)
from tickets.state_machine import TRANSITIONS, Status

Log = Callable[[str], None]

# Plain str values of the enums, read once: a million tickets read them tens of millions
# of times (an enum member's .value is a descriptor call).
_ASSIGNED = str(Status.ASSIGNED.value)
_CLOSED = str(Status.CLOSED.value)
_ENGINEERING = str(Status.ENGINEERING.value)
_ESCALATED = str(Status.ESCALATED.value)
_IN_PROGRESS = str(Status.IN_PROGRESS.value)
_NEW = str(Status.NEW.value)
_RESOLVED = str(Status.RESOLVED.value)
_TRIAGED = str(Status.TRIAGED.value)
_WAITING_ON_CUSTOMER = str(Status.WAITING_ON_CUSTOMER.value)
_WAITING_ON_THIRD_PARTY = str(Status.WAITING_ON_THIRD_PARTY.value)
_EV_CREATED = str(EventKind.CREATED.value)
_EV_ESCALATED = str(EventKind.ESCALATED.value)
_EV_FIELD = str(EventKind.FIELD.value)
_EV_NOTE = str(EventKind.NOTE.value)
_EV_REPLY = str(EventKind.REPLY.value)
_EV_STATUS = str(EventKind.STATUS.value)
_ESC_ENGINEERING = str(Escalation.Kind.ENGINEERING.value)
_ESC_TIER = str(Escalation.Kind.TIER.value)

HOUR = 3600.0
DAY = 86400.0
MONTH = 30.44 * DAY

# SLA resolution-ish targets used for --sla-due (the sla app owns the column later).
SLA_DUE_HOURS = {1: 4, 2: 8, 3: 24, 4: 72, 5: 120}

# When tickets arrive: weights by UTC weekday (Monday first) and UTC hour; the workforce
# generator staffs the same curve (`Run.demand`).
DAY_WEIGHTS = (1.0, 1.05, 1.0, 0.95, 0.85, 0.35, 0.3)
HOUR_WEIGHTS = (0.25, 0.2, 0.2, 0.25, 0.35, 0.5, 0.7, 0.9, 1.0, 1.0, 1.0, 0.95, 0.9, 0.95,
                1.0, 1.0, 0.95, 0.85, 0.7, 0.55, 0.45, 0.4, 0.35, 0.3)

# Generators run in a process of their own in a big PostgreSQL load (`_forked_batches`):
# the SLA clocks take as long as all the others together.
OWN_PROCESS = ("sla",)

TEAM_SLUGS = ("l1-general", "l2-technical", "l2-enterprise", "l3-specialty")


# --- options and report --------------------------------------------------------------

@dataclass
class SeedOptions:
    tickets: int = 1000
    orgs: int | None = None  # default: tickets / 20, between 5 and 50,000
    agents: int | None = None  # default: tickets / 5,000, between 8 and 200
    messages_per_ticket: float = 3.5
    seed: int = 1
    months: float = 6
    sla_due: bool = False
    open_share: float = 0.04  # share of tickets still open (the backlog)
    chunk_size: int = 10_000
    reply_events: bool = True  # a reply/note audit event per message, like the services
    # PostgreSQL: skip the foreign-key triggers while loading when allowed (superuser, no
    # other triggers on the tables); the generator only writes ids that exist.
    fast_load: bool = True
    password: str | None = None  # usable password for every seeded user; else unusable
    now: datetime | None = None  # anchor for "the last N months"; default: now (minute)
    # Generators of other apps (helpdesk/generators.py) not to run; "all" skips every one.
    skip: tuple[str, ...] = ()
    # Members the four teams had before the run work tickets too (the demo's accounts).
    include_existing_staff: bool = False
    # PostgreSQL, FK checks off, from this many tickets: indexes dropped during the load,
    # tickets and the SLA generator in processes of their own (see _forked_batches).
    bulk_from: int = 20_000

    def resolved_orgs(self) -> int:
        if self.orgs is not None:
            return max(1, self.orgs)
        return max(5, min(50_000, self.tickets // 20))

    def resolved_agents(self) -> int:
        if self.agents is not None:
            return max(4, self.agents)
        return max(8, min(200, self.tickets // 5000))


@dataclass
class SeedReport:
    organizations: int = 0
    customers: int = 0
    staff: int = 0
    tickets: int = 0
    messages: int = 0
    events: int = 0
    escalations: int = 0
    ticket_tags: int = 0
    open_tickets: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)  # rows written per table
    apps: dict[str, float] = field(default_factory=dict)  # seconds per generator

    @property
    def rows_generated(self) -> int:
        """Rows the generators of other apps wrote."""
        own = {"tickets_ticket", "tickets_message", "tickets_ticketevent",
               "tickets_escalation"}
        return sum(n for table, n in self.tables.items() if table not in own)

    @property
    def rows(self) -> int:
        return (self.organizations + self.customers + self.staff + self.tickets
                + self.messages + self.events + self.escalations + self.ticket_tags)


class SeedError(BulkLoadError):
    pass


# --- vocabulary ----------------------------------------------------------------------

FIRST_NAMES = (
    "Aisha Alex Amara Ana Andrea Anna Arjun Ben Bianca Carlos Chen Chloe Daniel David Diego "
    "Elena Emma Fatima Felix Gabriel Grace Hannah Hiro Ibrahim Ines Isabel Ivan Jakob James "
    "Jana Javier Jin Jonas Julia Kai Karim Kate Kenji Laila Lars Laura Leo Lina Lucas Luis "
    "Maja Marco Maria Mateo Maya Mei Mia Michael Mohammed Nadia Naomi Nina Noah Nora Olga "
    "Omar Oscar Paula Pedro Priya Rafael Ravi Rosa Ruth Sam Sara Sofia Stefan Tariq Tom "
    "Uma Valentina Victor Wei Yara Yusuf Zoe Adele Bruno Camille Dmitri Erik Farah Greta "
    "Hugo Ingrid Joao Kofi Lucia Malik Nils Oren Pia Quinn Rohan Selin Theo Ulla Vera Wanjiru"
).split()
LAST_NAMES = (
    "Abe Adeyemi Alvarez Andersen Bauer Becker Bianchi Brown Chen Costa Cruz Dubois Dupont "
    "Eriksson Fernandez Fischer Garcia Gomez Gonzalez Green Gupta Hansen Hernandez Hoffmann "
    "Ito Jansen Johansson Jones Kaya Khan Kim Kowalski Kumar Larsen Lee Lopez Martin Martinez "
    "Meyer Moreau Muller Murphy Nakamura Nguyen Nielsen Novak Okafor Olsen Park Patel Perez "
    "Petrov Popescu Ramirez Rossi Santos Sato Schmidt Schneider Silva Singh Smith Sousa "
    "Suzuki Tanaka Taylor Thomas Torres Van-Dijk Wagner Walker Wang Weber Williams Wilson "
    "Wong Yamamoto Yilmaz Zhang Ziegler Haddad Mensah Osei Rahman Sandoval Varga Wojcik"
).split()
_SYLLABLES = (
    "ar bel cor dan el fen gal hal in jor kal lum mar nor ost pel quin ros sol tam ul ven "
    "wex yor zan bri cre dro fla gra kro pra stra tri vo"
).split()
_SECTORS = (
    "Analytics Systems Logistics Labs Health Foods Capital Robotics Media Energy Software "
    "Retail Travel Insurance Motors Studios Networks Pharma Bank Learning Security Cloud "
    "Payments Mobility Games Biotech Freight Hotels Legal Marketing"
).split()
_SUFFIXES = ("", "", "", "Inc", "GmbH", "Ltd", "LLC", "SA", "BV", "AB", "Group", "Corp")
STAFF_DOMAIN = "support.helpdesk.example"
TIME_ZONES = ("UTC", "Europe/Berlin", "Europe/London", "America/New_York",
              "America/Los_Angeles", "Asia/Manila", "Asia/Tokyo", "Europe/Lisbon",
              "America/Sao_Paulo", "Australia/Sydney")

# Organizations: (tier, share of organizations, members min..max, tickets per member)
TIERS = (
    (SupportTier.ENTERPRISE, 0.02, (15, 60), 4.0),
    (SupportTier.BUSINESS, 0.08, (6, 25), 2.2),
    (SupportTier.PROFESSIONAL, 0.15, (3, 10), 1.4),
    (SupportTier.STARTER, 0.25, (2, 5), 1.0),
    (SupportTier.FREE, 0.50, (1, 3), 0.7),
)
# Priorities P1..P5 by tier (percent). How-to questions are never above P3 and feature
# requests are P4/P5, so overall this comes to about 3/11/45/30/11.
PRIORITY_WEIGHTS = {
    SupportTier.ENTERPRISE: (5, 17, 44, 25, 9),
    SupportTier.BUSINESS: (4, 16, 45, 26, 9),
    SupportTier.PROFESSIONAL: (3.5, 15, 45, 27, 9.5),
    SupportTier.STARTER: (3, 14, 45, 28, 10),
    SupportTier.FREE: (2, 11, 45, 30, 12),
}
CHANNEL_WEIGHTS = (("email", 45), ("web", 30), ("chat", 12), ("api", 8), ("phone", 5))
# Seconds until the first agent reply (median), by priority.
# Seconds until the first agent reply (median), by priority and tier: about a third of
# the default SLA target (sla/defaults.py) for that tier, so that most first responses
# meet it and a believable share (more at low tiers and busy hours) do not.
FIRST_RESPONSE = {p: {t: first.total_seconds() * float(SLA_TIER[t]) * share
                      for t, share in (("enterprise", 0.30), ("business", 0.33),
                                       ("professional", 0.36), ("starter", 0.4),
                                       ("free", 0.45))}
                  for p, (first, _, _) in SLA_MATRIX.items()}
AGENT_GAP = {1: 0.5 * HOUR, 2: 1.5 * HOUR, 3: 4 * HOUR, 4: 8 * HOUR, 5: 12 * HOUR}
# Customers answer urgent tickets sooner.
CUSTOMER_GAP = {1: 0.5 * HOUR, 2: 2 * HOUR, 3: 5 * HOUR, 4: 6 * HOUR, 5: 8 * HOUR}
STUCK_SHARE, STUCK_FACTOR = 0.06, 6.0
# Share of agent replies that ask the customer something and wait (clocks pause).
WAIT_SHARE = 0.45
# Final statuses that are not reached from "in progress": no waits before them.
WAITS_AFTER = frozenset(s.value for s in (Status.NEW, Status.TRIAGED, Status.ASSIGNED,
                                          Status.ESCALATED))
NOTE_GAP = 0.5 * HOUR

OPEN_MIX_L1 = (
    (Status.NEW, 20), (Status.TRIAGED, 10), (Status.ASSIGNED, 15), (Status.IN_PROGRESS, 25),
    (Status.WAITING_ON_CUSTOMER, 22), (Status.WAITING_ON_THIRD_PARTY, 8),
)
OPEN_MIX_ESCALATED = (
    (Status.ESCALATED, 28), (Status.ASSIGNED, 10), (Status.IN_PROGRESS, 30),
    (Status.WAITING_ON_CUSTOMER, 12), (Status.WAITING_ON_THIRD_PARTY, 5),
    (Status.ENGINEERING, 15),
)
WAITING_ON_CUSTOMER_REASONS = (
    "Waiting for a HAR file and console logs", "Asked for the exact error and timestamp",
    "Waiting for the IdP admin to check the SAML settings", "Asked for an example request id",
    "Waiting for confirmation that the workaround helps", "Asked for the affected user list",
)
WAITING_ON_THIRD_PARTY_REASONS = (
    "Waiting on the payment provider", "Waiting on the identity provider's support",
    "Waiting on the partner's integration team", "Waiting on the data center provider",
)

TAGS = (
    "vip", "bug", "regression", "churn-risk", "refund", "outage", "docs-gap", "mobile",
    "sso", "webhooks", "csv-export", "rate-limit", "invoice", "gdpr", "known-issue",
    "workaround-given", "needs-repro", "chrome", "safari", "api-v2", "onboarding",
)

VARIABLES: dict[str, Any] = {
    "saml_error": ("AADSTS50011", "AADSTS700016", "InvalidSignature", "InResponseTo mismatch",
                   "Audience restriction failed", "NameID missing", "AADSTS50105",
                   "SAML response expired"),
    "idp": ("Okta", "Azure AD", "Google Workspace", "OneLogin", "Ping Identity", "JumpCloud"),
    "browser": ("Chrome 126", "Firefox 127", "Safari 17.5", "Edge 125", "Chrome on Android",
                "Safari on iOS 17"),
    "endpoint": ("/v2/orders", "/v2/customers/{id}", "/v1/export", "/v2/webhooks",
                 "/v2/search", "/v1/reports/usage", "/v2/invoices", "/v2/users/bulk"),
    "status_code": ("500", "502", "503", "504", "429", "401", "403", "422"),
    "integration": ("Salesforce", "Slack", "Jira", "HubSpot", "Zendesk", "Shopify", "Stripe",
                    "Microsoft Teams", "Snowflake", "Google Sheets"),
    "report": ("Monthly usage", "SLA compliance", "Revenue by region", "Active users",
               "Audit log export", "Team performance", "Invoice history"),
    "feature": ("dark mode", "bulk edit for records", "custom fields on reports",
                "SCIM provisioning", "configurable audit log retention",
                "per-team dashboards", "scheduled exports to S3", "an Outlook add-in",
                "field-level permissions", "webhook retries with backoff"),
    "region": ("eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2", "eu-central-1"),
    "plan": ("Starter", "Professional", "Business", "Enterprise"),
    "artifact": ("HAR file", "screenshots", "console log", "request ids", "CSV sample",
                 "SAML trace", "server logs"),
    "since": ("this morning", "yesterday evening", "about an hour ago", "Monday",
              "the last release", "around 09:00 UTC"),
    "app_version": ("4.12.1", "4.12.3", "4.13.0", "5.0.2", "5.1.0"),
    "when": ("08:14", "09:32", "11:05", "13:47", "15:20", "17:58", "22:41"),
    "n": lambda rng, v: f"INV-{rng.randint(2023, 2025)}-{rng.randint(10000, 99999)}",
    "amount": lambda rng, v: f"${rng.randint(49, 9800):,}.{rng.choice(('00', '50', '99'))}",
    "user_count": lambda rng, v: str(rng.choice((3, 5, 12, 25, 40, 80, 150, 400))),
    "seconds": lambda rng, v: str(rng.randint(8, 95)),
    "rows": lambda rng, v: f"{rng.choice((12, 48, 150, 600, 1200, 4800)) * 1000:,}",
    "request_id": lambda rng, v: f"req_{rng.getrandbits(48):012x}",
    "internal_ref": lambda rng, v: f"IT-{rng.randint(1000, 99999)}",
    "host": lambda rng, v: f"{rng.choice(('hooks', 'api', 'events', 'int'))}.{v['domain']}",
    "percent": lambda rng, v: str(rng.choice((5, 10, 20, 30, 50, 100))),
    "jira": lambda rng, v: f"ENG-{rng.randint(1200, 9999)}",
}


@dataclass(frozen=True)
class CategoryContent:
    subjects: tuple[str, ...]
    descriptions: tuple[str, ...]
    first_replies: tuple[str, ...]
    agent_replies: tuple[str, ...]
    customer_replies: tuple[str, ...]
    resolutions: tuple[str, ...]
    notes: tuple[str, ...]
    troubleshooting: tuple[str, ...]
    areas: tuple[str | None, ...]
    tags: tuple[str, ...]
    escalate: float  # share of tickets L1 hands to L2
    l3: float  # share of escalated tickets that go on to L3
    weight: float  # share of all tickets
    pairs: tuple[tuple[int, ...], ...] = ()  # per subject: fitting descriptions


GENERIC_DESCRIPTIONS = (
    "Hi,\n\n{subject}. Can you please take a look?\n\nThanks,\n{customer}",
    "Hello support,\n\nAs the subject says: {subject_lower}. This started {since} and "
    "affects about {user_count} of our users.\n\nRegards,\n{customer}\n{org}",
    "{subject}.\n\nWe are on app version {app_version}. Let me know what information you "
    "need from us.\n\n{customer}",
)
GENERIC_CUSTOMER = (
    "Thanks for the quick reply. I've attached the {artifact} you asked for.",
    "Any update on this? It's still happening for several of our users.",
    "We tried that, unfortunately no change on our side.",
    "That worked for me, but two colleagues still see the problem.",
    "Our internal reference is {internal_ref}; the last occurrence was at {when} UTC.",
    "Just following up: this is getting urgent for us, our team can't work normally.",
    "Sure, here you go. Let me know if you need anything else from us.",
)
GENERIC_AGENT = (
    "Thanks, I've received the {artifact} and I'm looking into it now.",
    "I've reproduced the problem on our side and shared it with the team. I'll update you "
    "as soon as I know more.",
    "Quick update: we've identified the likely cause and are testing a fix.",
    "Could you confirm whether this affects all users or only some of them?",
    "Thanks for your patience. I'm still working on this and will get back to you today.",
)
GENERIC_NOTES = (
    "Checked the logs for {domain}: nothing unusual in the last 24h.",
    "Customer is on the {tier} plan; keep the CSM in the loop.",
    "Looks like the known issue {jira}, linking for reference.",
    "Reproduced in staging with a test account.",
    "Asked L2 in chat, they suggest collecting a {artifact} first.",
    "Customer sounded frustrated on the last call, be careful with the tone.",
)
CUSTOMER_REOPEN = (
    "Sorry to reopen this, but the problem is back since {since}.",
    "This happened again today at {when} UTC, same symptoms as before.",
    "The fix worked for a day but now we see the same error again.",
)
AGENT_REOPEN = (
    "Thanks for letting us know. I've looked again and found a second cause; it's fixed now.",
    "Sorry about that. The first fix did not cover your region ({region}); it does now.",
)
ESCALATION_REASONS = {
    "l2-technical": ("Needs log access and deeper API debugging (L2 only).",
                     "Reproducible bug; needs technical investigation.",
                     "Outside L1 scope: integration configuration on our side."),
    "l2-enterprise": ("Enterprise customer, technical issue: dedicated L2 team.",
                      "Enterprise account with business impact; needs L2 Enterprise."),
    "l3-specialty": ("Needs a specialist: suspected platform bug.",
                     "Security-relevant, needs the L3 specialists.",
                     "Data correction required; only L3 can run it."),
    "engineering": ("Confirmed product bug, needs a code fix ({jira}).",
                    "Root cause is in the platform; engineering owns the fix ({jira})."),
}
EXPECTATIONS = (
    "Working again before end of business today.", "A workaround today, a fix this week.",
    "Regular updates every few hours until resolved.", "Root cause analysis for their management.",
    "Answer within the contractual SLA; they mentioned the renewal.",
)
NEXT_STEPS = (
    "Check the server logs around {when} UTC for {request_id}.",
    "Compare their configuration with a working tenant.",
    "Try to reproduce with their sample data, then decide on a fix.",
    "Confirm the timeline with the customer and check recent deploys.",
)

CONTENT: dict[str, CategoryContent] = {
    "login": CategoryContent(
        subjects=(
            "SSO login fails with SAML error {saml_error}",
            "Users can't sign in through {idp} since {since}",
            "Password reset email never arrives",
            "Locked out after enabling two-factor authentication",
            "Session expires every few minutes in {browser}",
            "New employees get 'account not provisioned' when signing in",
            "Login page loops back to itself after the {idp} redirect",
        ),
        descriptions=(
            "Hi,\n\nSince {since} none of our users can log in through {idp}. After the "
            "redirect the login page shows \"{saml_error}\". We haven't changed anything on "
            "our side as far as I know.\n\nAbout {user_count} people are affected and "
            "blocked.\n\nThanks,\n{customer}",
            "Hello, I requested a password reset three times today but no email arrives "
            "(I checked the spam folder). Can you help?\n\n{customer}",
            "After turning on two-factor authentication I changed phones and now I'm "
            "locked out of my account. What are my options?",
            "We keep getting logged out in {browser} every few minutes, which makes the app "
            "unusable. Other browsers seem fine. Version {app_version}.",
        ),
        first_replies=(
            "Thanks for reaching out. Could you send us a SAML trace of a failed login "
            "and confirm when the {idp} certificate was last rotated?",
            "I'm sorry you're locked out. I've sent a verification link to the account "
            "owner; once confirmed I can reset the second factor for you.",
            "Thanks for the report. Could you tell me the exact time of a failed attempt "
            "and whether this affects all users or only some?",
        ),
        agent_replies=(
            "The assertion we receive is signed with a certificate that doesn't match the "
            "one uploaded in your SSO settings. Could your {idp} admin check it?",
            "Our mail logs show the reset emails were rejected by your mail server. Please "
            "ask IT to allow mail from our domain.",
        ),
        customer_replies=(
            "Our IdP admin says the certificate was renewed last week, could that be it?",
            "I'll forward this to our IT team, they manage {idp}.",
        ),
        resolutions=(
            "Good news: after uploading the new certificate in the SSO settings your users "
            "can sign in again. I'll close this ticket; just reply if anything comes up.",
            "I've reset the second factor on your account, you can enroll your new phone "
            "at the next sign-in. Marking this as resolved.",
            "Your IT team allowed our sender domain and the reset emails arrive now. "
            "Resolving this ticket.",
        ),
        notes=(
            "SAML trace shows an expired signing certificate on the IdP side.",
            "Verified the account owner by phone before resetting 2FA.",
        ),
        troubleshooting=(
            "Checked the IdP metadata, cleared sessions, reproduced with a test user.",
            "Verified mail logs and the user's account status; no lockout on our side.",
        ),
        areas=("sso", "sso", "web-app", "mobile-app"),
        tags=("sso", "onboarding", "chrome", "safari"),
        escalate=0.12, l3=0.1, weight=16,
        # description(s) that fit each subject; () = a generic one
        pairs=((0,), (0,), (1,), (2,), (3,), (), ()),
    ),
    "api-errors": CategoryContent(
        subjects=(
            "API returns {status_code} on {endpoint}",
            "Intermittent {status_code} errors from the REST API in {region}",
            "Rate limit (429) hit much earlier than documented",
            "POST {endpoint} times out after {seconds}s",
            "API token suddenly rejected with 401",
            "Pagination on {endpoint} returns duplicate records",
        ),
        descriptions=(
            "Hi team,\n\nSince {since} our integration gets HTTP {status_code} from "
            "{endpoint}. Example request id: {request_id}. About {percent}% of calls fail; "
            "retrying sometimes helps.\n\n{customer}",
            "We are being rate limited at a fraction of the documented limit. Our job runs "
            "every few minutes and has worked for months.",
            "Requests to {endpoint} hang for {seconds} seconds and then time out. This "
            "breaks our nightly sync.",
        ),
        first_replies=(
            "Thanks for the request id. Could you send two or three more failing request "
            "ids with timestamps so we can trace them?",
            "Thanks for the details. Are you calling us from a single IP or several? That "
            "affects how the rate limit is counted.",
        ),
        agent_replies=(
            "The failing requests all hit one node in {region}; we've taken it out of "
            "rotation while we investigate.",
            "Your job sends the same request in parallel from {user_count} workers, which "
            "counts against one key. Could you add a small jitter?",
        ),
        customer_replies=(
            "Here are more request ids: {request_id}, plus two from {when} UTC.",
            "We use a single egress IP, all calls go through our gateway.",
        ),
        resolutions=(
            "We deployed a fix for the {status_code} errors on {endpoint}; error rates "
            "are back to normal. Resolving, but reply if you see it again.",
            "With the jitter in place your job stays well under the limit. Resolving.",
        ),
        notes=(
            "Traced {request_id}: upstream timeout in the search cluster.",
            "Error budget for {region} burned this morning, see the incident channel.",
        ),
        troubleshooting=(
            "Traced the request ids, ruled out auth and payload problems.",
            "Compared against the status page and recent deploys; errors are isolated.",
        ),
        areas=("rest-api", "rest-api", "webhooks"),
        tags=("api-v2", "rate-limit", "bug", "regression", "needs-repro"),
        escalate=0.45, l3=0.15, weight=12,
        # description(s) that fit each subject; () = a generic one
        pairs=((0,), (0,), (1,), (2,), (), ()),
    ),
    "billing": CategoryContent(
        subjects=(
            "Invoice {n} charged twice",
            "Please update the billing address on our invoices",
            "Why did our bill go up this month?",
            "Downgrade to the {plan} plan",
            "VAT number missing on invoice {n}",
            "Refund request for unused seats",
        ),
        descriptions=(
            "Hello,\n\nOur credit card was charged twice for invoice {n} ({amount}). "
            "Please refund the duplicate charge.\n\nRegards,\n{customer}",
            "Our finance team needs the new company address on all future invoices.",
            "The last invoice is {amount}, noticeably more than usual, and we didn't add "
            "users. Can you explain the difference?",
            "We'd like to move to the {plan} plan at the end of the current term.",
        ),
        first_replies=(
            "Thanks for letting us know. I can see two payments for {n}; I've asked our "
            "billing team to refund the duplicate.",
            "Happy to help. Could you confirm the legal entity name and VAT number to put "
            "on the invoices?",
        ),
        agent_replies=(
            "The increase comes from {user_count} additional active users billed pro rata. "
            "I've attached the breakdown.",
            "The refund has been issued; it usually shows up within 5-10 business days.",
        ),
        customer_replies=(
            "Thanks, our finance team will check the breakdown.",
            "Could you also send a corrected invoice for our records?",
        ),
        resolutions=(
            "The duplicate charge of {amount} has been refunded and a credit note is "
            "attached. Resolving this ticket.",
            "Your billing details are updated and will appear on the next invoice. "
            "Resolving.",
        ),
        notes=("Refund approved by finance, reference {internal_ref}.",
               "Customer is up for renewal next quarter, handle with care."),
        troubleshooting=("Checked payment provider logs and the invoice history.",),
        areas=(None, None, "web-app"),
        tags=("invoice", "refund", "churn-risk"),
        escalate=0.04, l3=0.0, weight=12,
        # description(s) that fit each subject; () = a generic one
        pairs=((0,), (1,), (2,), (3,), (), ()),
    ),
    "integrations": CategoryContent(
        subjects=(
            "Webhook deliveries to {host} time out",
            "{integration} sync stopped working after the update",
            "Duplicate records created by the {integration} connector",
            "OAuth connection to {integration} keeps expiring",
            "Webhook signature verification fails",
        ),
        descriptions=(
            "Hi,\n\nSince {since} webhook deliveries to {host} fail with a timeout after "
            "{seconds}s. Our endpoint responds within 200 ms when we test it directly.\n\n"
            "{customer}",
            "The {integration} connector hasn't synced since {since}. The status page in "
            "the app says 'last sync failed' without details.",
            "Every sync from {integration} creates duplicates of existing records. We now "
            "have about {rows} duplicates.",
        ),
        first_replies=(
            "Thanks for reporting this. Could you check whether {host} accepts connections "
            "from our published IP ranges?",
            "Thanks. Could you reconnect {integration} under Settings > Integrations and "
            "tell me whether the next sync succeeds?",
        ),
        agent_replies=(
            "Our delivery logs show TLS handshake failures against {host}; your certificate "
            "chain seems incomplete.",
            "The connector was using a token revoked on the {integration} side. "
            "Reconnecting with an admin account should fix it.",
        ),
        customer_replies=(
            "Our network team added your IP ranges to the allow list.",
            "Reconnected with the admin account, the first sync is running now.",
        ),
        resolutions=(
            "Deliveries to {host} succeed again and we replayed the failed events from "
            "the last 24 hours. Resolving.",
            "The {integration} sync runs normally again and we've cleaned up the "
            "duplicates. Resolving this ticket.",
        ),
        notes=("Delivery logs show repeated TLS errors for {host}.",
               "Connector bug with {integration} pagination, see {jira}."),
        troubleshooting=("Replayed a delivery, checked TLS and firewall, tested with a "
                         "request bin.",),
        areas=("webhooks", "webhooks", "rest-api"),
        tags=("webhooks", "bug", "known-issue"),
        escalate=0.40, l3=0.1, weight=11,
        # description(s) that fit each subject; () = a generic one
        pairs=((0,), (1,), (2,), (), ()),
    ),
    "performance": CategoryContent(
        subjects=(
            "Dashboard takes {seconds}s to load",
            "App very slow for users in {region}",
            "The {report} report times out",
            "Search is slow since {since}",
            "Mobile app freezes when opening large lists",
        ),
        descriptions=(
            "Since {since} the dashboard takes around {seconds} seconds to load for "
            "everyone in our team. It used to be instant.",
            "Our users in {region} report the app is very slow, pages take {seconds}s. "
            "Colleagues elsewhere are fine.",
            "The {report} report for the last quarter never finishes and shows a timeout.",
        ),
        first_replies=(
            "Thanks for the report. Could you send a HAR file captured while the page is "
            "slow? That shows where the time goes.",
            "Thanks. Which report filters do you use? Large date ranges can be slow.",
        ),
        agent_replies=(
            "The HAR file shows the time is spent in one query for the activity widget. "
            "We've found the cause and are rolling out a fix.",
            "As a workaround, splitting the report into monthly ranges works while we "
            "optimise it.",
        ),
        customer_replies=("Attached the HAR file, captured at {when} UTC.",
                          "Monthly ranges work, thanks for the workaround."),
        resolutions=(
            "The fix is deployed and the dashboard loads in under a second again. "
            "Resolving.",
            "The {report} report has been optimised and finishes in a few seconds now. "
            "Resolving this ticket.",
        ),
        notes=("Slow query on the activity table, missing index; reported as {jira}.",),
        troubleshooting=("Analysed the HAR file, ruled out network latency.",),
        areas=("web-app", "reporting", "mobile-app", "rest-api"),
        tags=("regression", "mobile", "known-issue"),
        escalate=0.45, l3=0.2, weight=8,
        # description(s) that fit each subject; () = a generic one
        pairs=((0,), (1,), (2,), (), ()),
    ),
    "data": CategoryContent(
        subjects=(
            "CSV export of {report} is missing rows",
            "Import of {rows} records failed halfway",
            "Deleted records by mistake, can you restore them?",
            "Numbers in the {report} report don't match the raw data",
            "Need a full data export for our audit",
        ),
        descriptions=(
            "The CSV export of {report} only contains part of the data; the app shows "
            "{rows} records but the file has fewer.",
            "We imported {rows} records and the import stopped halfway with 'row 5012: "
            "invalid date'. Now we don't know what was imported.",
            "One of our admins deleted a project by mistake yesterday. Is there a way to "
            "restore it?",
        ),
        first_replies=(
            "Thanks for reporting this. Could you share the export settings you used "
            "(filters, date range, time zone)?",
            "I'm sorry to hear that. Deleted data is kept for 30 days, so we can likely "
            "restore it. Could you confirm the project name and when it was deleted?",
        ),
        agent_replies=(
            "Exports were cut at 100,000 rows because of a limit; we've raised it for "
            "your account.",
            "The import stopped at a row with a date in an unsupported format; everything "
            "before it was imported.",
        ),
        customer_replies=("The project was called 'Q3 launch', deleted around {when} UTC.",
                          "We used the default settings, no filters."),
        resolutions=(
            "The project has been restored with all its records. Resolving.",
            "The export now contains all {rows} rows. Resolving this ticket.",
        ),
        notes=("Restore requested from the backup team, ETA 2 hours.",),
        troubleshooting=("Checked the export job logs and row counts.",),
        areas=("reporting", "rest-api", "web-app"),
        tags=("csv-export", "gdpr", "bug"),
        escalate=0.25, l3=0.35, weight=9,
        # description(s) that fit each subject; () = a generic one
        pairs=((0,), (1,), (2,), (), ()),
    ),
    "security": CategoryContent(
        subjects=(
            "Suspicious login attempts on our account",
            "Security questionnaire for our vendor review",
            "Request for the latest SOC 2 report",
            "Possible XSS in a shared link",
            "Need audit logs of admin actions for {since}",
        ),
        descriptions=(
            "We received alerts about failed login attempts from unknown IPs on several "
            "of our accounts. Can you check whether anything got through?",
            "Our security team needs the attached vendor questionnaire completed by the end "
            "of the month.",
            "A researcher in our team thinks a shared link renders user input unescaped. "
            "Details attached; please treat as confidential.",
        ),
        first_replies=(
            "Thank you for reporting this, we take it seriously. I've passed it to our "
            "security team and will keep you updated.",
            "Thanks, I'll get the questionnaire to our security team.",
        ),
        agent_replies=(
            "Our review found no successful logins from those IPs; they were blocked by "
            "rate limiting. We recommend enforcing SSO for all users.",
            "The report is available under NDA; I've sent the NDA for signature.",
        ),
        customer_replies=("Thanks. The NDA is signed and attached.",),
        resolutions=(
            "The questionnaire is complete and attached. Resolving.",
            "The issue has been confirmed and fixed; thank you for the responsible "
            "disclosure. Resolving.",
        ),
        notes=("Security team confirmed: no successful logins from the reported IPs.",),
        troubleshooting=("Collected the IPs and timestamps, checked the auth logs.",),
        areas=("sso", "web-app", "rest-api"),
        tags=("gdpr", "vip"),
        escalate=0.5, l3=0.6, weight=4,
        # description(s) that fit each subject; () = a generic one
        pairs=((0,), (1,), (), (2,), ()),
    ),
    "feature-request": CategoryContent(
        subjects=(
            "Feature request: {feature}",
            "Would love to see {feature}",
            "Any plans for {feature}?",
        ),
        descriptions=(
            "Hi! It would help our team a lot if the product supported {feature}. Right "
            "now we work around it manually.",
            "Is {feature} on the roadmap? Several of our {user_count} users asked for it.",
        ),
        first_replies=(
            "Thanks for the suggestion! I've added your vote for {feature} to our product "
            "feedback board.",
        ),
        agent_replies=("The product team is considering {feature} for a later release.",),
        customer_replies=("Great, thanks. Please let us know when there's news.",),
        resolutions=(
            "I've logged your request with the product team and linked this ticket, so "
            "you'll hear from us when it ships. Resolving for now.",
        ),
        notes=("Added to the feedback board, {user_count} votes so far.",),
        troubleshooting=("Logged on the feedback board.",),
        areas=("web-app", "reporting", "mobile-app"),
        tags=("onboarding",),
        escalate=0.02, l3=0.0, weight=10,
        # description(s) that fit each subject; () = a generic one
        pairs=((0, 1), (0, 1), (0, 1)),
    ),
    "how-to": CategoryContent(
        subjects=(
            "How do I add a new user to our account?",
            "How can I change the owner of a project?",
            "Where can I find the {report} report?",
            "How do I set up {integration}?",
            "Can I schedule exports?",
            "How do I change my email address?",
        ),
        descriptions=(
            "Hi, quick question: how do I do this? I couldn't find it in the help center.",
            "We're new to the product and want to set up {integration}. Is there a guide?",
            "Where do I find the {report} report? My manager needs it every month.",
        ),
        first_replies=(
            "Great question! You can do this under Settings > Users; here's the article "
            "with the steps.",
            "Here's our step-by-step guide for {integration}; it takes about ten minutes.",
        ),
        agent_replies=("Only admins can see that setting; your admin can grant you access.",),
        customer_replies=("Found it, thanks!", "I don't see that menu, is it plan dependent?"),
        resolutions=(
            "Glad that helped! I'll resolve this ticket; reply anytime if you have more "
            "questions.",
        ),
        notes=("Help center article is outdated, flagged to docs.",),
        troubleshooting=("Shared the help center article.",),
        areas=("web-app", "reporting", "mobile-app", None),
        tags=("docs-gap", "onboarding"),
        escalate=0.03, l3=0.0, weight=18,
        # description(s) that fit each subject; () = a generic one
        pairs=((0,), (0,), (2,), (1,), (0,), (0,)),
    ),
}


class _Vars(dict):
    """Template variables, drawn on first use and then stable within one ticket."""

    __slots__ = ("rng",)

    def __missing__(self, key: str) -> str:
        gen = VARIABLES[key]
        value = gen(self.rng, self) if callable(gen) else self.rng.choice(gen)
        self[key] = value
        return value


def _org_names(rng: random.Random, count: int, taken: set[str]) -> list[tuple[str, str]]:
    """Unique, made-up organization names with a matching .example domain.

    The random draws do not depend on `taken` (names already in the database), so a
    seed gives the same data on any database; a clash only adds a number.
    """
    used_roots: set[tuple[str, str]] = set()
    out = []
    attempts = 0
    while len(out) < count:
        attempts += 1
        parts = rng.randint(2, 3) if attempts < count * 20 else 4
        root = "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()
        sector = rng.choice(_SECTORS)
        suffix = rng.choice(_SUFFIXES)
        if (root, sector) in used_roots or root.lower().startswith("acme"):
            continue
        used_roots.add((root, sector))
        base = f"{root} {sector}" + (f" {suffix}" if suffix else "")
        name, domain, n = base, f"{root.lower()}-{sector.lower()}", 1
        while name in taken:
            n += 1
            name = f"{base} {n}"
        taken.add(name)
        out.append((name, f"{domain}{'' if n == 1 else f'-{n}'}.example"))
    return out


def _split(total: int, shares: Sequence[float], minimum: int = 0) -> list[int]:
    """Split `total` by shares (largest remainder), each part at least `minimum`."""
    raw = [total * s / sum(shares) for s in shares]
    parts = [max(minimum, int(r)) for r in raw]
    order = sorted(range(len(raw)), key=lambda i: raw[i] - int(raw[i]), reverse=True)
    i = 0
    while sum(parts) < total:
        parts[order[i % len(order)]] += 1
        i += 1
    while sum(parts) > total:
        j = max(range(len(parts)), key=lambda k: parts[k])
        if parts[j] <= minimum:
            break
        parts[j] -= 1
    return parts


# --- the generator -------------------------------------------------------------------

TICKET_COLUMNS = (
    "id", "subject", "description", "requester_id", "organization_id", "priority",
    "category_id", "product_area_id", "channel", "team_id", "assignee_id", "status",
    "waiting_reason", "created_at", "updated_at", "status_changed_at", "first_response_at",
    "resolved_at", "closed_at", "reopen_count", "sla_due_at",
)
MESSAGE_COLUMNS = (
    "id", "ticket_id", "author_id", "is_public", "by_agent", "body", "channel", "created_at",
)
EVENT_COLUMNS = (
    "ticket_id", "actor_id", "created_at", "kind", "field", "before", "after", "note",
    "is_public",
)
ESCALATION_COLUMNS = (
    "ticket_id", "kind", "from_team_id", "to_team_id", "actor_id", "created_at",
    "issue_summary", "troubleshooting_done", "reason", "customer_expectation", "next_steps",
)
USER_COLUMNS = (
    "id", "password", "is_superuser", "username", "first_name", "last_name", "email",
    "is_staff", "is_active", "date_joined", "organization_id", "is_org_admin", "is_away",
    "time_zone",
)
ORG_COLUMNS = ("id", "name", "domain", "support_tier", "csm_id", "notes", "created_at")

_dt = datetime.fromtimestamp
STATUS = _EV_STATUS


@functools.cache
def _path(source: str, target: str) -> tuple[str, ...]:
    """Shortest chain of allowed transitions from `source` to `target` (the statuses
    after `source`), so the audit trail only ever shows moves the state machine allows."""
    if source == target:
        return ()
    previous: dict[Status, Status | None] = {Status(source): None}
    queue = deque([Status(source)])
    while queue:
        current = queue.popleft()
        for a, b in TRANSITIONS:
            if a != current or b in previous:
                continue
            previous[b] = current
            if b == Status(target):
                chain = [b]
                while previous[chain[-1]] != Status(source):
                    chain.append(previous[chain[-1]])
                return tuple(s.value for s in reversed(chain))
            queue.append(b)
    return (target,)


class Seeder:
    def __init__(self, options: SeedOptions, log: Log | None = None,
                 using: str = DEFAULT_DB_ALIAS) -> None:
        if options.tickets < 0:
            raise SeedError("--tickets must be zero or more")
        if options.months <= 0:
            raise SeedError("--months must be positive")
        self.o = options
        self.log = log or (lambda message: None)
        self.using = using
        self.rng = random.Random(options.seed)
        self.writer = RowWriter(using)
        anchor = options.now or datetime.now(UTC)
        self.now = anchor.replace(second=0, microsecond=0).timestamp()
        self.report = SeedReport()
        self.write_seconds = 0.0
        self.skip_fk_checks = False
        # PostgreSQL bulk load: (table, index name, definition) of the secondary indexes
        # dropped for the load, rebuilt after the last chunk.
        self.dropped_indexes: list[tuple[str, str, str]] = []
        self._indexes_dropped_on: set[type[models.Model]] = set()
        self.auto_close = float(getattr(settings, "HELPDESK_AUTO_CLOSE_DAYS", 4)) * DAY

    # reference data -------------------------------------------------------------------

    def _load_reference(self) -> None:
        teams = {t.slug: t for t in Team.objects.using(self.using).filter(slug__in=TEAM_SLUGS)}
        missing = set(TEAM_SLUGS) - set(teams)
        if missing:
            raise SeedError(f"Teams {sorted(missing)} are missing: run `manage.py migrate`.")
        self.teams = teams
        self.team_ids = {slug: t.pk for slug, t in teams.items()}
        self.team_names = {t.pk: t.name for t in teams.values()}
        self.team_slugs = {t.pk: slug for slug, t in teams.items()}
        self.categories = dict(Category.objects.using(self.using).values_list("slug", "pk"))
        self.areas = dict(ProductArea.objects.using(self.using).values_list("slug", "pk"))
        groups = dict(Group.objects.using(self.using).filter(name__in=Role.ALL)
                      .values_list("name", "pk"))
        if set(Role.ALL) - set(groups):
            sync_roles()
            groups = dict(Group.objects.using(self.using).filter(name__in=Role.ALL)
                          .values_list("name", "pk"))
        self.groups = groups
        existing = set(Tag.objects.using(self.using).filter(name__in=TAGS)
                       .values_list("name", flat=True))
        Tag.objects.using(self.using).bulk_create(
            [Tag(name=n) for n in TAGS if n not in existing], ignore_conflicts=True)
        self.tags = dict(Tag.objects.using(self.using).filter(name__in=TAGS)
                         .values_list("name", "pk"))
        self.cat_slugs = list(CONTENT)
        self.cat_cw = list(accumulate(CONTENT[s].weight for s in self.cat_slugs))
        self.channels = [c for c, _ in CHANNEL_WEIGHTS]
        self.channel_cw = list(accumulate(w for _, w in CHANNEL_WEIGHTS))
        self.priority_cw = {t: list(accumulate(w)) for t, w in PRIORITY_WEIGHTS.items()}
        self.open_l1 = [s.value for s, _ in OPEN_MIX_L1]
        self.open_l1_cw = list(accumulate(w for _, w in OPEN_MIX_L1))
        self.open_esc = [s.value for s, _ in OPEN_MIX_ESCALATED]
        self.open_esc_cw = list(accumulate(w for _, w in OPEN_MIX_ESCALATED))

    # people ---------------------------------------------------------------------------

    def _password_hash(self) -> str:
        return make_password(self.o.password) if self.o.password else make_password(None)

    def _seed_people(self) -> None:
        rng = self.rng
        o = self.o
        started = time.perf_counter()
        password = self._password_hash()
        usernames = set(User.objects.using(self.using).values_list("username", flat=True))

        def username_for(first: str, last: str) -> str:
            base = f"{first}.{last}".lower()
            name, n = base, 1
            while name in usernames:
                n += 1
                name = f"{base}{n}"
            usernames.add(name)
            return name

        # Organizations and their tiers.
        n_orgs = o.resolved_orgs()
        counts = _split(n_orgs, [t[1] for t in TIERS])
        if n_orgs >= 3:  # at least one enterprise and one business customer
            for idx in (0, 1):
                if counts[idx] == 0:
                    counts[idx] = 1
                    counts[4 if counts[4] > 1 else 3] -= 1
        tiers = [t for (t, *_), c in zip(TIERS, counts, strict=True) for _ in range(c)]
        rng.shuffle(tiers)
        taken = set(Organization.objects.using(self.using).values_list("name", flat=True))
        names = _org_names(rng, n_orgs, taken)

        # Staff: agents in teams (one lead per team), a manager, a QA reviewer, CSMs.
        n_agents = o.resolved_agents()
        per_team = _split(n_agents, (0.45, 0.25, 0.18, 0.12), minimum=1)
        n_premium = sum(1 for t in tiers if t in (SupportTier.ENTERPRISE, SupportTier.BUSINESS))
        n_csm = max(1, min(50, math.ceil(n_premium / 100))) if n_premium else 0
        staff_specs: list[tuple[str, str | None, bool]] = []  # (role, team slug, is_lead)
        for slug, count in zip(TEAM_SLUGS, per_team, strict=True):
            for i in range(count):
                staff_specs.append((Role.TEAM_LEAD if i == 0 else Role.AGENT, slug, i == 0))
        staff_specs.append((Role.MANAGER, None, False))
        staff_specs.append((Role.QA_REVIEWER, None, False))
        staff_specs.extend((Role.AGENT, None, False) for _ in range(n_csm))  # CSMs
        joined = self.now - 2 * 365 * DAY
        staff = []
        for _role, _slug, _lead in staff_specs:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            uname = username_for(first, last)
            staff.append(User(
                username=uname, first_name=first, last_name=last.replace("-", " "),
                email=f"{uname}@{STAFF_DOMAIN}", password=password, is_staff=False,
                date_joined=_dt(joined + rng.random() * 300 * DAY, UTC),
                time_zone=rng.choice(TIME_ZONES), is_away=rng.random() < 0.03,
            ))
        staff = User.objects.using(self.using).bulk_create(staff)
        if any(u.pk is None for u in staff):  # backends that don't return ids
            by_name = dict(User.objects.using(self.using).filter(
                username__in=[u.username for u in staff]).values_list("username", "pk"))
            for u in staff:
                u.pk = u.id = by_name[u.username]
        through = User.groups.through
        through.objects.using(self.using).bulk_create([
            through(user_id=u.pk, group_id=self.groups[role])
            for u, (role, _, _) in zip(staff, staff_specs, strict=True)
        ])
        Membership.objects.using(self.using).bulk_create([
            Membership(team_id=self.team_ids[slug], user_id=u.pk, is_lead=lead)
            for u, (_, slug, lead) in zip(staff, staff_specs, strict=True) if slug
        ])
        self.team_agents: dict[int, list[tuple[int, str, str]]] = {t: [] for t in self.team_names}
        for u, (_, slug, _) in zip(staff, staff_specs, strict=True):
            if slug:
                self.team_agents[self.team_ids[slug]].append(
                    (u.pk, u.first_name, f"{u.first_name} {u.last_name}"))
        csms = [u.pk for u, (role, slug, _) in zip(staff, staff_specs, strict=True)
                if role == Role.AGENT and slug is None]
        self.agent_zones = {u.pk: u.time_zone for u in staff}
        if o.include_existing_staff:
            seeded = {u.pk for u in staff}
            for membership in (Membership.objects.using(self.using)
                               .filter(team_id__in=list(self.team_names), user__is_active=True)
                               .exclude(user_id__in=seeded).select_related("user")
                               .order_by("user_id")):
                u = membership.user
                self.team_agents[membership.team_id].append(
                    (u.pk, u.first_name, f"{u.first_name} {u.last_name}"))
                self.agent_zones[u.pk] = u.time_zone
        self.staff_by_role: dict[str, list[int]] = {}
        for u, (role, slug, lead) in zip(staff, staff_specs, strict=True):
            key = "csm" if role == Role.AGENT and slug is None else (
                "lead" if lead else str(role))
            self.staff_by_role.setdefault(key, []).append(u.pk)
        self.report.staff = len(staff)

        # Organizations (ids assigned here) and their customers.
        org_start = self.writer.reserve_ids(Organization, n_orgs)
        tier_info = {t: (members, per_member) for t, _, members, per_member in TIERS}
        org_rows, members_of = [], []
        for i, (tier, (name, domain)) in enumerate(zip(tiers, names, strict=True)):
            org_id = org_start + i
            premium = tier in (SupportTier.ENTERPRISE, SupportTier.BUSINESS)
            csm = rng.choice(csms) if premium and csms else None
            created = self.now - o.months * MONTH - (30 + rng.random() * 4 * 365) * DAY
            org_rows.append((org_id, name, domain, tier.value, csm, "", _dt(created, UTC)))
            low, high = tier_info[tier][0]
            members_of.append((org_id, tier, domain, name, created, rng.randint(low, high)))
        self.report.organizations = self.writer.write(Organization, ORG_COLUMNS, org_rows)

        n_customers = sum(m[-1] for m in members_of)
        user_start = self.writer.reserve_ids(User, n_customers)
        customer_group = self.groups[Role.CUSTOMER]
        user_rows, group_rows = [], []
        self.customers: list[tuple] = []
        weights: list[float] = []
        uid = user_start
        for org_id, tier, domain, org_name, created, count in members_of:
            activity = rng.lognormvariate(0, 0.7) * tier_info[tier][1]
            for m in range(count):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                uname = username_for(first, last)
                joined_at = created + rng.random() * max(DAY, self.now - created - 30 * DAY)
                user_rows.append((
                    uid, password, False, uname, first, last.replace("-", " "),
                    f"{uname}@{domain}", False, True, _dt(joined_at, UTC), org_id,
                    m == 0 and tier != SupportTier.FREE, False,
                    "UTC" if rng.random() < 0.6 else rng.choice(TIME_ZONES),
                ))
                group_rows.append((uid, customer_group))
                self.customers.append((uid, org_id, tier, first, domain, org_name,
                                       f"{uname}@{domain}"))
                weights.append(activity * rng.lognormvariate(0, 0.6) * (1.6 if m == 0 else 1))
                uid += 1
        self.report.customers = self.writer.write(User, USER_COLUMNS, user_rows)
        self.writer.write(User.groups.through, ("user_id", "group_id"), group_rows)
        self.customer_cw = list(accumulate(weights))
        for model in (Organization, User, User.groups.through, Membership):
            self.writer.reset_sequence(model)
        self.report.phases["people"] = time.perf_counter() - started
        self.log(f"  {self.report.organizations:,} organizations, "
                 f"{self.report.customers:,} customers, {self.report.staff:,} staff "
                 f"in {self.report.phases['people']:.1f}s")

    # ticket timeline ------------------------------------------------------------------

    def _creation_times(self, n: int) -> list[float]:
        """Sorted creation times: busier on weekdays and office hours, growing slowly."""
        rng = self.rng
        start = self.now - self.o.months * MONTH
        hours = int((self.now - start) // HOUR) + 1
        day_w, hour_w = DAY_WEIGHTS, HOUR_WEIGHTS
        weights = []
        for h in range(hours):
            moment = _dt(start + h * HOUR, UTC)
            weights.append(day_w[moment.weekday()] * hour_w[moment.hour] * (0.8 + 0.4 * h / hours))
        slots = rng.choices(range(hours), cum_weights=list(accumulate(weights)), k=n)
        limit = self.now - 300
        rnd = rng.random
        times = [start + s * HOUR + rnd() * HOUR for s in slots]
        times = [t if t < limit else limit - rnd() * 3000 for t in times]
        times.sort()
        return times

    def _open_probability(self, times: list[float]) -> Callable[[float], float]:
        """Newer tickets are more likely still open; the mean matches --open-share."""
        now = self.now
        exp = math.exp

        def weight(t: float) -> float:
            return exp(-(now - t) / (4 * DAY)) + 0.01

        total = sum(weight(t) for t in times) or 1.0
        k = self.o.open_share * len(times) / total
        return lambda t: min(0.9, k * weight(t))

    # tickets --------------------------------------------------------------------------

    def _seed_tickets(self) -> None:
        o = self.o
        n = o.tickets
        if n == 0:
            return
        started = time.perf_counter()
        times = self._creation_times(n)
        self.p_open = self._open_probability(times)
        self.ticket_start = self.writer.reserve_ids(Ticket, n)
        self.next_message_id = self.writer.reserve_ids(Message, 0)
        rows_before = self.report.rows
        chunk = max(100, o.chunk_size)
        # On PostgreSQL a second thread (with its own connection) writes chunk k while
        # this one generates chunk k+1. Not inside a caller's transaction (tests): the
        # other connection could not see its uncommitted rows.
        parallel = (self.writer.postgres
                    and not connections[self.using].in_atomic_block)
        # A generated history is not a stream of changes for sync jobs (they start from
        # `start=now`), so the change-log triggers may stay off with the others.
        self.skip_fk_checks = parallel and o.fast_load and self.writer.can_skip_fk_checks(
            [Ticket, Message, TicketEvent, Escalation, Ticket.tags.through],
            ignore_triggers=CHANGE_LOG_TRIGGERS)
        if self.writer.postgres:
            self.log("  loading with "
                     + ("foreign-key triggers off (superuser, no other triggers)"
                        if self.skip_fk_checks else "foreign-key checks on")
                     + (", generating and writing in parallel" if parallel else ""))
        self.gen_seconds = 0.0
        width = len(f"{n:,}")

        def progress(done: int) -> None:
            elapsed = time.perf_counter() - started
            rows = self.report.rows - rows_before
            self.log(
                f"  tickets {done:>{width},}/{n:,} ({100 * done / n:5.1f}%)  "
                f"messages {self.report.messages:,}  events {self.report.events:,}  "
                f"{done / elapsed:,.0f} tickets/s  {rows / elapsed:,.0f} rows/s  "
                f"{elapsed:,.1f}s"
                + ("  |  " + "  ".join(f"{k} {v:,.1f}s" for k, v in self.report.apps.items())
                   if self.report.apps else "")
            )

        pool = ThreadPoolExecutor(max_workers=1) if parallel else None
        pending: tuple[Future, int] | None = None
        # Big loads only: below that, rebuilding costs more than maintaining.
        drop_indexes = parallel and o.fast_load and n >= o.bulk_from
        forked = (drop_indexes and self.skip_fk_checks and hasattr(os, "fork")
                  and any(g.tickets is not None for g in self.generators))
        if forked:
            self.log("  tickets generated and written by a second process, "
                     + ", ".join(OWN_PROCESS) + " by a third, the other generators here")
        batches = self._forked_batches(times, chunk) if forked else self._batches(times, chunk)
        try:
            for hi, batch in batches:
                if drop_indexes:
                    self._drop_indexes([Ticket, Message, TicketEvent, Escalation,
                                        Ticket.tags.through,
                                        *(model for model, _ in batch["generated"])])
                if pool is None:
                    self._write_chunk(batch)
                    progress(hi)
                    continue
                if pending is not None:
                    pending[0].result()
                    progress(pending[1])
                pending = (pool.submit(self._write_chunk, batch), hi)
            if pending is not None:
                future, done = pending
                pending = None
                future.result()
                progress(done)
        finally:
            if pool is not None:
                if pending is not None:
                    wait([pending[0]])
                pool.submit(lambda: connections[self.using].close()).result()
                pool.shutdown()
            batches.close()
        gen_s = self.gen_seconds
        self.report.phases["generate"] = gen_s
        self.report.phases["write"] = self.write_seconds
        self.report.phases["tickets"] = time.perf_counter() - started

    def _drop_indexes(self, models_: Sequence[type[models.Model]]) -> None:
        """Drop the secondary indexes of tables the load is about to write (on this
        thread's connection, in autocommit: a failed chunk cannot bring them back
        half-way); `_rebuild_indexes` builds them again, also after a failure."""
        for model in models_:
            if model in self._indexes_dropped_on:
                continue
            self._indexes_dropped_on.add(model)
            table = model._meta.db_table
            self.dropped_indexes += [(table, name, definition) for name, definition
                                     in self.writer.drop_secondary_indexes(model)]

    def _rebuild_indexes(self) -> None:
        """Build the dropped indexes, two at a time (two connections), biggest tables
        first; each table's build time is counted to the app that wrote it."""
        dropped, self.dropped_indexes = self.dropped_indexes, []
        self._indexes_dropped_on.clear()
        if not dropped:
            return
        started = time.perf_counter()
        tables = {table for table, _, _ in dropped}
        with connections[self.using].cursor() as cursor:
            cursor.execute("SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)",
                           [list(tables)])
            size = dict(cursor.fetchall())
        # Recreated with IF NOT EXISTS: a rerun after an interrupted one skips the built.
        work = sorted(((table, definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ",
                                                  1)) for table, _, definition in dropped),
                      key=lambda item: -size.get(item[0], 0))
        seconds: dict[str, float] = {}

        def build(item: tuple[str, str]) -> None:
            t0 = time.perf_counter()
            try:
                self.writer.create_indexes([item[1]])
            finally:
                connections[self.using].close()  # this worker thread's connection
                seconds[item[0]] = seconds.get(item[0], 0.0) + time.perf_counter() - t0

        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(build, item) for item in work]:
                future.result()
        own = {Ticket._meta.db_table, Message._meta.db_table, TicketEvent._meta.db_table,
               Escalation._meta.db_table, Ticket.tags.through._meta.db_table}
        for table, took in seconds.items():
            app = self.run_context.app_of.get(table)
            if app and table not in own:
                self._took(app, took)
        took = time.perf_counter() - started
        self.report.phases["indexes"] = took
        self.log(f"  indexes: {len(work)} secondary indexes of {len(tables)} tables "
                 f"rebuilt in {took:.1f}s")

    def _write_chunk(self, batch: dict[str, list[tuple]]) -> None:
        w = self.writer
        started = time.perf_counter()
        with transaction.atomic(using=self.using):
            if w.postgres:
                with w.connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                    if self.skip_fk_checks:
                        cursor.execute("SET LOCAL session_replication_role TO replica")
            self.report.tickets += w.write(Ticket, TICKET_COLUMNS, batch["tickets"])
            self.report.messages += w.write(Message, MESSAGE_COLUMNS, batch["messages"])
            self.report.events += w.write(TicketEvent, EVENT_COLUMNS, batch["events"])
            self.report.escalations += w.write(Escalation, ESCALATION_COLUMNS,
                                               batch["escalations"])
            self.report.ticket_tags += w.write(Ticket.tags.through, ("ticket_id", "tag_id"),
                                               batch["tags"])
            for (model, columns), rows in batch["generated"].items():
                self.run_context.count(model._meta.db_table, w.write(model, columns, rows))
            if w.postgres:  # keep the sequence ahead of the ids handed out so far
                w.reset_sequence(Message)
        self.write_seconds += time.perf_counter() - started

    def _batches(self, times: list[float], chunk: int) -> Iterator[tuple[int, dict]]:
        """(tickets done, rows) of every chunk, tickets and other apps' rows generated here."""
        for lo in range(0, len(times), chunk):
            hi = min(len(times), lo + chunk)
            t0 = time.perf_counter()
            batch = self._chunk(lo, times[lo:hi])
            self.gen_seconds += time.perf_counter() - t0
            yield hi, batch

    def _forked_batches(self, times: list[float], chunk: int) -> Iterator[tuple[int, dict]]:
        """The same chunks, in three processes instead of one thread holding the GIL: a
        forked child generates and writes the tickets' own rows (`_ticket_process`) and
        sends each chunk's histories here and to a second child, which runs the
        generators of `OWN_PROCESS` (`_generator_process`), while this one runs the
        others. Each generator draws from its own random stream in the same order as in
        `_batches`, so the data is the same; the second child sends its generators'
        state back for their `finish` hooks. The rows of the three commit apart, so this
        needs the foreign-key checks off."""
        # The child writes these; their indexes go before it starts.
        self._drop_indexes([Ticket, Message, TicketEvent, Escalation, Ticket.tags.through])
        everyone = self.generators
        away = [g for g in everyone if g.name in OWN_PROCESS and g.tickets is not None]
        self.generators = [g for g in everyone if g not in away]
        context = multiprocessing.get_context("fork")
        receive, send = context.Pipe(duplex=False)  # tickets -> here
        away_in, to_away = context.Pipe(duplex=False)  # tickets -> second child
        from_away, away_out = context.Pipe(duplex=False)  # second child -> here
        connections.close_all()  # each child opens its own
        apps_before = dict(self.report.apps)
        children = []
        if away:
            children.append(context.Process(target=self._generator_process,
                                            args=(away_in, away_out, away), daemon=True))
            children[-1].start()
        children.append(context.Process(
            target=self._ticket_process,
            args=([send, to_away] if away else [send], times, chunk), daemon=True))
        children[-1].start()
        for end in (send, away_in, to_away, away_out):
            end.close()
        finished = not away

        def from_second(block: bool) -> None:
            nonlocal finished
            while not finished and (block or from_away.poll()):
                message = from_away.recv()
                if message[0] == "error":
                    raise SeedError("A generator failed:\n" + message[1])
                if message[0] == "chunk":
                    for name, seconds in message[1].items():
                        self.report.apps[name] = apps_before.get(name, 0.0) + seconds
                    continue
                self._merge_second(message[1])
                finished = True

        done = False
        try:
            while not done:
                message = receive.recv()
                if message[0] == "error":
                    raise SeedError("Generating the tickets failed:\n" + message[1])
                if message[0] == "done":
                    _, open_tickets, write_s, table_seconds, gen_s = message
                    self.report.open_tickets += open_tickets
                    self.write_seconds += write_s
                    self.gen_seconds += gen_s
                    for table, seconds in table_seconds.items():
                        self.writer.seconds[table] = self.writer.seconds.get(table, 0.0) + seconds
                    done = True
                    continue
                _, hi, histories, counts = message
                report = self.report
                report.tickets += counts[0]
                report.messages += counts[1]
                report.events += counts[2]
                report.escalations += counts[3]
                report.ticket_tags += counts[4]
                t0 = time.perf_counter()
                generated = self._generate(histories)
                self.gen_seconds += time.perf_counter() - t0
                from_second(block=False)
                yield hi, {"tickets": [], "messages": [], "events": [], "escalations": [],
                           "tags": [], "generated": generated}
            from_second(block=True)
        finally:
            self.generators = everyone
            for child in children:
                if not (done and finished) and child.is_alive():
                    child.terminate()
                child.join()
            receive.close()
            from_away.close()

    def _merge_second(self, result: dict[str, Any]) -> None:
        """Take over what the second child (`_generator_process`) did: its generators'
        state and random streams for their `finish` hooks, the ids it handed out, the
        tables it wrote, its timings and the indexes it dropped."""
        run = self.run_context
        run.state.update(result["state"])
        run._rngs.update(result["rngs"])
        run._next.update(result["next"])
        for model in result["models"]:
            run.track(model, result["app_of"].get(model._meta.db_table))
        for table, n in result["tables"].items():
            run.count(table, n)
        for table, seconds in result["table_seconds"].items():
            self.writer.seconds[table] = self.writer.seconds.get(table, 0.0) + seconds
        self.dropped_indexes += result["dropped"]
        self.write_seconds += result["write_seconds"]
        self.gen_seconds += result["gen_seconds"]

    def _generator_process(self, receive: Any, send: Any, generators: list[Generator]) -> None:
        """The second forked child of `_forked_batches`: runs `generators` on every
        chunk's histories and writes their rows (a writer thread overlapping)."""
        try:
            run = self.run_context
            names = {g.name for g in generators}
            self.generators = generators
            seconds_before = dict(self.writer.seconds)
            tables_before = dict(self.report.tables)
            apps_before = dict(self.report.apps)
            dropped_before = len(self.dropped_indexes)
            self.write_seconds = 0.0
            pool = ThreadPoolExecutor(max_workers=1)
            pending: Future | None = None
            gen_s = 0.0
            while True:
                try:
                    message = receive.recv()
                except EOFError:  # the tickets' child stopped
                    break
                if message[0] != "chunk":
                    break
                t0 = time.perf_counter()
                rows = self._generate(message[2])
                gen_s += time.perf_counter() - t0
                self._drop_indexes([model for model, _ in rows])
                if pending is not None:
                    pending.result()
                pending = pool.submit(self._write_chunk, {
                    "tickets": [], "messages": [], "events": [], "escalations": [],
                    "tags": [], "generated": rows})
                send.send(("chunk", {name: self.report.apps.get(name, 0.0)
                                     - apps_before.get(name, 0.0) for name in names}))
            if pending is not None:
                pending.result()
            pool.submit(lambda: connections[self.using].close()).result()
            pool.shutdown()
            send.send(("done", {
                "state": {name: run.state[name] for name in names if name in run.state},
                "rngs": {name: rng for name, rng in run._rngs.items() if name in names},
                "next": {model: n for model, n in run._next.items()
                         if run.app_of.get(model._meta.db_table) in names},
                "models": [m for m in run.models if run.app_of.get(m._meta.db_table) in names],
                "app_of": dict(run.app_of),
                "tables": {t: n - tables_before.get(t, 0) for t, n in self.report.tables.items()
                           if n != tables_before.get(t, 0)},
                "table_seconds": {t: v - seconds_before.get(t, 0.0)
                                  for t, v in self.writer.seconds.items()
                                  if v != seconds_before.get(t, 0.0)},
                "dropped": self.dropped_indexes[dropped_before:],
                "write_seconds": self.write_seconds, "gen_seconds": gen_s}))
        except BaseException:
            send.send(("error", traceback.format_exc()))
        finally:
            send.close()
            os._exit(0)  # nothing of the parent's (atexit, open files) runs twice

    def _ticket_process(self, sends: list[Any], times: list[float], chunk: int) -> None:
        """The forked child of `_forked_batches` that generates and writes the tickets'
        own rows (a writer thread overlapping as in the parent) and sends each chunk's
        histories to the generators' processes."""
        send = sends[0]
        try:
            before = dict(self.writer.seconds)
            self.write_seconds = 0.0
            open_before = self.report.open_tickets
            pool = ThreadPoolExecutor(max_workers=1)
            pending: Future | None = None
            gen_s = 0.0
            for lo in range(0, len(times), chunk):
                hi = min(len(times), lo + chunk)
                t0 = time.perf_counter()
                out = self._chunk_core(lo, times[lo:hi])
                gen_s += time.perf_counter() - t0
                message = ("chunk", hi, out.pop("histories"), (
                    len(out["tickets"]), len(out["messages"]), len(out["events"]),
                    len(out["escalations"]), len(out["tags"])))
                for each in sends:
                    each.send(message)
                out["generated"] = {}
                if pending is not None:
                    pending.result()
                pending = pool.submit(self._write_chunk, out)
            if pending is not None:
                pending.result()
            pool.submit(lambda: connections[self.using].close()).result()
            pool.shutdown()
            tables = {t: s - before.get(t, 0.0) for t, s in self.writer.seconds.items()}
            for each in sends[1:]:
                each.send(("end",))
            send.send(("done", self.report.open_tickets - open_before, self.write_seconds,
                       tables, gen_s))
        except BaseException:
            send.send(("error", traceback.format_exc()))
        finally:
            for each in sends:
                each.close()
            os._exit(0)  # nothing of the parent's (atexit, open files) runs twice

    def _chunk(self, offset: int, times: list[float]) -> dict[str, list[tuple]]:
        out = self._chunk_core(offset, times)
        out["generated"] = self._generate(out.pop("histories"))
        return out

    def _chunk_core(self, offset: int, times: list[float]) -> dict[str, list]:
        """The tickets' own rows of a chunk, and their histories for the generators."""
        rng = self.rng
        n = len(times)
        customers = rng.choices(self.customers, cum_weights=self.customer_cw, k=n)
        cats = rng.choices(self.cat_slugs, cum_weights=self.cat_cw, k=n)
        channels = rng.choices(self.channels, cum_weights=self.channel_cw, k=n)
        out: dict[str, list[tuple]] = {
            "tickets": [], "messages": [], "events": [], "escalations": [], "tags": [],
            "histories": [],
        }
        first_id = self.ticket_start + offset
        for j in range(n):
            self._ticket(first_id + j, times[j], customers[j], cats[j], channels[j], out)
        return out

    def _generate(self, histories: list[TicketHistory]) -> dict:
        """Every registered generator's rows for one chunk of ticket histories."""
        batch = Batch(tickets=histories)
        for generator in self.generators:
            if generator.tickets is not None:
                t0 = time.perf_counter()
                self.run_context.current = generator.name
                try:
                    generator.tickets(self.run_context, batch)
                finally:
                    self.run_context.current = None
                self._took(generator.name, time.perf_counter() - t0)
                for model, _ in batch.rows:
                    self.run_context.track(model, generator.name)
        return batch.rows

    def _took(self, name: str, seconds: float) -> None:
        self.report.apps[name] = self.report.apps.get(name, 0.0) + seconds

    def _ticket(self, tid: int, created: float, customer: tuple, cat: str, channel: str,
                out: dict[str, list[tuple]]) -> None:
        rng = self.rng
        rnd = rng.random
        lognorm = rng.lognormvariate
        now = self.now
        uid, org_id, tier, first_name, domain, org_name, email = customer
        content = CONTENT[cat]
        variables = _Vars(customer=first_name, domain=domain, org=org_name, tier=tier.label)
        variables.rng = rng

        # What it is.
        priority = rng.choices((1, 2, 3, 4, 5), cum_weights=self.priority_cw[tier])[0]
        if cat == "feature-request":
            priority = 4 if rnd() < 0.6 else 5
        elif cat == "how-to" and priority < 3:
            priority = 3
        s_index = int(rnd() * len(content.subjects))
        subject = content.subjects[s_index].format_map(variables)[:255]
        fitting = content.pairs[s_index] if s_index < len(content.pairs) else ()
        if fitting:
            template = content.descriptions[rng.choice(fitting)]
        else:
            variables["subject"] = subject
            variables["subject_lower"] = subject[:1].lower() + subject[1:]
            template = rng.choice(GENERIC_DESCRIPTIONS)
        description = template.format_map(variables)
        area = rng.choice(content.areas)
        area_id = self.areas.get(area) if area else None

        # Where it went: L1 first, then maybe L2 (enterprise has its own) and L3.
        l1 = self.team_ids["l1-general"]
        chain = [l1]
        if rnd() < content.escalate:
            if tier == SupportTier.ENTERPRISE and rnd() < 0.85:
                chain.append(self.team_ids["l2-enterprise"])
            else:
                chain.append(self.team_ids["l2-technical"])
            if rnd() < content.l3:
                chain.append(self.team_ids["l3-specialty"])
        team = chain[-1]
        escalated = len(chain) > 1

        # Open or done, and in which status.
        is_open = rnd() < self.p_open(created)
        if is_open:
            if escalated:
                status = rng.choices(self.open_esc, cum_weights=self.open_esc_cw)[0]
            else:
                status = rng.choices(self.open_l1, cum_weights=self.open_l1_cw)[0]
                if now - created < 2 * HOUR and rnd() < 0.6:
                    status = _NEW
        else:
            status = _RESOLVED
        reopened = not is_open and rnd() < 0.04

        l1_agents = self.team_agents[l1]
        l1_agent = rng.choice(l1_agents) if l1_agents else None
        team_agents = self.team_agents[team]
        if status in (_TRIAGED, _ESCALATED) or (
                status == _NEW and rnd() < 0.5):
            assignee = None
        elif escalated:
            assignee = rng.choice(team_agents) if team_agents else None
        else:
            assignee = l1_agent

        # The conversation: roles first, then times.
        if status == _NEW:
            roles = ["customer"] if rnd() < 0.1 else []
        elif status == _TRIAGED:
            roles = ["note"] if rnd() < 0.5 else []
        else:
            avg = self.o.messages_per_ticket
            k = min(40, max(1, int(rng.gammavariate(2.0, avg / 2.0) + 0.5)))
            roles = []
            turn = "agent" if rnd() < 0.9 else "customer"
            for i in range(k):
                if i and rnd() < 0.12:
                    roles.append("note")
                    continue
                roles.append(turn)
                turn = "customer" if turn == "agent" else "agent"
            if status in (_RESOLVED, _WAITING_ON_CUSTOMER):
                roles[-1] = "agent"
        first_resolution = len(roles)  # index after the first resolving reply
        if reopened:
            roles += ["customer", "agent"]
        times = []
        t = created
        answered = False
        for role in roles:
            if role == "agent":
                if answered:  # now and then a ticket is forgotten for a while
                    base = AGENT_GAP[priority] * (STUCK_FACTOR if rnd() < STUCK_SHARE else 1)
                else:
                    base = FIRST_RESPONSE[priority][tier]
                answered = True
            elif role == "customer":
                base = CUSTOMER_GAP[priority]
            else:
                base = NOTE_GAP
            t += base * lognorm(0, 0.9) + 30
            times.append(t)

        # Key moments after the conversation.
        esc_at: list[float] = []
        if escalated:
            # Hand over after about a third of the conversation (after it, for "escalated").
            cut = len(times) if status == _ESCALATED or not times else max(1, len(times) // 3)
            base_t = times[cut - 1] if cut else created
            for _ in chain[1:]:
                base_t += (10 * 60 + rnd() * 2 * HOUR) / (2 if priority <= 2 else 1)
                esc_at.append(base_t)
            if cut < len(times) and times[cut] <= base_t:
                shift = base_t - times[cut] + 60
                times[cut:] = [x + shift for x in times[cut:]]
        else:
            cut = len(times)
        engineering_at = None
        if status == _ENGINEERING:
            engineering_at = (times[-1] if times else (esc_at[-1] if esc_at else created)) + (
                HOUR * (0.5 + rnd() * 4))
        end = max(times[-1] if times else created, esc_at[-1] if esc_at else created,
                  engineering_at or created)
        resolved_at = first_resolved = None
        if status == _RESOLVED:
            resolved_at = end + 60 + rnd() * 1800
            end = resolved_at
            if reopened:
                first_resolved = times[first_resolution - 1] + 60 + rnd() * 600
        elif status not in (_NEW, _TRIAGED) and not roles:
            end += 300 + rnd() * HOUR
        # Squeeze everything that would be in the future into [created, now).
        limit = now - 120
        if end > limit:
            f = (limit - created) / (end - created) * 0.98 if end > created else 0
            times = [created + (x - created) * f for x in times]
            esc_at = [created + (x - created) * f for x in esc_at]
            if engineering_at:
                engineering_at = created + (engineering_at - created) * f
            if resolved_at:
                resolved_at = created + (resolved_at - created) * f
            if first_resolved:
                first_resolved = created + (first_resolved - created) * f
            end = created + (end - created) * f
        closed_at = None
        if resolved_at is not None:
            close_t = resolved_at + self.auto_close + rnd() * 6 * HOUR
            if close_t < limit:
                closed_at = close_t
                status = _CLOSED

        # Rows: messages (and their audit events).
        messages = out["messages"]
        events = out["events"]
        ev = events.append
        ticket_dt = _dt(created, UTC)
        ev((tid, uid, ticket_dt, _EV_CREATED, "", "", subject, "", True))
        if l1_agent and (assignee or escalated or status not in (_NEW,
                                                                 _TRIAGED)):
            ev((tid, None, _dt(created + 1, UTC), _EV_FIELD, "assignee", "",
                l1_agent[2], "assigned by team strategy", False))
        first_response = None
        message_log: list[tuple[int, float, int, str]] = []
        msg_id = self.next_message_id
        reply_events = self.o.reply_events
        later_agent = assignee or (rng.choice(team_agents) if team_agents else l1_agent)
        last_index = len(roles) - 1
        for i, role in enumerate(roles):
            at = _dt(times[i], UTC)
            if role == "customer":
                if reopened and i == first_resolution:
                    text = rng.choice(CUSTOMER_REOPEN)
                elif i == 0:
                    text = rng.choice(GENERIC_CUSTOMER)
                elif rnd() < 0.5:
                    text = rng.choice(content.customer_replies)
                else:
                    text = rng.choice(GENERIC_CUSTOMER)
                body = (text + f"\n\n{first_name}").format_map(variables)
                messages.append((msg_id, tid, uid, True, False, body, channel, at))
                message_log.append((msg_id, times[i], uid, role))
                if reply_events:
                    ev((tid, uid, at, _EV_REPLY, "", "", "",
                        f"message {msg_id}", True))
            else:
                agent = l1_agent if i < cut else later_agent
                if agent is None:
                    continue
                if role == "note":
                    text = rng.choice(content.notes if rnd() < 0.5 else GENERIC_NOTES)
                    messages.append((msg_id, tid, agent[0], False, True,
                                     text.format_map(variables), "web", at))
                    message_log.append((msg_id, times[i], agent[0], role))
                    if reply_events:
                        ev((tid, agent[0], at, _EV_NOTE, "", "", "",
                            f"message {msg_id}", False))
                else:
                    if first_response is None:
                        first_response = at
                        text = rng.choice(content.first_replies)
                    elif resolved_at is not None and (
                            i == last_index or (reopened and i == first_resolution - 1)):
                        text = rng.choice(AGENT_REOPEN if i == last_index and reopened
                                          else content.resolutions)
                    elif rnd() < 0.5:
                        text = rng.choice(content.agent_replies)
                    else:
                        text = rng.choice(GENERIC_AGENT)
                    variables["agent"] = agent[1]
                    body = (f"Hi {{customer}},\n\n{text}\n\nBest regards,\n{{agent}}"
                            ).format_map(variables)
                    messages.append((msg_id, tid, agent[0], True, True, body, channel, at))
                    message_log.append((msg_id, times[i], agent[0], role))
                    if reply_events:
                        ev((tid, agent[0], at, _EV_REPLY, "", "", "",
                            f"message {msg_id}", True))
            msg_id += 1
        self.next_message_id = msg_id

        # Status history along allowed transitions, escalations with their packets.
        state = [_NEW, created]  # current status, when it was entered

        def move(target: str, at: float, actor_id: int | None, note: str = "") -> None:
            when = _dt(at, UTC)
            for nxt in _path(state[0], target):
                ev((tid, actor_id, when, STATUS, "status", state[0], nxt, note, True))
                state[0] = nxt
            state[1] = at

        if escalated:
            actor = l1_agent
            for step, to_team in enumerate(chain[1:]):
                from_team = chain[step]
                at_s = esc_at[step]
                at = _dt(at_s, UTC)
                actor_id = actor[0] if actor else None
                if state[0] == _ESCALATED:  # the previous tier took it first
                    move(_IN_PROGRESS, (esc_at[step - 1] + at_s) / 2, actor_id)
                reason = rng.choice(ESCALATION_REASONS[self.team_slugs[to_team]]).format_map(
                    variables)
                out["escalations"].append((
                    tid, _ESC_TIER, from_team, to_team, actor_id, at, subject,
                    rng.choice(content.troubleshooting), reason, rng.choice(EXPECTATIONS),
                    rng.choice(NEXT_STEPS).format_map(variables),
                ))
                ev((tid, actor_id, at, _EV_ESCALATED, "team",
                    self.team_names[from_team], self.team_names[to_team], reason, False))
                move(_ESCALATED, at_s, actor_id, reason)
                actor = (rng.choice(self.team_agents[to_team])
                         if self.team_agents[to_team] else None)
            if cut < len(times) and status not in (_ESCALATED,
                                                   _ASSIGNED):
                move(_IN_PROGRESS, times[cut], later_agent[0] if later_agent else None)
        # Agent replies that asked the customer something: waiting until the answer
        # (after the handover for escalated tickets, before a first resolution).
        waits: list[tuple[float, float | None, str]] = []
        wait_from = cut + 1 if escalated and cut < len(times) else 0
        wait_to = first_resolution - 1 if status in (_RESOLVED,
                                                     _CLOSED) else len(roles) - 1
        waiting = _WAITING_ON_CUSTOMER
        if status in WAITS_AFTER:
            wait_to = wait_from  # its last move must stay one the state machine allows
        for i in range(wait_from, min(wait_to, len(roles) - 1)):
            if roles[i] == "agent" and roles[i + 1] == "customer" and rnd() < WAIT_SHARE:
                agent_id = (l1_agent if i < cut else later_agent or l1_agent or (None,))[0]
                reason = rng.choice(WAITING_ON_CUSTOMER_REASONS)
                move(waiting, times[i], agent_id, reason)
                move(_IN_PROGRESS, times[i + 1], uid, "customer replied")
                waits.append((times[i], times[i + 1], waiting))
        if engineering_at is not None:
            at = _dt(engineering_at, UTC)
            actor_id = later_agent[0] if later_agent else None
            reason = rng.choice(ESCALATION_REASONS["engineering"]).format_map(variables)
            out["escalations"].append((
                tid, _ESC_ENGINEERING, team, None, actor_id, at, subject,
                rng.choice(content.troubleshooting), reason, rng.choice(EXPECTATIONS),
                rng.choice(NEXT_STEPS).format_map(variables),
            ))
            ev((tid, actor_id, at, _EV_ESCALATED, "", "", "engineering", reason,
                False))
            move(_ENGINEERING, engineering_at, actor_id, reason)

        waiting_reason = ""
        resolver = (later_agent or l1_agent or (None,))[0]
        if status in (_RESOLVED, _CLOSED):
            if first_resolved is not None:
                move(_RESOLVED, first_resolved, resolver)
                move(_IN_PROGRESS, times[first_resolution], None,
                     "customer replied after resolution")
            move(_RESOLVED, resolved_at, resolver)
            if closed_at is not None:
                move(_CLOSED, closed_at, None, "closed automatically")
        elif status != state[0]:
            if status == _WAITING_ON_CUSTOMER:
                waiting_reason = rng.choice(WAITING_ON_CUSTOMER_REASONS)
            elif status == _WAITING_ON_THIRD_PARTY:
                waiting_reason = rng.choice(WAITING_ON_THIRD_PARTY_REASONS)
            at = max(times[-1] if times else created, state[1])
            if at == created:
                at = created + min(600 + rnd() * HOUR, max(1.0, (limit - created) / 2))
            move(status, at, (assignee or l1_agent or (None,))[0], waiting_reason)
            if status in (waiting, _WAITING_ON_THIRD_PARTY):
                waits.append((at, None, status))
        status_changed = state[1]

        # Tags on about one ticket in five.
        if rnd() < 0.2:
            names = {rng.choice(content.tags if rnd() < 0.7 else TAGS)}
            if rnd() < 0.3:
                names.add(rng.choice(TAGS))
            for name in sorted(names):  # not set order: that changes with PYTHONHASHSEED
                tag_id = self.tags.get(name)
                if tag_id:
                    out["tags"].append((tid, tag_id))

        updated = max(status_changed, times[-1] if times else created)
        sla_due = None
        if self.o.sla_due and status not in (_RESOLVED, _CLOSED):
            sla_due = _dt(created + SLA_DUE_HOURS[priority] * HOUR, UTC)
        out["tickets"].append((
            tid, subject, description, uid, org_id, priority, self.categories.get(cat),
            area_id, channel, team, assignee[0] if assignee else None, status, waiting_reason,
            ticket_dt, _dt(updated, UTC), _dt(status_changed, UTC), first_response,
            _dt(resolved_at, UTC) if resolved_at else None,
            _dt(closed_at, UTC) if closed_at else None, 1 if reopened else 0, sla_due,
        ))
        if status not in (_RESOLVED, _CLOSED):
            self.report.open_tickets += 1
        agents = tuple(dict.fromkeys(
            a[0] for a in (l1_agent if roles or assignee or escalated else None, later_agent,
                           assignee) if a))
        out["histories"].append(TicketHistory(
            id=tid, created=created, requester_id=uid, organization_id=org_id,
            tier=str(tier), priority=priority, category=cat, channel=channel, team_id=team,
            teams=tuple(chain), assignee_id=assignee[0] if assignee else None, status=status,
            first_response=first_response.timestamp() if first_response else None,
            resolved=resolved_at, first_resolved=first_resolved, closed=closed_at,
            reopened=reopened, waits=tuple(waits),
            escalations=tuple(zip(esc_at, chain[:-1], chain[1:], strict=True))
            + (((engineering_at, team, None),) if engineering_at is not None else ()),
            messages=tuple(message_log), agents=agents, subject=subject,
            requester_email=email))

    # all together ---------------------------------------------------------------------

    def run(self) -> SeedReport:
        started = time.perf_counter()
        self._load_reference()
        skip = set(self.o.skip)
        self.generators = [g for g in generators.registered()
                           if "all" not in skip and g.name not in skip]
        self.log(f"Seeding {self.o.tickets:,} tickets on {self.writer.connection.vendor} "
                 f"(seed {self.o.seed}, last {self.o.months:g} months); generators: "
                 + (", ".join(g.name for g in self.generators) or "none"))
        with transaction.atomic(using=self.using):
            self._seed_people()
        self.run_context = SeedRun(self)
        for generator in self.generators:
            if generator.prepare is not None:
                self._hook(generator, generator.prepare, "prepared")
        try:
            self._seed_tickets()
        finally:
            self._rebuild_indexes()
        for generator in self.generators:
            if generator.finish is not None:
                self._hook(generator, generator.finish, "finished")
        t0 = time.perf_counter()
        self.writer.reset_sequence(Ticket)
        self.writer.reset_sequence(Message)
        for model in (TicketEvent, Escalation, Ticket.tags.through,
                      *self.run_context.models):
            self.writer.reset_sequence(model)
        if self.writer.postgres:
            # VACUUM too: the visibility map of a fresh load (see `vacuum_analyze`), last,
            # after the finish hooks' updates and the rollups.
            self.log("  VACUUM ANALYZE ...")
            self.writer.vacuum_analyze()
        self.report.phases["analyze"] = time.perf_counter() - t0
        for name, seconds in sorted(self.writer.seconds.items()):
            app = self.run_context.app_of.get(name)
            if app:
                self._took(app, seconds)
        self.report.tables.update({
            Ticket._meta.db_table: self.report.tickets,
            Message._meta.db_table: self.report.messages,
            TicketEvent._meta.db_table: self.report.events,
            Escalation._meta.db_table: self.report.escalations})
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _hook(self, generator: Generator, hook: Callable[[Run], None], done: str) -> None:
        t0 = time.perf_counter()
        self.run_context.current = generator.name
        try:
            with transaction.atomic(using=self.using):
                hook(self.run_context)
        finally:
            self.run_context.current = None
        took = time.perf_counter() - t0
        self._took(generator.name, took)
        self.log(f"  {generator.name}: {done} in {took:.1f}s")


class SeedRun:
    """What the generators of other apps see of a run (helpdesk.generators.Run)."""

    def __init__(self, seeder: Seeder) -> None:
        o = seeder.o
        self._seeder = seeder
        self.seed = o.seed
        self.now = seeder.now
        self.start = seeder.now - o.months * MONTH
        self.tickets = o.tickets
        self.log = seeder.log
        self.using = seeder.using
        self.team_slugs = dict(seeder.team_slugs)
        self.team_agents = {team: [(a[0], seeder.agent_zones[a[0]]) for a in agents]
                            for team, agents in seeder.team_agents.items()}
        self.staff = seeder.staff_by_role
        self.demand = tuple(d * h for d in DAY_WEIGHTS for h in HOUR_WEIGHTS)
        self.models: list[type[models.Model]] = []  # written here: sequences to reset
        self.app_of: dict[str, str] = {}  # table -> generator that wrote it
        self._next: dict[type[models.Model], int] = {}
        self.current: str | None = None  # the generator whose hook runs
        self.state: dict[str, Any] = {}
        self._rngs: dict[str, random.Random] = {}

    def rng(self, name: str) -> random.Random:
        # One stream per name for the whole run, continued from chunk to chunk; str seeds
        # are hashed with SHA-512: the same stream on every run and platform.
        if name not in self._rngs:
            self._rngs[name] = random.Random(f"{self.seed}:{name}")
        return self._rngs[name]

    def track(self, model: type[models.Model], generator: str | None = None) -> None:
        if model not in self.models:
            self.models.append(model)
        self.app_of.setdefault(model._meta.db_table,
                               generator or self.current or model._meta.app_label)

    def next_ids(self, model: type[models.Model], count: int) -> int:
        self.track(model)
        if model not in self._next:
            self._next[model] = self._seeder.writer.reserve_ids(model, 0)
        first = self._next[model]
        self._next[model] = first + count
        return first

    def write(self, model: type[models.Model], columns: tuple[str, ...],
              rows: Sequence[tuple]) -> int:
        self.track(model)
        n = self._seeder.writer.write(model, columns, rows)
        self.count(model._meta.db_table, n)
        return n

    def count(self, table: str, n: int) -> None:
        tables = self._seeder.report.tables
        tables[table] = tables.get(table, 0) + n


def seed(options: SeedOptions | None = None, *, log: Log | None = None,
         using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> SeedReport:
    """Seed the database; `kwargs` are SeedOptions fields when no options are given."""
    return Seeder(options or SeedOptions(**kwargs), log=log, using=using).run()
