"""Issue 28: the defects an outside tester found in the API, each held by tests named after
it. (The field-by-field write matrix is tests/security/test_write_fields.py; safe methods
on every route are tests/security/test_safe_methods.py; Schemathesis is test_fuzz.py.)
"""
from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from helpdesk.ids import MAX_ID
from helpdesk.roles import Role
from tests.factories import PACKET, make_user
from tickets import services
from tickets.models import Macro, Ticket, TicketEvent

TICKETS = "/api/v1/tickets/"
OUT_OF_RANGE = [str(MAX_ID + 1), str(2**64), str(-(2**63) - 1), "0",
                "99999999999999999999999999999"]


# --- 1. a customer chooses who works their ticket: the rule is the services' ----------

def test_services_refuse_every_staff_only_value_from_a_customer(ticket_a, customer_a,
                                                               org_admin_a, agent, l2):
    """Whatever the route, the service refuses: transition, filing, replying, macros."""
    refusals = {
        "transition assignee": lambda: services.transition(
            ticket_a, "resolved", actor=org_admin_a, assignee=agent),
        "transition to_team": lambda: services.transition(
            ticket_a, "resolved", actor=customer_a, to_team=l2),
        "transition packet": lambda: services.transition(
            ticket_a, "resolved", actor=customer_a, packet=PACKET),
        "file with priority": lambda: services.create_ticket(
            requester=customer_a, actor=customer_a, subject="s", description="d", priority=1),
        "file with tags": lambda: services.create_ticket(
            requester=customer_a, actor=customer_a, subject="s", description="d",
            tags=["vip"]),
        "file for someone else": lambda: services.create_ticket(
            requester=org_admin_a, actor=customer_a, subject="s", description="d"),
        "file as a phone call": lambda: services.create_ticket(
            requester=customer_a, actor=customer_a, subject="s", description="d",
            channel="phone"),
        "reply with logged time": lambda: services.add_reply(
            ticket_a, author=customer_a, body="b", time_minutes=30),
        "reply setting a status": lambda: services.add_reply(
            ticket_a, author=customer_a, body="b", set_status="closed"),
        "apply a macro": lambda: services.apply_macro(
            ticket_a, Macro.objects.create(name="Close", body="Bye"), actor=customer_a),
        "bulk change": lambda: services.bulk_update([ticket_a], actor=customer_a,
                                                    assignee=agent),
    }
    before = (TicketEvent.objects.count(), Ticket.objects.count())
    for name, attempt in refusals.items():
        with pytest.raises(PermissionDenied):
            attempt()
        assert (TicketEvent.objects.count(), Ticket.objects.count()) == before, name


def test_the_system_and_agents_may_set_what_customers_may_not(customer_a, agent, l2):
    """The e-mail intake files with its mailbox's default priority (no actor); an agent
    files for a customer with a priority and tags."""
    by_mailbox = services.create_ticket(requester=customer_a, subject="s", description="d",
                                        channel="email", priority=2)
    by_agent = services.create_ticket(requester=customer_a, actor=agent, subject="s",
                                      description="d", channel="phone", priority=1,
                                      tags=["vip"])
    assert by_mailbox.priority == 2 and by_agent.priority == 1
    assert list(by_agent.tags.values_list("name", flat=True)) == ["vip"]


def test_customer_cannot_choose_the_assignee_of_a_colleagues_ticket_as_org_admin(
        client_for, org_admin_a, customer_a, agent, manager, assigned_ticket):
    response = client_for(org_admin_a).post(
        f"{TICKETS}{assigned_ticket.pk}/transition/",
        {"to": "resolved", "assignee": manager.pk}, format="json")
    assert response.status_code == 403
    assigned_ticket.refresh_from_db()
    assert assigned_ticket.assignee == agent and assigned_ticket.status == "assigned"


# --- 3. 500 on ids past 2^63 ------------------------------------------------------------

ID_FILTERS = [
    (TICKETS, name) for name in ("requester", "team", "assignee", "organization", "category")
] + [("/api/v1/users/", "organization"), ("/api/v1/users/", "team"),
     ("/api/v1/qa/reviews/", "agent"), ("/api/v1/qa/reviews/", "ticket"),
     ("/api/v1/sla/approaching/", "team")]


