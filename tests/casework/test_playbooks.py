"""Playbook suggestion by category / product area, steps ticked off, reuse, drafts."""
import pytest
from django.core.exceptions import ValidationError

from casework import selectors, services
from casework.models import Playbook, PlaybookRun, StepCheck
from tests.factories import PACKET, make_ticket
from tickets import services as ts
from tickets.state_machine import Status

from .conftest import T0, make_playbook


def test_suggested_by_category_or_product_area_active_only(customer_a, api_cat, billing_cat,
                                                           exports_area):
    by_cat = make_playbook("By category", categories=[api_cat])
    by_area = make_playbook("By area", areas=[exports_area])
    make_playbook("Other category", categories=[billing_cat])
    make_playbook("Inactive", categories=[api_cat], active=False)
    both = make_playbook("Both", categories=[api_cat], areas=[exports_area])

    t = make_ticket(customer_a, category=api_cat, product_area=exports_area)
    assert list(selectors.suggested_playbooks(t)) == [both, by_area, by_cat]
    only_cat = make_ticket(customer_a, category=api_cat)
    assert list(selectors.suggested_playbooks(only_cat)) == [both, by_cat]
    nothing = make_ticket(customer_a)
    assert list(selectors.suggested_playbooks(nothing)) == []


def test_following_a_playbook_and_ticking_steps(customer_a, l2_agent, api_cat):
    p = make_playbook("API", categories=[api_cat], steps=3)
    t = make_ticket(customer_a, category=api_cat)
    run = services.start_playbook(t, p, actor=l2_agent)
    assert services.start_playbook(t, p, actor=l2_agent) == run  # once per ticket
    first, second, _ = p.steps.all()
    services.check_step(run, first, actor=l2_agent, done=True)
    services.check_step(run, second, actor=l2_agent, done=True)
    services.check_step(run, second, actor=l2_agent, done=False)
    assert list(StepCheck.objects.filter(run=run).values_list("step", flat=True)) == [first.pk]
    other = make_playbook("Other")
    with pytest.raises(ValidationError):
        services.check_step(run, other.steps.first(), actor=l2_agent, done=True)


def test_reuse_counts_tickets_not_runs(customer_a, l2_agent, api_cat):
    p1, p2 = make_playbook("A", categories=[api_cat]), make_playbook("B", categories=[api_cat])
    t1, t2 = make_ticket(customer_a, category=api_cat), make_ticket(customer_a, category=api_cat)
    make_ticket(customer_a, category=api_cat)  # suggested but not followed
    for t in (t1, t2):
        ts.update_ticket(t, actor=l2_agent, changes={"team": l2_agent.teams.first()})
    services.start_playbook(t1, p1, actor=l2_agent)
    services.start_playbook(t1, p2, actor=l2_agent)
    services.start_playbook(t2, p1, actor=l2_agent)
    f = selectors.Filters(start=T0.replace(year=2000), end=T0.replace(year=2100))
    totals = selectors.totals(f)
    assert PlaybookRun.objects.count() == 3
    assert totals.followed == 2  # two tickets followed a playbook
    assert (totals.recurring, totals.recurring_followed) == (2, 2)


