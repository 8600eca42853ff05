"""Prepare a demo system on the current database: data, known accounts, scenarios.

    manage.py demo [--tickets 3000]

Idempotent: a second run changes nothing (passwords of the demo accounts are reset to
the documented ones if someone changed them).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from devdata.seeding import SeedOptions, seed
from helpdesk import generators
from helpdesk.bulkload import BulkLoadError
from helpdesk.models import Membership, Organization, SupportTier, Team, User
from helpdesk.roles import Role, sync_roles
from tickets import services
from tickets.models import (
    Category,
    Channel,
    Macro,
    Priority,
    ProductArea,
    Tag,
    Ticket,
    Trigger,
)
from tickets.state_machine import Status

ACME = {"name": "Acme Corp", "domain": "acme.example", "support_tier": SupportTier.ENTERPRISE}
STAFF_DOMAIN = "helpdesk.example"


def demo_password(username: str) -> str:
    return f"demo-{username}-pass"


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    first_name: str
    last_name: str
    what: str
    team: str | None = None
    lead: bool = False
    customer: bool = False
    org_admin: bool = False
    superuser: bool = False


ACCOUNTS = (
    Account("admin", Role.ADMIN, "Ada", "Admin", "superuser, Django admin", superuser=True),
    Account("manager", Role.MANAGER, "Morgan", "Miller", "support manager, sees every team"),
    Account("lead", Role.TEAM_LEAD, "Lena", "Lindqvist", "team lead of L1 General",
            team="l1-general", lead=True),
    Account("agent", Role.AGENT, "Alex", "Andrade", "L1 General agent", team="l1-general"),
    Account("l2agent", Role.AGENT, "Leo", "Laine", "L2 Technical agent", team="l2-technical"),
    Account("qa", Role.QA_REVIEWER, "Quinn", "Quist", "QA reviewer"),
    Account("customer", Role.CUSTOMER, "Carla", "Cruz", "customer at Acme Corp (enterprise)",
            customer=True),
    Account("orgadmin", Role.CUSTOMER, "Oscar", "Olsen",
            "Acme Corp admin contact, sees all Acme tickets", customer=True, org_admin=True),
)

MACROS = (
    {
        "name": "Ask for logs",
        "body": (
            "Hi {{ requester_first_name }},\n\n"
            "Thanks for reaching out. So that we can investigate, could you send us:\n\n"
            "- the exact time (and time zone) the problem last happened\n"
            "- a screenshot of the error message\n"
            "- a HAR file or the browser console log captured while it happens\n\n"
            "As soon as we have them we'll pick this up again.\n\n"
            "{{ agent_name }}, {{ team }}"
        ),
        "is_public": True,
        "set_status": Status.WAITING_ON_CUSTOMER.value,
        "status_reason": "Waiting for logs and a screenshot from the customer",
        "tags": ("needs-logs",),
    },
    {
        "name": "Resolved: password reset",
        "body": (
            "Hi {{ requester_first_name }},\n\n"
            "I've sent a new password reset link to the e-mail address on your account. "
            "It is valid for 24 hours; if it doesn't arrive within a few minutes, please "
            "check your spam folder.\n\n"
            "I'm marking ticket #{{ ticket_id }} as resolved; just reply if you need "
            "anything else.\n\n{{ agent_name }}"
        ),
        "is_public": True,
        "set_status": Status.RESOLVED.value,
        "status_reason": "",
        "tags": ("password-reset",),
    },
)

RULE = {
    "name": "Enterprise outages go to L2 Enterprise as P1",
    "order": 10,
    "events": ["created"],
    "conditions": [
        {"field": "org_tier", "op": "in", "value": [SupportTier.ENTERPRISE.value]},
        {"field": "text", "op": "contains", "value": "outage"},
    ],
}

PACKET = {
    "issue_summary": "Webhook deliveries to hooks.acme.example time out after 30s since "
                     "yesterday; about 40% of order events are affected.",
    "troubleshooting_done": "Replayed three deliveries from the admin: all time out. The "
                            "customer's endpoint answers in 150 ms when called directly. "
                            "Status page shows no incident.",
    "reason": "Needs access to the delivery workers' logs and network traces (L2 only).",
    "customer_expectation": "Deliveries working again today; failed events replayed.",
    "next_steps": "Check the egress proxy logs for hooks.acme.example and the TLS handshake "
                  "times; then replay the failed events of the last 24 hours.",
}


class Command(BaseCommand):
    help = ("Prepare a demo: seed a small data set (when there are no tickets yet), demo "
            "accounts with known passwords, macros, a trigger and scenario tickets. "
            "Safe to run again.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=3000,
                            help="Tickets to seed when the database has none (default 3000, "
                                 "over the last six months).")
        parser.add_argument("--seed", type=int, default=42, help="Random seed (default 42).")

    def handle(self, *args, **opts) -> None:
        sync_roles()
        # The demo accounts first: the generators give the demo agents tickets, shifts,
        # time entries and reviews like every other agent.
        with transaction.atomic():
            teams = self._teams()
            users = self._accounts(teams)
        if opts["tickets"] > 0 and not Ticket.objects.exists():
            n = opts["tickets"]
            self.stdout.write(f"Seeding {n} tickets over six months, with every app's history ...")
            try:
                report = seed(SeedOptions(tickets=n, seed=opts["seed"], agents=20, months=6,
                                          include_existing_staff=True),
                              log=self.stdout.write if opts["verbosity"] > 1 else None)
            except BulkLoadError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"  {report.tickets} tickets, {report.messages} messages, "
                f"{report.organizations} organizations, {report.customers} customers, "
                f"{report.staff} staff, {report.rows_generated:,} rows of other apps "
                f"in {report.seconds:.1f}s")
        else:
            self.stdout.write("Tickets exist already: not seeding.")
        with transaction.atomic():
            users = self._accounts(teams)  # fresh permissions after seeding
            macros = self._macros()
            self._rule(teams)
        created = self._scenarios(users, macros, teams)
        self.stdout.write(f"Scenario tickets created: {created}" if created
                          else "Scenario tickets exist already.")
        # Every app adds its own demo data (articles, reviews, incidents...) through the
        # generator registry (helpdesk/generators.py).
        for generator in generators.registered():
            if generator.demo is not None:
                generator.demo(self.stdout)
        self._print_accounts()

    # --- setup --------------------------------------------------------------------

    def _teams(self) -> dict[str, Team]:
        teams = {t.slug: t for t in Team.objects.all()}
        for slug in ("l1-general", "l2-technical", "l2-enterprise"):
            if slug not in teams:
                raise CommandError(f"Team {slug} is missing: run `manage.py migrate`.")
        return teams

    def _accounts(self, teams: dict[str, Team]) -> dict[str, User]:
        groups = {g.name: g for g in Group.objects.filter(name__in=Role.ALL)}
        users: dict[str, User] = {}
        manager = None
        acme = None
        for account in ACCOUNTS:
            if account.customer and acme is None:
                acme = self._acme(csm=manager)
            org = acme if account.customer else None
            email = (f"{account.username}@{ACME['domain']}" if account.customer
                     else f"{account.username}@{STAFF_DOMAIN}")
            user, created = User.objects.get_or_create(
                username=account.username,
                defaults={"first_name": account.first_name, "last_name": account.last_name,
                          "email": email},
            )
            wanted = {
                "organization_id": org.pk if org else None,
                "is_org_admin": account.org_admin,
                "is_staff": account.superuser,
                "is_superuser": account.superuser,
                "is_active": True,
            }
            changed = [f for f, v in wanted.items() if getattr(user, f) != v]
            for f in changed:
                setattr(user, f, wanted[f])
            password = demo_password(account.username)
            if created or not user.check_password(password):
                user.set_password(password)
                changed.append("password")
            if changed:
                user.save(update_fields=[f.removesuffix("_id") for f in changed])
            group = groups.get(account.role) or Group.objects.get_or_create(
                name=account.role)[0]
            user.groups.add(group)
            if account.team:
                membership, _ = Membership.objects.get_or_create(
                    team=teams[account.team], user=user, defaults={"is_lead": account.lead})
                if membership.is_lead != account.lead:
                    membership.is_lead = account.lead
                    membership.save(update_fields=["is_lead"])
            users[account.username] = User.objects.get(pk=user.pk)  # fresh permissions
            if account.role == Role.MANAGER:
                manager = users[account.username]
        return users

    def _acme(self, csm: User | None) -> Organization:
        org, _ = Organization.objects.get_or_create(
            name=ACME["name"],
            defaults={"domain": ACME["domain"], "support_tier": ACME["support_tier"],
                      "csm": csm, "notes": "Demo customer. Renewal in Q3; exec sponsor: CTO."},
        )
        changed = []
        for f in ("domain", "support_tier"):
            if getattr(org, f) != ACME[f]:
                setattr(org, f, ACME[f])
                changed.append(f)
        if org.csm_id is None and csm is not None:
            org.csm = csm
            changed.append("csm")
        if changed:
            org.save(update_fields=changed)
        return org

    def _macros(self) -> dict[str, Macro]:
        macros = {}
        for spec in MACROS:
            spec = dict(spec)
            tags = spec.pop("tags")
            macro, created = Macro.objects.get_or_create(name=spec["name"], defaults=spec)
            if created:
                macro.add_tags.set([Tag.objects.get_or_create(name=t)[0] for t in tags])
            macros[macro.name] = macro
        return macros

    def _rule(self, teams: dict[str, Team]) -> Trigger:
        rule = Trigger.objects.filter(name=RULE["name"]).first()
        if rule is None:
            rule = Trigger.objects.create(actions=[
                {"action": "set_team", "value": teams["l2-enterprise"].name},
                {"action": "set_priority", "value": Priority.P1.value}], **RULE)
        return rule

    # --- scenarios ----------------------------------------------------------------

    def _scenarios(self, users: dict[str, User], macros: dict[str, Macro],
                   teams: dict[str, Team]) -> int:
        customer, orgadmin = users["customer"], users["orgadmin"]
        agent, l2agent = users["agent"], users["l2agent"]
        cat = dict(Category.objects.values_list("slug", "pk"))
        area = dict(ProductArea.objects.values_list("slug", "pk"))
        created = 0

        def ticket(requester: User, subject: str, description: str, **kwargs):
            """Create the scenario ticket once; None when it exists already."""
            nonlocal created
            if Ticket.objects.filter(requester=requester, subject=subject).exists():
                return None
            for key, table in (("category", cat), ("product_area", area)):
                slug = kwargs.pop(key, None)
                if slug and table.get(slug):
                    kwargs[f"{key}_id"] = table[slug]
            ids = {k: kwargs.pop(k) for k in ("category_id", "product_area_id") if k in kwargs}
            t = services.create_ticket(requester=requester, subject=subject,
                                       description=description, **kwargs)
            if ids:  # create_ticket takes instances; set the ids directly
                Ticket.objects.filter(pk=t.pk).update(**ids)
                t.refresh_from_db()
            created += 1
            return t

        def take(t: Ticket, who: User) -> Ticket:
            """The agent takes the ticket (assigned), as from the queue."""
            if t.team_id not in who.team_ids and not who.sees_all_tickets:
                return t
            return services.assign(t, assignee=who, actor=who)

        with transaction.atomic():
            # 1. An enterprise outage: the creation trigger routes it to L2 Enterprise as P1.
            t = ticket(
                customer, "Production outage: API returns 503 for every request",
                "Since 08:40 UTC every call to https://api.example.com/v2/orders returns "
                "503 Service Unavailable. Our checkout is down: this is a full outage for "
                "our EU shop. Request id of a failed call: req_7f3a9c21be04.",
                channel=Channel.EMAIL, category="api-errors", product_area="rest-api",
            )
            if t and t.assignee_id:
                services.add_reply(
                    t, author=t.assignee, channel=Channel.EMAIL,
                    body="Hi Carla, we're on it: our on-call engineers are investigating "
                         "errors in the EU region. Next update within 30 minutes.")

        with transaction.atomic():
            # 2. SSO trouble: the L1 agent takes it and asks for logs with the macro.
            t = ticket(
                customer, "SSO login fails with SAML error AADSTS50011",
                "Since this morning none of our users can sign in through Azure AD. After "
                "the redirect the login page shows AADSTS50011 (reply URL mismatch). "
                "About 120 people are blocked.",
                channel=Channel.WEB, category="login", product_area="sso",
            )
            if t:
                t = take(t, agent)
                services.apply_macro(t, macros["Ask for logs"], actor=agent)

        with transaction.atomic():
            # 3. Webhooks: L1 troubleshoots, then escalates to L2 with a handoff packet.
            t = ticket(
                customer, "Webhook deliveries to hooks.acme.example time out",
                "Since yesterday about 40% of webhook deliveries to hooks.acme.example fail "
                "with a timeout after 30 seconds. Our endpoint answers in ~150 ms when we "
                "call it directly.",
                channel=Channel.EMAIL, category="integrations", product_area="webhooks",
            )
            if t:
                t = take(t, agent)
                services.add_reply(
                    t, author=agent, channel=Channel.EMAIL,
                    body="Thanks Carla. I replayed three deliveries and can reproduce the "
                         "timeouts; I'm handing this to our L2 technical team with all the "
                         "details so you don't have to repeat anything.")
                services.add_reply(t, author=agent, public=False,
                                   body="Replays all time out at exactly 30s; smells like "
                                        "the egress proxy, not the customer's endpoint.")
                services.escalate(Ticket.objects.get(pk=t.pk), to_team=teams["l2-technical"],
                                  packet=PACKET, actor=agent)
                t = Ticket.objects.get(pk=t.pk)
                if t.assignee_id is None and l2agent.is_agent:
                    services.transition(t, Status.IN_PROGRESS, actor=l2agent, assignee=l2agent)

        with transaction.atomic():
            # 4. A password reset, solved in one step with the macro.
            t = ticket(
                orgadmin, "Password reset email never arrives",
                "I requested a password reset three times this morning but no e-mail "
                "arrives (checked spam). Can you help?",
                channel=Channel.WEB, category="login", product_area="web-app",
            )
            if t:
                t = take(t, agent)
                services.apply_macro(t, macros["Resolved: password reset"], actor=agent)

        with transaction.atomic():
            # 5. Billing, still new in the L1 queue.
            ticket(
                customer, "Invoice INV-2026-10042 charged twice",
                "Our credit card was charged twice for invoice INV-2026-10042 ($4,980.00). "
                "Please refund the duplicate charge and send a credit note.",
                channel=Channel.EMAIL, category="billing",
            )

        with transaction.atomic():
            # 6. A how-to question with a short conversation, by the org admin.
            t = ticket(
                orgadmin, "How do I add two more admins to our account?",
                "We are onboarding two new team leads. How can I give them admin rights?",
                channel=Channel.CHAT, category="how-to", product_area="web-app",
            )
            if t:
                t = take(t, agent)
                services.add_reply(
                    t, author=agent, channel=Channel.CHAT,
                    body="Hi Oscar! Go to Settings > Users, open each person and tick "
                         "'Administrator'. Only existing admins can do this.")
                services.add_reply(
                    t, author=orgadmin, channel=Channel.CHAT,
                    body="I don't see the Administrator box, is it plan dependent?")
        return created

    # --- output -------------------------------------------------------------------

    def _print_accounts(self) -> None:
        rows = [("username", "password", "role", "what")]
        rows += [(a.username, demo_password(a.username), a.role, a.what) for a in ACCOUNTS]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        line = "-+-".join("-" * w for w in widths)
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS("Demo accounts"))
        self.stdout.write(line)
        for i, row in enumerate(rows):
            self.stdout.write(" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
            if i == 0:
                self.stdout.write(line)
        self.stdout.write(line)
        self.stdout.write("Agents: /agent/   Customers: /portal/   Admin: /admin/")