@pytest.mark.parametrize("url,name", ID_FILTERS)
def test_ids_past_the_database_range_in_a_query_string_answer_400_not_500(
        client_for, agent, qa_reviewer, customer_a, url, name):
    callers = [qa_reviewer if "qa" in url else agent]
    if url in (TICKETS, "/api/v1/users/"):
        callers.append(customer_a)  # customers could trigger it
    for user in callers:
        client = client_for(user)
        for value in OUT_OF_RANGE:
            response = client.get(url, {name: value})
            assert response.status_code == 400, (url, name, value, response.status_code)
            assert name in response.json()["errors"]
        assert client.get(url, {name: str(MAX_ID)}).status_code == 200


@pytest.mark.parametrize("path", [
    "/api/v1/tickets/{}/", "/api/v1/tickets/{}/messages/", "/api/v1/tickets/{}/events/",
    "/api/v1/tickets/{}/sla/", "/api/v1/tickets/{}/mail/", "/api/v1/tickets/{}/investigation/",
    "/api/v1/users/{}/", "/api/v1/organizations/{}/", "/api/v1/qa/reviews/{}/",
    "/api/v1/incidents/{}/"])
def test_ids_past_the_database_range_in_a_path_answer_404(client_for, manager, path):
    client = client_for(manager)
    for value in (str(MAX_ID + 1), str(2**64)):
        assert client.get(path.format(value)).status_code == 404, path


def test_ids_past_the_database_range_in_a_body_answer_400(client_for, agent, customer_a,
                                                          assigned_ticket):
    client = client_for(agent)
    for field in ("assignee", "team", "category", "product_area"):
        response = client.patch(f"{TICKETS}{assigned_ticket.pk}/", {field: 2**64},
                                format="json")
        assert response.status_code == 400 and field in response.json()["errors"], field
    response = client.post(f"{TICKETS}{assigned_ticket.pk}/transition/",
                           {"to": "escalated", "to_team": 2**64, "packet": PACKET},
                           format="json")
    assert response.status_code == 400 and "to_team" in response.json()["errors"]
    response = client_for(customer_a).post(TICKETS, {
        "subject": "s", "description": "d", "category": 2**64}, format="json")
    assert response.status_code == 400 and "category" in response.json()["errors"]


def test_ids_past_the_database_range_in_web_forms_and_filters_never_500(
        client, lead, qa_reviewer, agent, ticket_a):
    client.force_login(lead)
    big = str(2**64)
    assert client.get(reverse("incidents:declare"), {"ticket": big}).status_code == 200
    declared = client.post(reverse("incidents:declare"), {"tickets": big, "title": "Overflow"})
    assert declared.status_code in (200, 400)  # the form with its errors, not a 500
    queue = client.post(reverse("agent:bulk"), {"ids": [big, ticket_a.pk], "action": "assign",
                                                "assignee": agent.pk})
    assert queue.status_code < 500
    client.force_login(qa_reviewer)
    session = client.post(reverse("qa:calibration_new"), {
        "title": "Overflow", "participants": [big], "tickets": big})
    assert session.status_code == 400  # the form, with its errors


def test_a_number_past_a_columns_range_matches_no_row_in_any_lookup(ticket_a, customer_a):
    """The floor beneath the edges (helpdesk/lookups.py): `in` and foreign keys too."""
    big = 2**64
    qs = Ticket.objects.all()
    assert not qs.filter(pk__in=[big]).exists()
    assert list(qs.filter(pk__in=[big, ticket_a.pk])) == [ticket_a]
    assert not qs.filter(requester_id=big).exists()
    assert not qs.filter(requester__in=[big, -big]).exists()
    assert list(qs.exclude(team_id=big)) == [ticket_a]
    assert not customer_a.__class__.objects.filter(teams=big).exists()


# --- 4. the API's throttles were bypassed with a header -----------------------------

TOKEN_URL = "/api/v1/auth/token/"


def _guess(client: APIClient, forwarded: str) -> int:
    return client.post(TOKEN_URL, {"username": "alice", "password": "guess"}, format="json",
                       HTTP_X_FORWARDED_FOR=forwarded).status_code


def test_token_throttle_holds_against_a_rotating_x_forwarded_for(settings, customer_a):
    settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE = 3
    settings.HELPDESK_TRUSTED_PROXY_COUNT = 0
    client = APIClient()
    codes = [_guess(client, f"203.0.113.{i}") for i in range(5)]
    assert codes == [400, 400, 400, 429, 429]


