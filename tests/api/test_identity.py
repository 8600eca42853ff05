"""Organizations and users over the API: agents see all, customers only their own."""
from __future__ import annotations

from helpdesk.models import Organization

ORGS = "/api/v1/organizations/"
USERS = "/api/v1/users/"


def names(response) -> set[str]:
    return {row["name"] for row in response.json()["results"]}


def test_agent_lists_organizations(client_for, agent, org_a, org_b, manager):
    org_a.csm = manager
    org_a.save()
    response = client_for(agent).get(ORGS)
    assert response.status_code == 200
    assert names(response) == {"Acme", "Globex"}
    acme = client_for(agent).get(f"{ORGS}{org_a.pk}/").json()
    assert acme == {
        "id": org_a.pk, "name": "Acme", "domain": "acme.example", "support_tier": "enterprise",
        "csm": manager.pk, "csm_name": manager.display_name,
        "created_at": acme["created_at"],
    }
    assert client_for(agent).get(ORGS, {"support_tier": "starter"}).json()["count"] == 1


def test_customer_sees_only_their_organization(client_for, customer_a, org_a, org_b):
    client = client_for(customer_a)
    assert names(client.get(ORGS)) == {"Acme"}
    assert client.get(f"{ORGS}{org_b.pk}/").status_code == 404


def test_customer_without_organization_sees_none(client_for, db):
    from helpdesk.roles import Role
    from tests.factories import make_user

    loner = make_user(Role.CUSTOMER, username="loner")
    assert client_for(loner).get(ORGS).json()["count"] == 0


def test_manager_creates_and_updates_organizations(client_for, manager, org_a):
    client = client_for(manager)
    created = client.post(ORGS, {"name": "Initech", "domain": "Initech.Example",
                                 "support_tier": "business"}, format="json")
    assert created.status_code == 201, created.json()
    assert Organization.objects.get(name="Initech").domain == "initech.example"

    changed = client.patch(f"{ORGS}{org_a.pk}/", {"support_tier": "business"}, format="json")
    assert changed.status_code == 200
    org_a.refresh_from_db()
    assert org_a.support_tier == "business"


def test_admin_role_may_change_organizations(client_for, admin_user, org_a):
    response = client_for(admin_user).patch(f"{ORGS}{org_a.pk}/", {"domain": "acme.test"},
                                            format="json")
    assert response.status_code == 200


def test_agents_and_customers_cannot_change_organizations(
        client_for, agent, customer_a, org_a, org_b):
    assert client_for(agent).post(ORGS, {"name": "X"}, format="json").status_code == 403
    assert client_for(agent).patch(f"{ORGS}{org_a.pk}/", {"name": "Y"},
                                   format="json").status_code == 403
    customer = client_for(customer_a)
    assert customer.patch(f"{ORGS}{org_a.pk}/", {"name": "Y"}, format="json").status_code == 403
    assert customer.patch(f"{ORGS}{org_b.pk}/", {"name": "Y"}, format="json").status_code == 404
    assert customer.post(ORGS, {"name": "Z"}, format="json").status_code == 403
    assert set(Organization.objects.values_list("name", flat=True)) == {"Acme", "Globex"}


def test_organizations_cannot_be_deleted(client_for, manager, org_a):
    assert client_for(manager).delete(f"{ORGS}{org_a.pk}/").status_code == 405


def test_agent_lists_users_with_roles_and_teams(client_for, agent, l1, customer_a, org_a):
    client = client_for(agent)
    rows = {row["username"]: row for row in client.get(USERS).json()["results"]}

    assert rows["agnes"]["is_agent"] is True
    assert rows["agnes"]["teams"] == [{"id": l1.pk, "name": l1.name, "tier": "l1"}]
    assert rows["alice"] == {
        "id": customer_a.pk, "username": "alice", "name": customer_a.display_name,
        "email": customer_a.email, "is_agent": False, "teams": [],
        "organization": {"id": org_a.pk, "name": "Acme", "support_tier": "enterprise"},
    }
    assert client.get(f"{USERS}{customer_a.pk}/").status_code == 200


def test_user_filters(client_for, agent, l2_agent, l2, customer_a, customer_b, org_a):
    client = client_for(agent)

    def usernames(**params):
        return {row["username"] for row in client.get(USERS, params).json()["results"]}

    assert usernames(is_agent="true") == {"agnes", "leo"}
    assert usernames(is_agent="false") == {"alice", "bob"}
    assert usernames(team=l2.pk) == {"leo"}
    assert usernames(organization=org_a.pk) == {"alice"}
    assert usernames(search="BOB") == {"bob"}


def test_user_list_query_count_is_constant(db, agent):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from helpdesk.roles import Role
    from tests.factories import make_user

    client = APIClient()
    client.force_login(agent)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(USERS).status_code == 200
        return len(ctx.captured_queries)

    few = count()
    for n in range(5):
        make_user(Role.AGENT, username=f"extra{n}")
    assert count() == few


def test_customer_sees_only_themselves(client_for, customer_a, customer_b):
    client = client_for(customer_a)
    assert [u["username"] for u in client.get(USERS).json()["results"]] == ["alice"]
    assert client.get(f"{USERS}{customer_b.pk}/").status_code == 404
    me = client.get(f"{USERS}me/")
    assert me.status_code == 200
    assert me.json()["id"] == customer_a.pk and me.json()["is_agent"] is False


def test_me_for_an_agent(client_for, agent):
    body = client_for(agent).get(f"{USERS}me/").json()
    assert body["username"] == "agnes" and body["is_agent"] is True
