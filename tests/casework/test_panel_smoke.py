"""The investigation panel shows on technical tickets, to agents only."""
from tests.factories import PACKET
from tickets import services


def test_panel_on_l2_ticket(client, agent, l2_agent, l2, ticket_a):
    services.escalate(ticket_a, to_team=l2, packet=PACKET, actor=agent)
    client.force_login(l2_agent)
    page = client.get(f"/agent/tickets/{ticket_a.pk}/")
    assert page.status_code == 200
    assert b'id="casework-panel"' in page.content
