"""At-risk alerts: detected signals reach the CSM once per signal, account and ISO week."""
import pytest

from casework import metrics, services
from casework.models import AtRiskAlert, Signal
from helpdesk.models import Notification
from tests.factories import make_ticket
from tickets import services as ts
from tickets.models import Survey

from .conftest import at


@pytest.fixture
def acme(org_a, csm):
    org_a.csm = csm
    org_a.save()
    return org_a


def alerts(org, signal=None):
    qs = AtRiskAlert.objects.filter(organization=org)
    return qs.filter(signal=signal) if signal else qs


def test_churn_mention_alerts_csm_once_per_week_then_again_next_week(
        acme, customer_a, agent, csm, committed, travel):
    travel(at(2026, 3, 2, 9))  # Monday of 2026-W10
    with committed():
        t = make_ticket(customer_a, subject="Exports broken",
                        description="If this is not fixed we will cancel our subscription.")
    alert = alerts(acme, Signal.CHURN).get()
    assert (alert.period, alert.ticket, alert.notified) == ("2026-W10", t, csm)
    note = Notification.objects.get(recipient=csm)
    assert note.title == "At-risk: Acme — Churn mention"
    assert "Exports broken" in note.body  # recent tickets travel with the alert

    travel(at(2026, 3, 8, 23))  # Sunday, same ISO week: no second alert
    with committed():
        ts.add_reply(t, author=customer_a, body="We are looking at alternatives now.")
        make_ticket(customer_a, subject="Again", description="We will not renew.")
    assert alerts(acme, Signal.CHURN).count() == 1
    assert Notification.objects.filter(recipient=csm).count() == 1

    travel(at(2026, 3, 9, 8))  # next week: raised again
    with committed():
        ts.add_reply(t, author=customer_a, body="Still thinking of switching to Globex.")
    assert list(alerts(acme, Signal.CHURN).values_list("period", flat=True)) == [
        "2026-W11", "2026-W10"]
    assert Notification.objects.filter(recipient=csm).count() == 2


def test_agent_words_do_not_count_as_churn(acme, customer_a, agent, committed):
    t = make_ticket(customer_a)
    with committed():
        ts.add_reply(t, author=agent, body="You do not need to cancel your subscription.")
    assert not alerts(acme).exists()


def test_each_signal_is_its_own_alert(acme, customer_a, agent, committed, travel):
    travel(at(2026, 3, 3, 9))
    t = make_ticket(customer_a)
    with committed():
        ts.update_ticket(t, actor=agent, changes={"tags": ["executive"]})
        ts.update_ticket(t, actor=agent, changes={"tags": ["executive", "incident"]})
    assert set(alerts(acme).values_list("signal", flat=True)) == {
        Signal.EXECUTIVE, Signal.INCIDENT}
    with committed():  # same signal, same week, another ticket: still one
        make_ticket(customer_a, tags=["incident"])
    assert alerts(acme, Signal.INCIDENT).count() == 1


def test_negative_csat_trend(acme, customer_a, agent, committed, travel):
    travel(at(2026, 3, 3, 9))
    with committed():
        for i, rating in enumerate([5, 5, 4, 3, 2, 2]):
            t = make_ticket(customer_a, subject=f"Case {i}")
            Survey.objects.create(ticket=t, resolution=0, requester=customer_a,
                                  scheduled_for=at(2026, 3, 3, 9), rating=rating,
                                  status=Survey.Status.RESPONDED,
                                  responded_at=at(2026, 3, 3, 9, i))
    alert = alerts(acme, Signal.CSAT).get()
    assert "[5, 5, 4, 3, 2, 2]" in alert.detail  # the sixth answer tips it: 4.67 → 2.33


@pytest.mark.parametrize(("ratings", "negative"), [
    ([5, 5, 5, 4, 4, 4], True),    # the latest three average a full point lower
    ([5, 5, 4, 4, 4, 4], False),   # 4.67 → 4.0: less than a point
    ([5, 2, 2, 1], True),          # the latest three are all 2 or less
    ([3, 2, 1], False),            # a 3 among them, and nothing to compare with
    ([5, 2], False),               # not enough answers
])
def test_csat_trend_rule(ratings, negative):
    assert metrics.csat_trend_negative(ratings) is negative


def test_champion_departure_flagged_from_the_panel(client, acme, customer_a, agent, csm):
    t = make_ticket(customer_a)
    client.force_login(agent)
    url = f"/casework/tickets/{t.pk}/champion/"
    assert client.post(url, {"note": "Dana (our admin) left Acme"}).status_code == 302
    assert client.post(url, {"note": "again"}, HTTP_HX_REQUEST="true").status_code == 422
    alert = alerts(acme, Signal.CHAMPION).get()
    assert "Dana (our admin) left Acme" in alert.detail
    assert Notification.objects.filter(recipient=csm).count() == 1


def test_without_csm_the_alert_is_kept_and_nobody_is_notified(org_b, customer_b, committed):
    with committed():
        make_ticket(customer_b, description="We want to cancel our contract.")
    alert = AtRiskAlert.objects.get(organization=org_b)
    assert alert.notified is None
    assert not Notification.objects.filter(source__startswith="casework").exists()


def test_raise_signal_is_idempotent_under_retries(acme):
    first = services.raise_signal(acme, Signal.INCIDENT, at=at(2026, 3, 3))
    again = services.raise_signal(acme, Signal.INCIDENT, at=at(2026, 3, 4))
    assert first is not None and again is None
    assert services.raise_signal(None, Signal.INCIDENT) is None


def test_customer_never_sees_the_at_risk_page(client, customer_a):
    client.force_login(customer_a)
    assert client.get("/casework/at-risk/").status_code == 404


def test_at_risk_page_lists_alerts(client, acme, agent):
    services.raise_signal(acme, Signal.EXECUTIVE, detail="CEO wrote in")
    client.force_login(agent)
    page = client.get("/casework/at-risk/").content.decode()
    assert "Acme" in page and "Executive complaint" in page and "CEO wrote in" in page
