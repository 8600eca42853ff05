"""Incident fan-out under faults: a worker killed in the middle of a public update or of
the resolution cascade.

A public update is posted as an agent reply on every linked ticket, chunk by chunk (each
chunk one transaction, one unique `UpdateDelivery` row per ticket). After each commit
the chunk's ticket events are handled, for seconds: SLA clocks move, resolved tickets
get their survey. Once every ticket has it, each customer gets ONE e-mail listing their
tickets (issue 18), never one per ticket. The worker is SIGKILLed half-way through the
run, and restarted. The product recovers by itself: the task was acknowledged late, so
Redis hands it back after its visibility timeout and the run resumes (nothing is sent
again by hand). Then we count:

- every linked ticket has exactly one reply of the update and one delivery row;
- every customer's e-mail reaches the SMTP server, with at most one repeat (same
  Message-ID) per process killed, as in `test_celery_faults`; no per-ticket reply mail;
- after a resolution, every ticket moved once (one status event), got one survey, and
  the war room notes the cascade's totals once.

The last tests stage the same crash in-process (the chunk's after-commit handlers never
run) and also run on SQLite.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from unittest import mock

import pytest
from django.core import mail
from django.db.models import Count

from helpdesk.roles import Role
from incidents import services, tasks
from incidents.models import EntryKind, IncidentTicket, PublicUpdate, UpdateDelivery
from mailgate import notices as mail_notices
from mailgate.models import OutboundEmail, OutboundStatus
from sla.models import Clock, Metric
from tests.factories import make_org, make_ticket, make_user, team
from tickets import services as ticket_services
from tickets.models import Channel, EventKind, Message, Survey, Ticket, TicketEvent
from tickets.state_machine import Status

from .conftest import Celery, needs_postgresql, wait_for
from .test_celery_faults import assert_each_mail_once, clone_tickets, drained

LINKED = 250  # two chunks (services.CHUNK = 200): 200, then 50
CUSTOMERS = 25  # ten tickets each: 25 e-mails per update
EMAIL_EVERY = 5  # every fifth ticket came in by e-mail, the others on the web


class Outage:
    """A SEV5 incident (no escalation path, no update cadence: nothing else runs) with
    `n` tickets of 25 customers linked, in progress with the team lead; every fifth an
    e-mail ticket, the others web tickets (all get the same e-mails)."""

    def __init__(self, n: int) -> None:
        self.lead = make_user(Role.TEAM_LEAD, teams=(team("l1-general"),), lead=True)
        org = make_org()
        customers = [make_user(Role.CUSTOMER, org=org) for _ in range(CUSTOMERS)]
        template = make_ticket(customers[0], subject="Cannot log in")
        tickets = clone_tickets(template, n, status=Status.IN_PROGRESS, assignee=self.lead)
        self.ids = sorted(t.pk for t in tickets)
        for i, customer in enumerate(customers):
            Ticket.objects.filter(pk__in=self.ids[i::CUSTOMERS]).update(requester=customer)
        self.addresses = sorted(c.email for c in customers)
        Ticket.objects.filter(pk__in=self.ids[::EMAIL_EVERY]).update(channel=Channel.EMAIL)
        self.incident = services.declare(title="Login outage", users_affected="one",
                                         impact="minor", actor=self.lead)
        IncidentTicket.objects.bulk_create(
            [IncidentTicket(incident=self.incident, ticket_id=pk, linked_by=self.lead,
                            linked_at=self.incident.declared_at) for pk in self.ids])

    # Queued as the web process does, but on the test's Redis (this process runs
    # Celery eagerly, so the after-commit `.delay` is intercepted and sent by hand).

    def publish(self, celery: Celery, body: str) -> PublicUpdate:
        with mock.patch.object(tasks.fan_out_update, "delay") as delay:
            update = services.publish_update(self.incident, kind="update", body=body,
                                             actor=self.lead)
        delay.assert_called_once_with(update.pk)
        celery.send("incidents.tasks.fan_out_update", update.pk)
        return update

    def resolve(self, celery: Celery, body: str) -> PublicUpdate:
        with mock.patch.object(tasks.resolve_cascade, "delay") as delay:
            update = services.resolve(self.incident, body=body, actor=self.lead)
        delay.assert_called_once_with(self.incident.pk, update.pk)
        celery.send("incidents.tasks.resolve_cascade", self.incident.pk, update.pk)
        return update

    # --- progress, as a support lead could see it ------------------------------------

    def replies(self, update: PublicUpdate):
        return Message.objects.filter(ticket_id__in=self.ids, is_public=True, by_agent=True,
                                      body__contains=update.body)

    def emails(self, update: PublicUpdate):
        """The customers' e-mails of the update (one each, listing their tickets)."""
        return OutboundEmail.objects.filter(notice="customer.incident_update",
                                            key__contains=f":u{update.pk}:")

    def surveys(self):
        return Survey.objects.filter(ticket_id__in=self.ids)

    def first_chunk_delivered(self, update: PublicUpdate) -> bool:
        """The first chunk committed (its deliveries appear at once); its ticket-event
        handlers (SLA clocks) are running."""
        return UpdateDelivery.objects.filter(update=update).exists()

    def fan_out_unfinished(self, update: PublicUpdate) -> bool:
        return not PublicUpdate.objects.filter(
            pk=update.pk, fanout_completed_at__isnull=False).exists()

    def first_cascade_chunk_committed(self) -> bool:
        """The first cascade chunk committed: its tickets moved, its links marked."""
        return IncidentTicket.objects.filter(incident=self.incident,
                                             cascaded_at__isnull=False).exists()

    def progress(self, update: PublicUpdate, *, cascade: bool) -> dict[str, int]:
        done = {"fan-out finished": PublicUpdate.objects.filter(
                    pk=update.pk, fanout_completed_at__isnull=False).count(),
                "e-mails sent": self.emails(update).filter(status=OutboundStatus.SENT).count()}
        if cascade:
            done["cascade totals noted"] = self.incident.timeline.filter(
                body__startswith="Resolution cascade:").count()
            done["surveys"] = self.surveys().count()
        return done

    def wait_until_settled(self, update: PublicUpdate, celery: Celery, *, cascade: bool = False,
                           timeout: float = 120) -> None:
        """Until everything a customer and the war room should see is there. Not "the
        queue is empty": with the tests' 4 s visibility timeout a long run's message is
        handed to a second worker too, and the two runs overlap (harmlessly)."""
        want = {"fan-out finished": 1, "e-mails sent": len(self.addresses)}
        if cascade:
            want.update({"cascade totals noted": 1, "surveys": len(self.ids)})

        def settled() -> bool:
            done = self.progress(update, cascade=cascade)
            return all(done[key] >= n for key, n in want.items())

        wait_or_explain(celery, settled, timeout=timeout, what="the run to finish",
                        state=lambda: f"{self.progress(update, cascade=cascade)}, "
                                      f"expected {want}")

    # --- exactly once -------------------------------------------------------------------

    def assert_delivered_once(self, update: PublicUpdate, sink, *, killed: int) -> None:
        rows = Counter(UpdateDelivery.objects.filter(update=update, skipped="")
                       .values_list("ticket_id", flat=True))
        assert rows == Counter(self.ids), "one delivery row per linked ticket"
        per_ticket = Counter(self.replies(update).values_list("ticket_id", flat=True))
        assert per_ticket == Counter(self.ids), "one reply per linked ticket"
        emails = self.emails(update)
        assert sorted(emails.values_list("to", flat=True)) == self.addresses, (
            "one e-mail per customer")
        assert not OutboundEmail.objects.filter(ticket_message__in=self.replies(update))
        assert not emails.values("to").annotate(n=Count("pk")).filter(n__gt=1)
        assert set(emails.values_list("status", flat=True)) == {OutboundStatus.SENT}
        expected = {f"<{mid}>" for mid in emails.values_list("message_id", flat=True)}
        assert_each_mail_once(sink, expected, processes_killed=killed)

    def assert_moved_once(self) -> None:
        statuses = Counter(Ticket.objects.filter(pk__in=self.ids)
                           .values_list("status", flat=True))
        assert statuses == {Status.RESOLVED: len(self.ids)}
        moves = Counter(TicketEvent.objects.filter(
            ticket_id__in=self.ids, kind=EventKind.STATUS, after=Status.RESOLVED,
            note=f"{self.incident.reference} resolved").values_list("ticket_id", flat=True))
        assert moves == Counter(self.ids), "one status change per linked ticket"
        outcomes = Counter(IncidentTicket.objects.filter(incident=self.incident)
                           .values_list("cascade_outcome", flat=True))
        assert outcomes == {IncidentTicket.Outcome.MOVED: len(self.ids)}
        surveys = Counter(self.surveys().values_list("ticket_id", flat=True))
        assert surveys == Counter(self.ids), (
            f"{len(self.ids) - len(surveys)} resolved tickets never got their survey")
        totals = list(self.incident.timeline.filter(kind=EntryKind.STATUS,
                                                    body__startswith="Resolution cascade:")
                      .values_list("body", flat=True))
        assert totals == [f"Resolution cascade: {len(self.ids)} tickets moved, 0 skipped "
                          "(see the linked tickets)."]


