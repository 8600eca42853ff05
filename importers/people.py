"""Organizations, people and teams of an import, matched to those already here.

People are matched by e-mail (case-insensitive) before anyone is created, so a customer who
already wrote in, or an agent who already has an account, keeps one account. Customers join
the organization of their e-mail domain (created when missing; public mail providers
excepted). Staff get the agent role (superusers of the source the admin role, without
becoming superusers here); everyone else the customer role.
"""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.hashers import (
    UNUSABLE_PASSWORD_PREFIX,
    UNUSABLE_PASSWORD_SUFFIX_LENGTH,
    identify_hasher,
    make_password,
)
from django.contrib.auth.models import Group
from django.db.models import Q

from helpdesk.models import Membership, Organization, Team, User, staff_only
from helpdesk.roles import Role

from . import mapping
from .book import RecordBook
from .records import OrgRecord, PersonRecord, PersonRef, TeamRecord


def _password(encoded: str) -> str:
    """The source's hash when this installation can check it, else an unusable password."""
    if encoded and not encoded.startswith("!"):
        try:
            identify_hasher(encoded)
            return encoded
        except ValueError:
            pass
    # What make_password(None) gives, from one call to the system's random source instead
    # of forty (a hundred thousand users took twenty seconds).
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(UNUSABLE_PASSWORD_SUFFIX_LENGTH // 2)


class People:
    """Who is who: source people and addresses to user ids, teams and organizations."""

    def __init__(self, book: RecordBook, *, now: datetime, label: str) -> None:
        self.book = book
        self.now = now
        self.label = label
        self.by_key: dict[int, int] = {}
        self.by_email: dict[str, int] = {}
        self.org_of: dict[int, int | None] = {}
        self.staff: set[int] = set(User.objects.filter(staff_only()).values_list("pk", flat=True))
        self.orgs: dict[int, int] = {}
        self.teams: dict[int, int] = {}
        self._usernames: set[str] | None = None
        self._domain_orgs: dict[str, int] | None = None
        self._org_names: dict[str, int] | None = None  # lower-case name -> id
        self._unknown: int | None = None
        self.counts: dict[str, dict[str, int]] = {}
        for pk, email, org in (User.objects.exclude(email="").order_by("-pk")
                               .values_list("pk", "email", "organization_id")):
            self.by_email[email.lower()] = pk  # the oldest account wins
            self.org_of[pk] = org

    def _count(self, kind: str, outcome: str, n: int = 1) -> None:
        bucket = self.counts.setdefault(kind, {})
        bucket[outcome] = bucket.get(outcome, 0) + n

    # --- organizations --------------------------------------------------------------

    def import_organizations(self, records: Iterable[OrgRecord]) -> None:
        known = self.book.all("organization")
        by_name = {name.lower(): pk for pk, name in Organization.objects.values_list("pk", "name")}
        new: list[tuple[int, int, int]] = []
        for org in records:
            if org.key in known:
                target, old = known[org.key]
                self.orgs[org.key] = target
                if old != org.digest:
                    Organization.objects.filter(pk=target).update(notes=org.notes)
                    self.book.set_digest("organization", org.key, org.digest)
                    self._count("organizations", "changed")
                else:
                    self._count("organizations", "unchanged")
                continue
            target = by_name.get(org.name.strip().lower())
            if target is None:
                created = Organization.objects.create(
                    name=self._free_org_name(org.name, by_name),
                    domain=org.domains[0].lower() if org.domains else "", notes=org.notes)
                target = created.pk
                by_name[created.name.lower()] = target
                self._count("organizations", "new")
            else:
                self._count("organizations", "matched")
            self.orgs[org.key] = target
            new.append((org.key, target, org.digest))
        self.book.add("organization", new)

    def _free_org_name(self, name: str, taken: dict[str, int]) -> str:
        base = (name or "Organization").strip()[:190]
        candidate, n = base, 2
        while candidate.lower() in taken:
            candidate, n = f"{base} ({n})", n + 1
        return candidate

    def domain_org(self, email: str) -> int | None:
        """The organization of an e-mail domain, created the first time it is needed."""
        domain = mapping.organization_domain(email)
        if not domain:
            return None
        if self._domain_orgs is None:
            self._domain_orgs = {}
            for pk, dom in (Organization.objects.exclude(domain="").order_by("-pk")
                            .values_list("pk", "domain")):
                self._domain_orgs[dom.lower()] = pk
        if domain not in self._domain_orgs:
            if self._org_names is None:  # read once: thousands of domains in a large import
                self._org_names = {n.lower(): 0 for n in Organization.objects.values_list(
                    "name", flat=True)}
            org = Organization.objects.create(
                name=self._free_org_name(domain, self._org_names), domain=domain)
            self._org_names[org.name.lower()] = org.pk
            self._domain_orgs[domain] = org.pk
            self._count("organizations", "new")
        return self._domain_orgs[domain]

    # --- people ---------------------------------------------------------------------

    def _free_username(self, record: PersonRecord | None, email: str, key: int) -> str:
        if self._usernames is None:
            self._usernames = {u.lower() for u in User.objects.values_list("username", flat=True)}
        username = record.username if record else ""
        for candidate in mapping.username_candidates(username, email, key):
            if candidate.lower() not in self._usernames:
                self._usernames.add(candidate.lower())
                return candidate
        raise ValueError(f"No free username for {email or key}")  # pragma: no cover

    def import_people(self, records: Iterable[PersonRecord]) -> None:
        known = self.book.all("user")
        groups = {g.name: g.pk for g in Group.objects.filter(name__in=Role.ALL)}
        created: list[tuple[PersonRecord, User]] = []
        linked: list[tuple[int, int, int]] = []
        for person in records:
            email = person.email.strip()
            if person.key in known:
                target, old = known[person.key]
                self.by_key[person.key] = target
                if old != person.digest:
                    self._update(target, person)
                    self.book.set_digest("user", person.key, person.digest)
                    self._count("users", "changed")
                else:
                    self._count("users", "unchanged")
                continue
            target = self.by_email.get(email.lower()) if email else None
            if target is not None:
                self.by_key[person.key] = target
                linked.append((person.key, target, person.digest))
                self._count("users", "matched by e-mail")
                continue
            created.append((person, self._new_user(person, email, person.key)))
        if created:
            User.objects.bulk_create([u for _, u in created], batch_size=1000)
            self._add_roles([(p.is_staff, p.is_superuser, u.pk) for p, u in created], groups)
            for person, user in created:
                self.by_key[person.key] = user.pk
                if user.email:
                    self.by_email.setdefault(user.email.lower(), user.pk)
                self.org_of[user.pk] = user.organization_id
                if person.is_staff or person.is_superuser:
                    self.staff.add(user.pk)
                linked.append((person.key, user.pk, person.digest))
            self._count("users", "new", len(created))
        self.book.add("user", linked)

    def _new_user(self, person: PersonRecord | None, email: str, key: int) -> User:
        staff = bool(person and (person.is_staff or person.is_superuser))
        org = None
        if person is not None and person.org_key is not None:
            org = self.orgs.get(person.org_key)
        if org is None and not staff:
            org = self.domain_org(email)
        joined = (person.joined_at if person else None) or self.now
        return User(
            username=self._free_username(person, email, key), email=email,
            first_name=(person.first_name if person else "")[:150],
            last_name=(person.last_name if person else "")[:150],
            password=_password(person.password if person else ""),
            is_active=person.is_active if person else True,
            is_staff=bool(person and person.is_superuser), is_superuser=False,
            date_joined=joined, last_login=person.last_login if person else None,
            organization_id=org, time_zone=(person.time_zone if person else "") or "UTC",
        )

    def _add_roles(self, rows: list[tuple[bool, bool, int]], groups: dict[str, int]) -> None:
        through = User.groups.through
        links = []
        for staff, superuser, pk in rows:
            role = Role.ADMIN if superuser else Role.AGENT if staff else Role.CUSTOMER
            if role in groups:
                links.append(through(user_id=pk, group_id=groups[role]))
        through.objects.bulk_create(links, batch_size=2000, ignore_conflicts=True)

    def _update(self, target: int, person: PersonRecord) -> None:
        """A person changed in the source: names and whether they may sign in follow."""
        User.objects.filter(pk=target).update(
            first_name=person.first_name[:150], last_name=person.last_name[:150],
            is_active=person.is_active)

    def import_contacts(self, emails: Iterable[str]) -> None:
        """People known only by an address (e-mail submitters, CCs): customers, in bulk."""
        new = {}
        for email in emails:
            email = email.strip()
            if email and email.lower() not in self.by_email and email.lower() not in new:
                new[email.lower()] = self._new_user(None, email, 0)
        users = list(new.values())
        User.objects.bulk_create(users, batch_size=1000)
        groups = {g.name: g.pk for g in Group.objects.filter(name=Role.CUSTOMER)}
        self._add_roles([(False, False, u.pk) for u in users], groups)
        for user in users:
            self.by_email[user.email.lower()] = user.pk
            self.org_of[user.pk] = user.organization_id
        if users:
            self._count("users", "new (e-mail only)", len(users))

    def contact(self, email: str) -> int:
        email = email.strip()
        pk = self.by_email.get(email.lower())
        if pk is not None:
            return pk
        user = self._new_user(None, email, 0)
        user.save()
        groups = {g.name: g.pk for g in Group.objects.filter(name=Role.CUSTOMER)}
        self._add_roles([(False, False, user.pk)], groups)
        self.by_email[email.lower()] = user.pk
        self.org_of[user.pk] = user.organization_id
        self._count("users", "new (e-mail only)")
        return user.pk

    def user(self, ref: PersonRef) -> int | None:
        """The user id of a source person or address (None for nobody)."""
        if ref is None or ref == "":
            return None
        if isinstance(ref, str):
            return self.contact(ref) if "@" in ref else None
        return self.by_key.get(ref)

    def unknown_requester(self) -> int:
        """The requester of tickets whose source names none (one inactive customer)."""
        if self._unknown is None:
            username = f"unknown-requester-{mapping.slug_text(self.label, max_length=40)}"
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create(username=username, is_active=False,
                                           first_name="Unknown requester",
                                           last_name=f"({self.label})",
                                           password=make_password(None))
            self._unknown = user.pk
        return self._unknown

    # --- teams ----------------------------------------------------------------------

    def import_teams(self, records: Iterable[TeamRecord], queue_map: dict[str, str]) -> None:
        """Queues/groups as teams: mapped (by source slug or name) to a team here, matched
        by slug, or created."""
        known = self.book.all("team")
        teams = {t.slug: t.pk for t in Team.objects.all()}
        names = {n.lower() for n in Team.objects.values_list("name", flat=True)}
        wanted = {k.lower(): v for k, v in queue_map.items()}
        rows = []
        for team in records:
            target_slug = wanted.get(team.slug.lower()) or wanted.get(team.name.lower())
            if target_slug is not None:
                if target_slug not in teams:
                    raise ValueError(f"--map-queue names team {target_slug!r}, which does not "
                                     f"exist (teams: {', '.join(sorted(teams))}).")
                target = teams[target_slug]
                self._count("teams", "mapped")
            elif team.key in known:
                self.teams[team.key] = known[team.key][0]
                self._count("teams", "unchanged")
                continue
            elif mapping.slug_text(team.slug) in teams:
                target = teams[mapping.slug_text(team.slug)]
                self._count("teams", "matched by slug")
            else:
                slug = self._free_slug(mapping.slug_text(team.slug), teams)
                name = team.name.strip()[:100] or slug
                if name.lower() in names:
                    name = f"{name[:88]} (imported)"
                created = Team.objects.create(name=name, slug=slug,
                                              description=team.description)
                target = teams[slug] = created.pk
                names.add(name.lower())
                self._count("teams", "new")
            self.teams[team.key] = target
            if team.key in known:
                if known[team.key][0] != target:
                    self.book.retarget("team", team.key, target)
            else:
                rows.append((team.key, target, None))
        self.book.add("team", rows)

    @staticmethod
    def _free_slug(slug: str, taken: dict[str, int]) -> str:
        candidate, n = slug, 2
        while candidate in taken:
            candidate, n = f"{slug[:90]}-{n}", n + 1
        return candidate

    def import_memberships(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Agents join the teams they worked in (no one is removed from a team)."""
        wanted = set()
        for person_key, team_key in pairs:
            user, team = self.by_key.get(person_key), self.teams.get(team_key)
            if user is not None and team is not None and user in self.staff:
                wanted.add((team, user))
        if not wanted:
            return
        existing = set(Membership.objects.filter(
            Q(team_id__in={t for t, _ in wanted})).values_list("team_id", "user_id"))
        new = [Membership(team_id=t, user_id=u) for t, u in sorted(wanted - existing)]
        Membership.objects.bulk_create(new, ignore_conflicts=True)
        self._count("team memberships", "new", len(new))

