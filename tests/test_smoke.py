from tickets.models import Ticket


def test_ticket_created_through_service_lands_in_default_team(ticket_a, l1):
    ticket = Ticket.objects.get(pk=ticket_a.pk)
    assert ticket.team == l1
    assert ticket.events.filter(kind="created").count() == 1