@pytest.fixture
def outage(transactional_db) -> Outage:
    return Outage(LINKED)


def wait_or_explain(celery: Celery, predicate: Callable[[], object], *, timeout: float,
                    what: str, state: Callable[[], str] = lambda: "") -> None:
    """`wait_for`, failing with the state reached and the workers' logs at that time."""
    try:
        wait_for(predicate, timeout=timeout, interval=0.02, what=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {state()}\n{celery.output()}") from None


def with_workers(test: Callable) -> Callable:
    """Real worker processes on a private Redis share the database: PostgreSQL only."""
    return pytest.mark.django_db(transaction=True)(needs_postgresql(test))


@with_workers
def test_worker_killed_mid_public_update_each_ticket_gets_it_once(
        outage, celery, redis_server, smtp_sink):
    sink, _ = smtp_sink
    worker = celery.worker(concurrency=2)
    update = outage.publish(celery, "Engineers are rolling back the release.")
    wait_or_explain(celery, lambda: outage.first_chunk_delivered(update), timeout=40,
                    what="the first chunk")
    celery.kill(worker)  # SIGKILL to the worker and its pool: nothing acknowledged
    assert outage.fan_out_unfinished(update), "killed too late"

    celery.worker(concurrency=2)  # restarted, e.g. by systemd; no task is sent again
    outage.wait_until_settled(update, celery)
    wait_for(lambda: drained(redis_server), timeout=15, what="the queue to drain")
    outage.assert_delivered_once(update, sink, killed=2)


@with_workers
@pytest.mark.parametrize("kill_while", ["message", "moves"])
def test_worker_killed_mid_resolution_cascade_moves_each_ticket_once(
        kill_while, outage, celery, redis_server, smtp_sink):
    """Killed while the resolution message goes out, or while the tickets move."""
    sink, _ = smtp_sink
    worker = celery.worker(concurrency=2)
    update = outage.resolve(celery, "Logins work again: the release was rolled back.")
    if kill_while == "message":
        wait_or_explain(celery, lambda: outage.first_chunk_delivered(update),
                        timeout=40, what="the first chunk")
        celery.kill(worker)
        assert outage.fan_out_unfinished(update), "killed too late"
    else:  # the message went out in full; the first 200 tickets moved, the rest not yet
        # (a chunk's surveys are scheduled in one statement, so "half a chunk's surveys" is
        # no longer a state to stop in: the kill lands between a chunk's commit and the
        # end of the run, its after-commit handlers possibly unrun)
        wait_or_explain(celery, outage.first_cascade_chunk_committed, timeout=50,
                        what="the first chunk's moves")
        celery.kill(worker)
        assert outage.surveys().count() < len(outage.ids), "killed too late"

    celery.worker(concurrency=2)  # restarted; Redis hands the task back, which resumes
    outage.wait_until_settled(update, celery, cascade=True)
    wait_for(lambda: drained(redis_server), timeout=15, what="the queue to drain")
    outage.assert_delivered_once(update, sink, killed=2)
    outage.assert_moved_once()


# --- the same crash, in-process: a chunk committed, its after-commit handlers never ran --
# (In these tests the test's transaction never commits: after-commit callbacks only run
# inside `django_capture_on_commit_callbacks(execute=True)`.)

@pytest.fixture
def mail_tickets(db, django_capture_on_commit_callbacks):
    lead = make_user(Role.TEAM_LEAD, teams=(team("l1-general"),), lead=True)
    customer = make_user(Role.CUSTOMER, org=make_org())
    with django_capture_on_commit_callbacks(execute=True):  # their SLA clocks start
        tickets = [make_ticket(customer, subject=f"Cannot log in {n}",
                               channel=Channel.EMAIL) for n in range(3)]
    incident = services.declare(title="Login outage", users_affected="one", impact="minor",
                                actor=lead, tickets=tickets)
    return lead, incident, tickets


def test_replies_committed_by_a_killed_worker_are_e_mailed_by_the_retry(
        mail_tickets, django_capture_on_commit_callbacks):
    lead, incident, tickets = mail_tickets
    update = services.publish_update(incident, kind="update", actor=lead,
                                     body="Engineers are rolling back the release.")
    services.deliver_chunk(update.pk)  # committed; the worker died before its handlers
    replies = Message.objects.filter(ticket__in=tickets, body__contains=update.body)
    digests = OutboundEmail.objects.filter(notice="customer.incident_update")
    assert replies.count() == 3 and not digests.exists()
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        tasks.fan_out_update(update.pk)  # the task, handed back by Redis
    # The customer's one e-mail about the update, listing the three tickets.
    [row] = digests.filter(status=OutboundStatus.SENT)
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [f"<{row.message_id}>"]
    assert all(f"#{t.pk} " in mail.outbox[0].body for t in tickets)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.fan_out_update(update.pk)  # and once more: nothing new
    assert len(mail.outbox) == 1 and replies.count() == 3


def test_customer_e_mail_whose_task_was_lost_is_queued_again_by_the_replay(
        mail_tickets, django_capture_on_commit_callbacks):
    """The worker died between writing the customer's e-mail row and queueing its task."""
    lead, incident, tickets = mail_tickets
    update = services.publish_update(incident, kind="update", actor=lead,
                                     body="Engineers are rolling back the release.")
    with mock.patch.object(mail_notices, "_enqueue"):
        services.fan_out(update.pk)  # the rows, but no task
    [row] = OutboundEmail.objects.filter(notice="customer.incident_update")
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        tasks.fan_out_update(update.pk)
    row.refresh_from_db()
    assert row.status == OutboundStatus.SENT
    assert [m.extra_headers["Message-ID"] for m in mail.outbox] == [f"<{row.message_id}>"]


def test_moves_committed_by_a_killed_worker_get_their_handlers_on_the_retry(
        mail_tickets, django_capture_on_commit_callbacks):
    """Surveys and SLA clocks follow the replayed moves; a ticket reopened meanwhile
    keeps its running clocks (its resolution is void)."""
    lead, incident, tickets = mail_tickets
    update = services.resolve(incident, body="Logins work again.", actor=lead)
    with django_capture_on_commit_callbacks(execute=True):
        services.fan_out(update.pk)
    services.cascade_chunk(incident.pk)  # committed; the worker died before its handlers
    running = Clock.objects.filter(ticket__in=tickets, metric=Metric.RESOLUTION,
                                   completed_at__isnull=True)
    assert running.count() == 3
    assert not Survey.objects.filter(ticket__in=tickets).exists()
    reopened = tickets[2]
    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.add_reply(reopened, author=reopened.requester, body="Still broken.")
    reopened.refresh_from_db()
    assert reopened.status == Status.IN_PROGRESS

    with django_capture_on_commit_callbacks(execute=True):
        tasks.resolve_cascade(incident.pk, update.pk)
    assert sorted(Survey.objects.values_list("ticket_id", flat=True)) == sorted(
        t.pk for t in tickets[:2])
    assert list(running.values_list("ticket_id", flat=True)) == [reopened.pk]
    assert TicketEvent.objects.filter(ticket__in=tickets, kind=EventKind.STATUS,
                                      after=Status.RESOLVED).count() == 3
