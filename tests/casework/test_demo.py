"""Demo data: two playbooks and an investigation on an L2 ticket; a second run adds nothing."""
import io

from casework import demo
from casework.models import Evidence, Investigation, Playbook, PlaybookRun, VocReport
from helpdesk.roles import Role
from tests.factories import PACKET, make_ticket, make_user
from tickets import services


def test_seed_demo_is_idempotent(customer_a, agent, l2):
    make_user(Role.AGENT, teams=(l2,), username="l2agent")
    t = make_ticket(customer_a, subject=demo.DEMO_SUBJECT)
    services.escalate(t, to_team=l2, packet=PACKET, actor=agent)
    demo.seed_demo(io.StringIO())
    demo.seed_demo(io.StringIO())
    assert Playbook.objects.count() == 2
    inv = Investigation.objects.get()
    assert inv.ticket == t
    assert inv.ticket.team == l2 and inv.first_evidence_seconds is not None
    assert Evidence.objects.count() == 2 and PlaybookRun.objects.count() == 1
    assert VocReport.objects.count() == 1
