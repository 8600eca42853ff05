"""Reads shared by views and the API: who sees which tickets, and the queues."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext_lazy

from helpdesk.models import Membership, User, staff_only

from .models import OPEN_STATUS_VALUES, Attachment, Escalation, Message, Ticket, TicketEvent

MAX_CC_TICKETS = 5000


def visible_tickets(user: User, *, teams_subquery: bool = False) -> QuerySet[Ticket]:
    """Tickets `user` may see. Anything outside this set is a 404, never a 403.

    An agent's teams are a literal list (what the queues' plans want), or with
    `teams_subquery` a subquery of the same statement: one round trip fewer, for a
    lookup by id or a page walked along an index (the API), where the plan is the same.
    """
    qs = Ticket.objects.all()
    if not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.is_agent:
        if user.sees_all_tickets:
            return qs
        if teams_subquery:
            teams = Membership.objects.filter(user_id=user.pk).values("team_id")
            return qs.filter(Q(team_id__in=teams) | Q(assignee_id=user.pk))
        return qs.filter(Q(team_id__in=user.team_ids) | Q(assignee=user))
    # CC'd tickets as a literal id list: "requester = x OR id IN (subquery)" would make
    # PostgreSQL scan every ticket, while "requester = x OR id IN (1, 2)" uses two indexes.
    cc_ids = list(Ticket.ccs.through.objects.filter(user_id=user.pk)
                  .values_list("ticket_id", flat=True)[:MAX_CC_TICKETS])
    own = Q(requester=user) | Q(pk__in=cc_ids) if cc_ids else Q(requester=user)
    if user.is_org_admin and user.organization_id:
        own |= Q(organization_id=user.organization_id)
    return qs.filter(own)


def staff_who_see(ticket: Ticket) -> QuerySet[User]:
    """Active staff who may see `ticket` (the agent side of `visible_tickets`), lazily.

    Those who see every ticket (by role, by their own permission, superusers), the
    ticket's team and its assignee; subqueries, so one query however many staff.
    """
    from django.contrib.auth.models import Permission

    see_all = Permission.objects.filter(codename="view_all_tickets",
                                        content_type__app_label="tickets").values("pk")
    by_role = User.groups.through.objects.filter(
        group__permissions__in=see_all).values("user_id")
    by_own = User.user_permissions.through.objects.filter(
        permission_id__in=see_all).values("user_id")
    sees = Q(pk__in=by_role) | Q(pk__in=by_own) | Q(is_superuser=True)
    if ticket.team_id:
        sees |= Q(pk__in=Membership.objects.filter(team_id=ticket.team_id).values("user_id"))
    if ticket.assignee_id:
        sees |= Q(pk=ticket.assignee_id)
    return User.objects.filter(staff_only(), sees, is_active=True)


def get_ticket_for(user: User, pk: int | str, *, for_update: bool = False,
                   detail: bool = False) -> Ticket:
    """The ticket if `user` may see it, else 404; `detail` loads what its page shows."""
    try:
        pk = int(pk)
    except (TypeError, ValueError) as exc:
        raise Http404("No such ticket") from exc
    # One ticket by id: the agent's teams as a subquery of the same statement (the
    # literal list suits the queues, and costs a query here).
    qs = visible_tickets(user, teams_subquery=True)
    if detail:
        qs = ticket_detail(qs)
    if for_update:
        # The organization comes along (unlocked): the write's SLA reaction uses this
        # instance (the organization's tier sets targets) instead of reading it again.
        qs = qs.select_related("organization").select_for_update(of=("self",))
    # get(), not first(): one row by id needs no ORDER BY, and the queue's ordering
    # (an expression) costs a fifth of this lookup's CPU to compile.
    try:
        return qs.get(pk=pk)
    except Ticket.DoesNotExist:
        raise Http404("No such ticket") from None


QUEUE_NAMES = {
    "mine": gettext_lazy("Mine"),
    "teams": gettext_lazy("My teams"),
    "unassigned": gettext_lazy("Unassigned"),
    "open": gettext_lazy("All open"),
}


def queue(user: User, name: str) -> QuerySet[Ticket]:
    """Open tickets of a named queue, most urgent first (SLA due, priority, age).

    "Mine" and "my teams" are inside every agent's visibility by definition, so they
    filter on their own indexed column alone; the others go through visible_tickets.
    """
    if name not in QUEUE_NAMES:
        raise Http404("No such queue")
    if not user.is_authenticated or not user.is_agent:
        return Ticket.objects.none()
    open_tickets = Q(status__in=OPEN_STATUS_VALUES)
    if name == "mine":
        qs = Ticket.objects.filter(open_tickets, assignee=user)
    elif name == "teams":
        qs = Ticket.objects.filter(open_tickets, team_id__in=user.team_ids)
    elif name == "unassigned":
        # Visible through the team alone here ("or assigned to me" cannot hold): without
        # that OR, PostgreSQL walks the team's queue index instead of every unassigned row.
        qs = Ticket.objects.filter(open_tickets, assignee__isnull=True)
        if not user.sees_all_tickets:
            qs = qs.filter(team_id__in=user.team_ids)
    else:
        qs = visible_tickets(user).filter(open_tickets)
    return qs.only(*ROW_FIELDS)


# The columns a queue row shows (and orders by); label_rows() adds the related names.
ROW_FIELDS = ("id", "subject", "requester_id", "organization_id", "priority", "status",
              "team_id", "assignee_id", "sla_due_at", "sla_level", "created_at")


def label_rows(tickets: list[Ticket]) -> list[Ticket]:
    """Give each ticket of a queue page the names its row shows, as plain attributes:
    requester_name, assignee_name, team_name, org_name, org_tier and tag_names.

    Three small "id IN (...)" queries of plain values: a queue page is the busiest page of
    the product, and building related model instances cost more than everything else.
    """
    from helpdesk.models import Organization, SupportTier, Team

    if not tickets:
        return tickets
    user_ids = {t.requester_id for t in tickets} | {t.assignee_id for t in tickets}
    names = {pk: f"{first} {last}".strip() or username
             for pk, first, last, username in User.objects.filter(
                 pk__in=user_ids - {None}).values_list(
                 "pk", "first_name", "last_name", "username")}
    orgs = {pk: (name, SupportTier(tier).label) for pk, name, tier in
            Organization.objects.filter(pk__in={t.organization_id for t in tickets} - {None})
            .values_list("pk", "name", "support_tier")}
    teams = dict(Team.objects.values_list("pk", "name"))  # a few dozen rows at most
    tags: dict[int, list[str]] = {}
    for ticket_id, tag in (Ticket.tags.through.objects
                           .filter(ticket_id__in=[t.pk for t in tickets])
                           .order_by("tag__name").values_list("ticket_id", "tag__name")):
        tags.setdefault(ticket_id, []).append(tag)
    for t in tickets:
        t.requester_name = names.get(t.requester_id, "")
        t.assignee_name = names.get(t.assignee_id, "")
        t.team_name = teams.get(t.team_id, "")
        t.org_name, t.org_tier = orgs.get(t.organization_id, ("", ""))
        t.tag_names = tags.get(t.pk, [])
    return tickets


def queue_counts(user: User, *,
                 shared: Callable[[QueueScope], dict[str, int]] | None = None) -> dict[str, int]:
    """Open tickets in each named queue.

    Two parts: what every agent with the same teams and reach shares (my teams, unassigned,
    open: the costly aggregate over a team's backlog, which `shared` may serve from a cache
    keyed by `queue_scope(user)`) and the agent's own tickets (one small indexed count).
    """
    scope = queue_scope(user)
    counts = (shared or scope_queue_counts)(scope)
    team_ids = list(scope.team_ids)
    own = Ticket.objects.filter(status__in=OPEN_STATUS_VALUES, assignee_id=user.pk)
    if scope.sees_all or not team_ids:
        mine = own.count()
        outside = 0 if scope.sees_all else mine
    else:  # visible as theirs even when the ticket is in another team's queue
        own_counts = own.aggregate(
            mine=Count("pk"),
            outside=Count("pk", filter=Q(team_id__isnull=True) | ~Q(team_id__in=team_ids)))
        mine, outside = own_counts["mine"], own_counts["outside"]
    return {"mine": mine, "teams": counts["teams"], "unassigned": counts["unassigned"],
            "open": counts["open"] + outside}


@dataclass(frozen=True)
class QueueScope:
    """Whose queue counts are alike: the same teams, and whether they see every ticket."""

    sees_all: bool
    team_ids: tuple[int, ...]

    @property
    def key(self) -> str:
        return f"{'all' if self.sees_all else 'teams'}:{','.join(map(str, self.team_ids))}"


def queue_scope(user: User) -> QueueScope:
    return QueueScope(sees_all=user.sees_all_tickets, team_ids=tuple(sorted(user.team_ids)))


def scope_queue_counts(scope: QueueScope) -> dict[str, int]:
    """My teams, unassigned and open counts of a scope, in one aggregate over the open-ticket
    index (open: without the agent's own tickets outside those teams)."""
    open_tickets = Ticket.objects.filter(status__in=OPEN_STATUS_VALUES)
    if scope.sees_all:
        in_teams = Q(team_id__in=scope.team_ids) if scope.team_ids else Q(pk__in=[])
        return open_tickets.aggregate(teams=Count("pk", filter=in_teams),
                                      unassigned=Count("pk", filter=Q(assignee__isnull=True)),
                                      open=Count("pk"))
    if not scope.team_ids:
        return {"teams": 0, "unassigned": 0, "open": 0}
    counts = open_tickets.filter(team_id__in=scope.team_ids).aggregate(
        open=Count("pk"), unassigned=Count("pk", filter=Q(assignee__isnull=True)))
    return {"teams": counts["open"], **counts}


def customer_attachment_filter(user: User, prefix: str = "message__") -> Q:
    """Attachments a customer may have: on public messages, and sender-only records (the
    original e-mail) only of the messages they wrote."""
    return Q(**{f"{prefix}is_public": True}) & (
        Q(sender_only=False) | Q(**{f"{prefix}author_id": user.pk}))


def conversation(ticket: Ticket, *, include_internal: bool,
                 viewer: User | None = None) -> QuerySet[Message]:
    """The messages of a ticket with their attachments; without `include_internal` (a
    customer's view) the attachments are those `viewer` may have."""
    attachments = Attachment.objects.all()
    if not include_internal:
        attachments = attachments.filter(
            customer_attachment_filter(viewer) if viewer is not None else Q(sender_only=False))
    qs = ticket.messages.select_related("author", "merged_from").prefetch_related(
        Prefetch("attachments", queryset=attachments)
    )
    if not include_internal:
        qs = qs.filter(is_public=True)
    return qs


def timeline(ticket: Ticket, *, include_internal: bool) -> QuerySet[TicketEvent]:
    qs = ticket.events.select_related("actor")
    if not include_internal:
        qs = qs.filter(is_public=True)
    return qs


def ticket_detail(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Everything the ticket page shows. The three small reference tables are joined;
    the rest is prefetched by id: planning an eight-way join costs PostgreSQL more than
    running it, while each prefetch query costs Django a millisecond or two."""
    return qs.select_related("team", "category", "product_area").prefetch_related(
        "requester", "organization", "organization__csm", "assignee", "merged_into", "tags",
        "ccs",
        Prefetch("escalations",
                 queryset=Escalation.objects.select_related("from_team", "to_team", "actor")),
    )


def recent_tickets_of(ticket: Ticket, *, limit: int = 5) -> QuerySet[Ticket]:
    """The requester's (or organization's) other recent tickets, for the context panel."""
    if ticket.organization_id:
        qs = Ticket.objects.filter(organization_id=ticket.organization_id)
    else:
        qs = Ticket.objects.filter(requester_id=ticket.requester_id)
    return qs.exclude(pk=ticket.pk).order_by("-created_at").only(
        "id", "subject", "status", "created_at", "priority"
    )[:limit]


def messages_since(ticket: Ticket, since: datetime, *, not_by: User) -> list[Message]:
    """Messages (replies and notes) added after `since` by anyone but `not_by`: what an
    agent has not seen yet when they send (the collision check of the ticket page)."""
    if ticket.updated_at is not None and ticket.updated_at <= since:
        return []  # nothing was written to the ticket since: no query
    return list(ticket.messages.filter(created_at__gt=since)
                .exclude(author=not_by).select_related("author").order_by("created_at", "id"))


def next_in_queue(user: User, *, after: Ticket) -> Ticket | None:
    """The ticket to work after `after`: the most urgent other one of the agent's own
    queue, else of their teams' ("send, then next ticket")."""
    for name in ("mine", "teams"):
        found = queue(user, name).exclude(pk=after.pk).only("id").first()
        if found is not None:
            return found
    return None
