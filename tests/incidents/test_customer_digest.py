"""Issue 18: an incident's public update reaches each customer in ONE e-mail listing all of
their linked tickets, never one e-mail per ticket; the resolution cascade adds no
per-ticket "resolved" e-mail; unsubscribed customers get none; reruns send nothing more."""
from __future__ import annotations

from django.core import mail

from helpdesk.roles import Role
from incidents import services, tasks
from mailgate.models import CustomerMailPreference, OutboundEmail
from tests.factories import make_user


def test_one_e_mail_per_customer_per_update_listing_their_tickets(
        declare, run, lead, tickets, org_a):
    carol = make_user(Role.CUSTOMER, org=org_a, username="carol")
    tickets[2].ccs.add(carol)  # Carol follows Bob's ticket
    incident = declare(tickets=tickets)
    mail.outbox.clear()
    update = run(services.publish_update, incident, kind="update",
                 body="Engineers are rolling back the release.", actor=lead)
    by_person = {m.to[0]: m for m in mail.outbox}
    assert sorted(by_person) == ["alice@acme.example", "bob@globex.example",
                                 "carol@acme.example"]
    alice = by_person["alice@acme.example"]
    assert alice.subject == "Service update: Login outage"
    assert "Engineers are rolling back the release." in alice.body
    assert f"#{tickets[0].pk} Login fails" in alice.body
    assert f"#{tickets[1].pk} Cannot sign in" in alice.body
    assert f"#{tickets[2].pk}" not in alice.body
    assert f"/status/incidents/{incident.pk}/" in alice.body
    assert alice.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert alice.extra_headers["Auto-Submitted"] == "auto-generated"
    # The task again (a retry, a second worker): nothing new.
    run(tasks.fan_out_update, update.pk)
    assert len(mail.outbox) == 3


def test_unsubscribed_customer_gets_no_incident_mail_and_resolution_is_one_mail_each(
        declare, run, lead, tickets, customer_b):
    CustomerMailPreference.objects.create(user=customer_b, incident_updates=False)
    incident = declare(tickets=tickets)
    mail.outbox.clear()
    run(services.resolve, incident, body="Fixed: the release was rolled back.", actor=lead)
    assert [m.to for m in mail.outbox] == [["alice@acme.example"]]
    [resolution] = mail.outbox
    assert "Fixed: the release was rolled back." in resolution.body
    for t in tickets:
        t.refresh_from_db()
        assert t.status == "resolved"
    assert not OutboundEmail.objects.filter(notice="customer.resolved").exists()
