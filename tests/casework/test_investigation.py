"""The investigation panel: framing with history, typed evidence, time to first evidence."""
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from casework import services
from casework.models import EVIDENCE_MAX_BYTES, Evidence, InvestigationRevision
from tests.factories import PACKET, make_ticket
from tickets import services as ts

from .conftest import at


@pytest.fixture
def l2_ticket(travel, customer_a, agent, l2, l2_agent):
    travel(at(2026, 3, 3, 9))  # assigned to Agnes on creation
    t = make_ticket(customer_a)
    travel(at(2026, 3, 3, 9, 20))
    return ts.escalate(t, to_team=l2, packet=PACKET, actor=agent)


def test_every_change_leaves_a_revision(l2_ticket, l2_agent, travel):
    services.save_investigation(l2_ticket, actor=l2_agent, data={
        "goal": "Sync contacts nightly", "actual": "Job fails with 500", "version": "4.2"})
    travel(at(2026, 3, 3, 10))
    services.save_investigation(l2_ticket, actor=l2_agent, data={
        "goal": "Sync contacts nightly", "hypothesis": "Rate limit", "decision": "escalate"})
    services.save_investigation(l2_ticket, actor=l2_agent, data={"hypothesis": "Rate limit"})
    revs = list(InvestigationRevision.objects.filter(
        investigation__ticket=l2_ticket).order_by("created_at", "id"))
    assert [r.changed for r in revs] == [["goal", "actual", "version"],
                                         ["hypothesis", "decision"]]  # no-op save: none
    assert revs[0].data["hypothesis"] == "" and revs[1].data["hypothesis"] == "Rate limit"
    assert revs[1].data["actual"] == "Job fails with 500"
    with pytest.raises(ValidationError):
        services.save_investigation(l2_ticket, actor=l2_agent, data={"decision": "pray"})


def test_time_to_first_evidence_counts_from_first_assignment(l2_ticket, l2_agent, travel):
    travel(at(2026, 3, 3, 9, 45))
    unverified = services.add_evidence(l2_ticket, actor=l2_agent, kind="log",
                                       summary="Stack trace from the customer")
    inv = l2_ticket.investigation
    inv.refresh_from_db()
    assert inv.first_evidence_at is None  # not verified yet
    travel(at(2026, 3, 3, 11, 30))
    services.add_evidence(l2_ticket, actor=l2_agent, kind="query", summary="429s in the API log",
                          verified=True)
    inv.refresh_from_db()
    assert inv.assigned_at == at(2026, 3, 3, 9)
    assert inv.first_evidence_seconds == int(timedelta(hours=2, minutes=30).total_seconds())
    travel(at(2026, 3, 3, 12))
    services.verify_evidence(unverified, actor=l2_agent)  # verified later: first stays
    inv.refresh_from_db()
    assert inv.first_evidence_at == at(2026, 3, 3, 11, 30)


def test_evidence_rules(l2_ticket, l2_agent, customer_a, ticket_b):
    with pytest.raises(ValidationError):
        services.add_evidence(l2_ticket, actor=l2_agent, kind="rumour", summary="x")
    with pytest.raises(ValidationError):
        services.add_evidence(l2_ticket, actor=l2_agent, kind="log", summary="  ")
    big = SimpleUploadedFile("huge.log", b"x" * (EVIDENCE_MAX_BYTES + 1))
    with pytest.raises(ValidationError, match="10 MB"):
        services.add_evidence(l2_ticket, actor=l2_agent, kind="log", summary="big", file=big)
    exe = SimpleUploadedFile("tool.exe", b"MZ")
    with pytest.raises(ValidationError):
        services.add_evidence(l2_ticket, actor=l2_agent, kind="log", summary="exe", file=exe)
    from tickets.models import Attachment, Message
    msg = Message.objects.create(ticket=ticket_b, body="x", created_at=ticket_b.created_at)
    other = Attachment.objects.create(message=msg, file="a.txt", filename="a.txt",
                                      content_type="text/plain", size=1)
    with pytest.raises(ValidationError, match="another ticket"):
        services.add_evidence(l2_ticket, actor=l2_agent, kind="log", summary="x",
                              attachment=other)
    with pytest.raises(Exception, match="Only agents"):
        services.add_evidence(l2_ticket, actor=customer_a, kind="log", summary="x")
    assert not Evidence.objects.exists()


def test_panel_forms_over_htmx(client, l2_ticket, l2_agent):
    client.force_login(l2_agent)
    base = f"/casework/tickets/{l2_ticket.pk}"
    r = client.post(f"{base}/investigation/", {"goal": "Import CSV", "actual": "Stuck at 99 %",
                                               "decision": "investigating"},
                    HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "Investigation saved." in r.content.decode()
    upload = SimpleUploadedFile("import.log", b"ERROR row 9999")
    r = client.post(f"{base}/evidence/", {"kind": "log", "summary": "Row 9999 rejected",
                                          "verified": "1", "file": upload},
                    HTTP_HX_REQUEST="true")
    body = r.content.decode()
    assert "Row 9999 rejected" in body and "Time to first evidence: <strong>" in body
    r = client.post(f"{base}/links/", {"tracker": "jira", "key": "ENG-42",
                                       "url": "https://jira.example/browse/ENG-42",
                                       "status": "In progress"}, HTTP_HX_REQUEST="true")
    assert "ENG-42" in r.content.decode() and "In progress" in r.content.decode()
    link = l2_ticket.engineering_links.get()
    client.post(f"{base}/links/{link.pk}/status/", {"status": "Done"})
    link.refresh_from_db()
    assert link.status == "Done" and link.synced_at is not None


def test_panel_only_above_l1(client, customer_a, agent):
    t = make_ticket(customer_a)  # stays with L1
    client.force_login(agent)
    assert b'id="casework-panel"' not in client.get(f"/agent/tickets/{t.pk}/").content
