"""Pure mapping rules from a source's values to this product's (no Django imports)."""
from __future__ import annotations

import re
import unicodedata

# Mail providers whose domain says nothing about the sender's company: their customers
# are not grouped into an organization by domain.
PUBLIC_MAIL_DOMAINS = frozenset("""
gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de ymail.com hotmail.com
hotmail.co.uk hotmail.fr hotmail.de outlook.com live.com msn.com icloud.com me.com mac.com
aol.com proton.me protonmail.com pm.me gmx.de gmx.net gmx.com web.de t-online.de mail.ru
yandex.ru yandex.com qq.com 163.com 126.com naver.com free.fr orange.fr laposte.net
libero.it zoho.com fastmail.com hey.com tutanota.com mail.com example.com
""".split())

_USERNAME_BAD = re.compile(r"[^\w.@+-]")


def email_domain(email: str) -> str:
    """The lower-cased domain of an address ('' when there is none)."""
    _, at, domain = (email or "").strip().rpartition("@")
    return domain.lower().strip(".") if at else ""


def organization_domain(email: str) -> str:
    """The domain whose organization a customer joins ('' for public mail providers)."""
    domain = email_domain(email)
    return "" if not domain or domain in PUBLIC_MAIL_DOMAINS else domain


def username_candidates(username: str, email: str, key: int):
    """Usernames to try, in order, for an imported person (Django's allowed characters)."""
    for base in (username, email, (email or "").split("@")[0], f"imported-{key}"):
        clean = _USERNAME_BAD.sub("", unicodedata.normalize("NFKC", base or ""))[:140]
        if clean:
            yield clean
    for n in range(2, 1000):
        yield f"imported-{key}-{n}"


def split_name(full: str) -> tuple[str, str]:
    """'Ada Lovelace' -> ('Ada', 'Lovelace'); a single word is the first name."""
    parts = (full or "").strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0][:150], (parts[1] if len(parts) > 1 else "")[:150]


def slug_text(text: str, *, max_length: int = 100) -> str:
    """A slug for names that are not slugs (ASCII, lower case, dashes)."""
    ascii_text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-") or "imported"


# --- django-helpdesk -----------------------------------------------------------------------

DH_OPEN, DH_REOPENED, DH_RESOLVED, DH_CLOSED, DH_DUPLICATE = 1, 2, 3, 4, 5
DH_STATUS_LABELS = {DH_OPEN: "Open", DH_REOPENED: "Reopened", DH_RESOLVED: "Resolved",
                    DH_CLOSED: "Closed", DH_DUPLICATE: "Duplicate"}
# How a past status reads in the audit trail (the ticket's own status is decided from its
# whole row, see the django-helpdesk source).
DH_HISTORY_STATUS = {DH_OPEN: "new", DH_REOPENED: "in_progress", DH_RESOLVED: "resolved",
                     DH_CLOSED: "closed", DH_DUPLICATE: "closed"}
# django-helpdesk's TicketChange.field labels and what they are called here.
DH_FIELDS = {"title": "subject", "owner": "assignee", "priority": "priority", "queue": "team",
             "due on": "due date", "status": "status"}


def dh_priority(value: int | None) -> int:
    """django-helpdesk's 1 (critical) .. 5 (very low) is P1..P5; anything else is P3."""
    return value if isinstance(value, int) and 1 <= value <= 5 else 3


def dh_field(label: str) -> str:
    return DH_FIELDS.get((label or "").strip().lower(), (label or "").strip())[:50]


# --- Zendesk -----------------------------------------------------------------------------------

# https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ (status, priority)
ZD_PRIORITY = {"urgent": 1, "high": 2, "normal": 3, "low": 4}
# via.channel values (https://developer.zendesk.com/documentation/ticketing/reference-guides/via-object-reference/)
ZD_CHANNEL = {"email": "email", "web": "web", "web_form": "web", "chat": "chat",
              "native_messaging": "chat", "messaging": "chat", "voice": "phone",
              "phone": "phone", "api": "api", "mobile_sdk": "api", "sms": "chat"}


def zd_priority(value: str | None) -> int:
    return ZD_PRIORITY.get((value or "").lower(), 3)


def zd_channel(value: str | None) -> str:
    return ZD_CHANNEL.get((value or "").lower(), "web")