def test_panel_suggests_and_ticks_steps_over_htmx(client, customer_a, agent, l2_agent, l2,
                                                  api_cat):
    p = make_playbook("Gateway 401s", categories=[api_cat])
    t = make_ticket(customer_a, category=api_cat)
    ts.escalate(t, to_team=l2, packet=PACKET, actor=agent)
    client.force_login(l2_agent)
    page = client.get(f"/agent/tickets/{t.pk}/").content.decode()
    assert "Gateway 401s" in page and "Follow this playbook" in page
    r = client.post(f"/casework/tickets/{t.pk}/playbooks/{p.pk}/start/", HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "Tick off step 1" in r.content.decode()
    run = PlaybookRun.objects.get(ticket=t)
    step = p.steps.first()
    r = client.post(f"/casework/tickets/{t.pk}/runs/{run.pk}/steps/{step.pk}/", {"done": "1"},
                    HTTP_HX_REQUEST="true")
    assert "Untick step 1" in r.content.decode()
    assert StepCheck.objects.filter(run=run, step=step).exists()


def test_resolved_investigation_becomes_a_draft_playbook(customer_a, agent, l2_agent, l2,
                                                         api_cat, exports_area):
    t = make_ticket(customer_a, category=api_cat, product_area=exports_area)
    t = ts.escalate(t, to_team=l2, packet=PACKET, actor=agent)
    services.save_investigation(t, actor=l2_agent, data={
        "goal": "Export invoices", "hypothesis": "Token expired", "next_step": "Rotate key"})
    services.add_evidence(t, actor=l2_agent, kind="log", summary="401 at /export")
    services.add_evidence(t, actor=l2_agent, kind="config", summary="Key created 2024")
    with pytest.raises(ValidationError, match="resolved"):
        services.playbook_from_investigation(t, actor=l2_agent)
    t = ts.transition(t, Status.RESOLVED, actor=l2_agent)
    p = services.playbook_from_investigation(t, actor=l2_agent, name="Export 401s")
    assert (p.name, p.is_active, p.source_ticket) == ("Export 401s", False, t)
    assert list(p.categories.all()) == [api_cat] and list(p.product_areas.all()) == [exports_area]
    assert [(s.order, s.title, s.collect, s.decide) for s in p.steps.all()] == [
        (1, "Collect: Log", "401 at /export", ""),
        (2, "Collect: Configuration", "Key created 2024", ""),
        (3, "Confirm the cause", "Rotate key", "Token expired"),
    ]
    assert not selectors.suggested_playbooks(make_ticket(customer_a, category=api_cat)).exists()
    Playbook.objects.filter(pk=p.pk).update(is_active=True)  # a lead reviewed it
    assert list(selectors.suggested_playbooks(make_ticket(customer_a, category=api_cat))) == [p]


def test_resolved_investigation_becomes_a_help_center_draft(client, customer_a, agent,
                                                            l2_agent, l2, api_cat):
    from knowledge.models import Article, ArticleStatus, Audience

    t = make_ticket(customer_a, category=api_cat, subject="Invoice export fails with 401")
    t = ts.escalate(t, to_team=l2, packet=PACKET, actor=agent)
    services.save_investigation(t, actor=l2_agent, data={
        "goal": "Export invoices", "actual": "HTTP 401", "environment": "EU cluster",
        "version": "4.2", "hypothesis": "The API key expired after a year."})
    verified = services.add_evidence(t, actor=l2_agent, kind="log", summary="401 at /export")
    services.verify_evidence(verified, actor=l2_agent)
    services.add_evidence(t, actor=l2_agent, kind="config", summary="unverified guess")
    ts.add_reply(t, author=l2_agent, body="Rotate the key under Settings → API.", public=True)
    client.force_login(l2_agent)
    url = f"/casework/tickets/{t.pk}/draft-article/"
    assert client.post(url).status_code == 302  # not resolved yet: refused, nothing made
    assert not Article.objects.exists()
    t = ts.transition(t, Status.RESOLVED, actor=l2_agent)
    response = client.post(url)
    article = Article.objects.get()
    assert response["Location"] == f"/help/manage/articles/{article.pk}/"
    assert (article.title, article.status, article.audience, article.category) == (
        "Invoice export fails with 401", ArticleStatus.DRAFT, Audience.CUSTOMERS, api_cat)
    body = article.body
    assert "**What you are trying to do:** Export invoices" in body
    assert "**Seen on:** EU cluster (version 4.2)" in body
    assert "## Cause\n\nThe API key expired after a year." in body
    assert "- Log: 401 at /export" in body and "unverified guess" not in body
    assert "Rotate the key under Settings → API." in body
    assert customer_a.email not in body
    # Customers cannot reach the action.
    client.force_login(customer_a)
    assert client.post(url).status_code == 404