def test_token_throttle_behind_a_trusted_proxy_keys_on_the_address_it_saw(settings,
                                                                        customer_a):
    """Behind one trusted proxy the client may prepend anything; the proxy's own entry
    (the rightmost) is who they are. Two real clients keep separate budgets."""
    settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE = 3
    settings.HELPDESK_TRUSTED_PROXY_COUNT = 1
    client = APIClient(REMOTE_ADDR="10.0.0.2")  # the proxy
    codes = [_guess(client, f"198.51.100.{i}, 192.0.2.7") for i in range(4)]
    assert codes == [400, 400, 400, 429]
    assert _guess(client, "192.0.2.8") == 400  # someone else behind the same proxy


def test_anonymous_api_throttle_holds_against_a_rotating_x_forwarded_for(monkeypatch, db):
    from helpdesk.throttle import AnonRateThrottle

    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute"})
    client = APIClient()
    codes = [client.get("/api/v1/kb/articles/",
                        HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_web_log_in_throttle_holds_against_a_rotating_x_forwarded_for(settings, customer_a):
    settings.HELPDESK_LOGIN_ATTEMPTS_PER_MINUTE = 3
    client = Client()
    codes = [client.post(reverse("login"), {"username": "alice", "password": "guess"},
                         HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def test_every_api_throttle_knows_clients_by_client_ip():
    """One client-address function for every throttle: each DRF view's throttles are
    keyed by helpdesk.throttle.client_ip (the web's throttles call it directly)."""
    from django.urls import URLPattern, URLResolver, get_resolver
    from rest_framework.views import APIView

    from helpdesk.throttle import ClientAddressThrottle

    def views(resolver: URLResolver):
        for p in resolver.url_patterns:
            if isinstance(p, URLResolver):
                yield from views(p)
            elif isinstance(p, URLPattern):
                cls = getattr(p.callback, "cls", None)
                if cls is not None and issubclass(cls, APIView):
                    yield cls

    found = {cls for cls in views(get_resolver())}
    assert len(found) > 10
    wrong = [(cls.__name__, t.__name__) for cls in found for t in cls.throttle_classes
             if not issubclass(t, ClientAddressThrottle)]
    assert not wrong, wrong


# --- 5. responses that broke the published schema ------------------------------------

def _schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def test_incident_timeline_author_null_is_in_the_schema(client_for, lead, ticket_a):
    from incidents import services as incidents
    from incidents.models import TimelineEntry

    incident = incidents.declare(title="Outage", users_affected="multiple",
                                 impact="complete", actor=lead, tickets=[ticket_a])
    TimelineEntry.objects.filter(incident=incident).update(author=None)  # the system's
    body = client_for(lead).get(f"/api/v1/incidents/{incident.pk}/").json()
    assert body["timeline"] and all(e["author"] is None for e in body["timeline"])
    author = _schema()["components"]["schemas"]["TimelineEntry"]["properties"]["author"]
    assert author.get("nullable") is True


def test_article_without_a_section_null_is_in_the_schema(client, db):
    from knowledge import services as kb
    from knowledge.models import Audience, Section

    section = Section.objects.create(name="Gone", slug="gone")
    article = kb.publish(kb.create_article(title="Orphan", author=None, summary="s",
                                           body="b", audience=Audience.PUBLIC), actor=None)
    type(article).objects.filter(pk=article.pk).update(section=section)
    section.delete()
    assert client.get(f"/api/v1/kb/articles/{article.slug}/").json()["section"] is None
    section_schema = _schema()["components"]["schemas"]["Article"]["properties"]["section"]
    assert section_schema.get("nullable") is True


def test_fields_read_through_a_nullable_relation_are_nullable_in_the_schema():
    """Every API field whose source passes through a nullable relation (`author.name`
    where the author may be gone) is declared nullable: the class of both defects."""
    import importlib

    from django.apps import apps
    from rest_framework import serializers

    wrong = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.serializers")
        except ModuleNotFoundError:
            continue
        for cls in vars(module).values():
            if not (isinstance(cls, type) and issubclass(cls, serializers.ModelSerializer)
                    and cls.__module__ == module.__name__ and hasattr(cls, "Meta")):
                continue
            model = cls.Meta.model
            for name, field in cls().fields.items():
                hops = (field.source or "").split(".")
                if len(hops) < 2 or field.source == "*":
                    continue
                try:
                    first = model._meta.get_field(hops[0])
                except Exception:  # noqa: BLE001 - a property, not a relation
                    continue
                if first.concrete and first.null and not field.allow_null:
                    wrong.append(f"{cls.__name__}.{name} ({field.source})")
    assert not wrong, wrong


def test_missing_or_invalid_token_credentials_get_401_with_www_authenticate(db):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Token not-a-real-token"},
                    {"HTTP_AUTHORIZATION": "Token "}):
        for method, url in (("get", TICKETS), ("post", TICKETS), ("get", "/api/v1/users/me/")):
            response = getattr(APIClient(), method)(url, **headers)
            assert response.status_code == 401, (method, url, headers)
            assert response["WWW-Authenticate"] == "Token"
    responses = _schema()["paths"]["/api/v1/tickets/"]["get"]["responses"]
    assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True


def test_a_session_reads_and_a_session_write_without_csrf_gets_403(customer_a, ticket_a):
    """What sessions get: the browser's cookie reads the API; a write without the CSRF
    token is refused (403), with a token it works."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer_a)
    assert client.get(TICKETS).status_code == 200
    url = f"{TICKETS}{ticket_a.pk}/messages/"
    assert client.post(url, {"body": "No token"}).status_code == 403
    client.get(reverse("portal:tickets"))  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    assert client.post(url, {"body": "With token"}, HTTP_X_CSRFTOKEN=token).status_code == 201


# --- 6. smaller ---------------------------------------------------------------------------

def test_created_before_the_end_of_time_returns_every_ticket(client_for, agent, ticket_a):
    client = client_for(agent)

    def ids(**query) -> list[int]:
        response = client.get(TICKETS, query)
        assert response.status_code == 200
        return [t["id"] for t in response.json()["results"]]

    end, start = "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"
    assert ids(created_before=end) == [ticket_a.pk]
    assert ids(created_after=end) == []
    assert ids(created_after=start) == [ticket_a.pk]
    assert ids(created_before=start) == []


@pytest.fixture
def etag_of(client_for, agent):
    client = client_for(agent)

    def etag(ticket) -> str:
        return client.get(f"{TICKETS}{ticket.pk}/")["ETag"]

    return etag


def _patch(client_for, agent, ticket, if_match: str | None, **data):
    headers = {} if if_match is None else {"HTTP_IF_MATCH": if_match}
    return client_for(agent).patch(f"{TICKETS}{ticket.pk}/", data, format="json", **headers)


def test_if_match_with_a_weak_tag_is_refused(client_for, agent, etag_of, assigned_ticket):
    weak = "W/" + etag_of(assigned_ticket)
    response = _patch(client_for, agent, assigned_ticket, weak, priority=1)
    assert response.status_code == 412
    assigned_ticket.refresh_from_db()
    assert assigned_ticket.priority != 1


def test_if_match_takes_a_list_of_tags(client_for, agent, etag_of, assigned_ticket):
    current = etag_of(assigned_ticket)
    listed = f'"{assigned_ticket.pk}-1", W/{current}, {current}'
    assert _patch(client_for, agent, assigned_ticket, listed, priority=1).status_code == 200
    stale = f'"{assigned_ticket.pk}-1", {current}'  # current is stale now
    assert _patch(client_for, agent, assigned_ticket, stale, priority=2).status_code == 412
    assert _patch(client_for, agent, assigned_ticket, "*", priority=2).status_code == 200


def test_a_malformed_if_match_is_refused_not_ignored(client_for, agent, assigned_ticket):
    for header in ("not-quoted", '"unterminated', "W/"):
        response = _patch(client_for, agent, assigned_ticket, header, priority=1)
        assert response.status_code == 412, header
    assigned_ticket.refresh_from_db()
    assert assigned_ticket.priority != 1


def test_a_patch_that_changes_nothing_keeps_the_etag(client_for, agent, etag_of,
                                                     assigned_ticket):
    before = etag_of(assigned_ticket)
    events = assigned_ticket.events.count()
    same = {"priority": assigned_ticket.priority, "subject": assigned_ticket.subject,
            "assignee": assigned_ticket.assignee_id, "tags": []}
    response = _patch(client_for, agent, assigned_ticket, before, **same)
    assert response.status_code == 200
    assert response["ETag"] == before == etag_of(assigned_ticket)
    assert assigned_ticket.events.count() == events
    # ... and a real change does change it.
    changed = _patch(client_for, agent, assigned_ticket, before, priority=1)
    assert changed.status_code == 200 and changed["ETag"] != before


@pytest.fixture
def qa_reviewer(db):
    return make_user(Role.QA_REVIEWER, username="quinn")
