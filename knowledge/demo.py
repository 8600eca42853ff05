"""Demo data of the knowledge app, added by `manage.py demo` after tickets and accounts exist."""
from __future__ import annotations

from typing import TextIO

from tickets.models import Category, ProductArea

SECTIONS = [
    ("getting-started", "Getting started", None, "Set up your workspace and invite your team."),
    ("account-access", "Account and sign-in", None, "Passwords, SSO and two-factor sign-in."),
    ("sso", "Single sign-on", "account-access", "SAML and OIDC identity providers."),
    ("billing", "Billing and invoices", None, "Plans, payments and invoices."),
    ("integrations", "Integrations and API", None, "Webhooks, API tokens, connectors."),
]
# (slug, title, section, template, audience, category slug, summary, body)
ARTICLES = [
    ("reset-your-password", "Reset your password", "account-access", "howto", "public",
     "login", "Click “Forgot password?” on the log-in page and follow the e-mail link.",
     "## Steps\n\n1. Open the log-in page.\n2. Click **Forgot password?**.\n3. Enter your "
     "work e-mail and open the link we send (valid for 30 minutes).\n4. Choose a new "
     "password of at least 12 characters.\n\n> **Note:** if your company signs in with SSO, "
     "reset the password at your identity provider instead."),
    ("sign-in-with-sso", "Sign in with single sign-on (SSO)", "sso", "howto", "public", "login",
     "Use “Sign in with SSO” and your work e-mail; your admin must enable SSO first.",
     "## Before you start\n\n- Your administrator has connected your identity provider.\n\n"
     "## Steps\n\n1. On the log-in page choose **Sign in with SSO**.\n2. Enter your work "
     "e-mail.\n3. Complete the sign-in at your identity provider."),
    ("saml-certificate-rotation", "SSO fails after a SAML certificate rotation", "sso",
     "troubleshooting", "public", "login",
     "Upload the identity provider's new signing certificate in Settings → Security.",
     "## Problem\n\nEveryone in the organization gets “Invalid SAML response” at log-in.\n\n"
     "## Cause\n\nThe identity provider rotated its signing certificate.\n\n## Solution\n\n"
     "1. Download the new certificate from your IdP.\n2. Upload it in **Settings → Security "
     "→ SSO**.\n3. Test with one user before telling everyone."),
    ("two-factor-authentication", "Turn on two-factor authentication", "account-access",
     "howto", "customers", "login", "Settings → Security → Two-factor, then scan the QR code.",
     "## Steps\n\n1. Open **Settings → Security**.\n2. Click **Enable two-factor**.\n3. Scan "
     "the QR code with an authenticator app and enter the 6-digit code.\n4. Store the "
     "recovery codes somewhere safe."),
    ("download-invoices", "Download your invoices", "billing", "howto", "public", "billing",
     "Billing → Invoices lists every invoice as PDF; admins can export them as CSV.",
     "## Steps\n\n1. Go to **Billing → Invoices**.\n2. Click an invoice to download the PDF, "
     "or **Export CSV** for all of them."),
    ("charged-twice", "I was charged twice", "billing", "troubleshooting", "public", "billing",
     "A second charge is usually a pending authorisation that disappears within 5 days.",
     "## Problem\n\nTwo charges appear on your card statement.\n\n## Cause\n\nYour bank shows "
     "the authorisation and the charge separately.\n\n## Solution\n\nWait five working days; "
     "if both remain, submit a request with the last 4 digits of the card."),
    ("change-your-plan", "Change or cancel your plan", "billing", "faq", "customers", "billing",
     "Admins change the plan in Billing → Plan; changes are prorated.",
     "## Question\n\nCan I move to another plan mid-month?\n\n## Answer\n\nYes. Upgrades "
     "apply at once and are prorated; downgrades apply at the next renewal."),
    ("create-an-api-token", "Create an API token", "integrations", "howto", "public", "api",
     "Settings → API → New token; copy it now, it is shown once.",
     "## Steps\n\n1. Open **Settings → API**.\n2. Click **New token**, name it and choose its "
     "scopes.\n3. Copy the token: it is shown only once."),
    ("webhooks-not-delivered", "Webhooks are not delivered", "integrations", "troubleshooting",
     "public", "api", "Check the endpoint returns 2xx within 10 seconds; failed deliveries "
     "retry for 24 hours.",
     "## Problem\n\nYour endpoint receives no events.\n\n## Cause\n\nThe endpoint timed out or "
     "answered with an error, so deliveries were paused.\n\n## Solution\n\n1. Open **Settings "
     "→ Webhooks → Deliveries**.\n2. Fix the endpoint and click **Resume**."),
    ("invite-your-team", "Invite your team", "getting-started", "howto", "public", "",
     "Settings → Members → Invite; invitations expire after 7 days.",
     "## Steps\n\n1. Open **Settings → Members**.\n2. Click **Invite** and enter e-mails.\n3. "
     "Choose a role for each person."),
    ("release-2026-10", "Release notes: October 2026", "getting-started", "release_note",
     "public", "", "Faster exports, SSO just-in-time provisioning, and a new audit log.",
     "## What's new\n\n- CSV exports are up to 5× faster.\n- SSO can create users on first "
     "sign-in.\n- A searchable audit log for admins."),
    ("refund-override-runbook", "Refund override runbook (internal)", "billing",
     "troubleshooting", "internal", "billing",
     "Agents: refunds over $500 need a team lead's approval in the billing console.",
     "## Problem\n\nA customer asks for a refund outside policy.\n\n## Solution\n\n1. Check "
     "the account's refund history.\n2. Under $500: refund in the billing console.\n3. Over "
     "$500: ask a team lead to approve, then refund.\n\nNever promise a refund before "
     "approval."),
]
# The first two are also shipped by migration 0004 (same text, so seeding adds no copy).
SYNONYMS = ["sign in, signin, sign-in, log in, login, log-in", "two-factor, 2fa, two factor, mfa",
            "invoice, bill, receipt", "sso, single sign-on, saml"]


def seed_demo(stdout: TextIO) -> None:
    """Idempotent: a second run changes nothing."""
    from django.db import transaction
    from django.utils import timezone

    from . import search
    from .models import Article, ArticleStatus, ArticleVersion, Section, Synonym, VersionState

    if Article.objects.filter(slug="reset-your-password").exists():
        return
    now = timezone.now()
    with transaction.atomic():
        sections: dict[str, Section] = {}
        for pos, (slug, name, parent, description) in enumerate(SECTIONS):
            sections[slug], _ = Section.objects.get_or_create(slug=slug, defaults={
                "name": name, "parent": sections.get(parent) if parent else None,
                "description": description, "position": pos * 10})
        categories = {c.slug: c for c in Category.objects.all()}
        area = ProductArea.objects.first()
        for slug, title, section, template, audience, cat, summary, body in ARTICLES:
            article = Article.objects.create(
                slug=slug, title=title, section=sections[section], template=template,
                audience=audience, category=categories.get(cat), product_area=area,
                summary=summary, body=body, status=ArticleStatus.PUBLISHED,
                created_at=now, updated_at=now, published_at=now,
                last_reviewed_on=timezone.localdate(now))
            ArticleVersion.objects.create(article=article, number=1, title=title,
                                          summary=summary, body=body,
                                          state=VersionState.PUBLISHED, created_at=now,
                                          published_at=now, note="demo")
        for terms in SYNONYMS:
            Synonym.objects.get_or_create(terms=terms)
        search.index_article(None)
    search.forget_synonyms()
    stdout.write(f"knowledge: {len(ARTICLES)} articles, {len(SYNONYMS)} synonym groups\n")
