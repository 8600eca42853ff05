"""Every workforce model has an admin whose list, and add or detail page, opens."""
from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from workforce import models as wf


@pytest.fixture
def rows(agent, l1):
    now = datetime(2026, 5, 4, 9, tzinfo=UTC)
    template = wf.ShiftTemplate.objects.create(name="Core", start=time(9), end=time(17))
    run = wf.ForecastRun.objects.create(method="seasonal", created_at=now, starts_at=now)
    rotation = wf.Rotation.objects.create(name="Primary", team=l1, starts_on=date(2026, 5, 4))
    policy = wf.EscalationPolicy.objects.create(name="Default", rotation=rotation)
    return [
        wf.TeamCapacity.objects.create(team=l1),
        wf.Hire.objects.create(agent=agent, team=l1, started_on=date(2026, 5, 4)),
        run,
        wf.ForecastPoint.objects.create(run=run, hour=now, expected=3.5),
        template,
        wf.ScheduledShift.objects.create(agent=agent, team=l1, template=template,
                                         starts_at=now, ends_at=now.replace(hour=17)),
        wf.TimeOff.objects.create(agent=agent, starts_at=now, ends_at=now.replace(day=5)),
        wf.AgentStatus.objects.create(agent=agent, status="available", started_at=now),
        rotation,
        wf.RotationMember.objects.create(rotation=rotation, user=agent, position=1),
        wf.OnCallOverride.objects.create(rotation=rotation, user=agent, starts_at=now,
                                         ends_at=now.replace(hour=17)),
        wf.Page.objects.create(rotation=rotation, user=agent, role="primary", reason="P1",
                               created_at=now),
        policy,
        wf.EscalationStep.objects.create(policy=policy, after_minutes=5, target="primary"),
        wf.ArrivalHour.objects.create(hour=now, team_id=l1.pk, channel="chat", tickets=3),
        wf.HandleDay.objects.create(day=now.date(), team_id=l1.pk, priority=2, tickets=4),
        wf.CapacityRollupState.objects.create(covered_from=date(2026, 4, 1),
                                              covered_to=date(2026, 5, 4)),
        wf.CapacityStaleDay.objects.create(day=date(2026, 4, 20)),
    ]


def test_every_workforce_model_is_registered():
    missing = [m.__name__ for m in apps.get_app_config("workforce").get_models()
               if m not in admin.site._registry]
    assert missing == []


def test_admin_pages_open_for_every_workforce_model(client, admin_user, rows):
    client.force_login(admin_user)
    assert {type(r) for r in rows} == set(apps.get_app_config("workforce").get_models())
    for obj in rows:
        opts = obj._meta
        base = f"admin:{opts.app_label}_{opts.model_name}"
        assert client.get(reverse(f"{base}_changelist")).status_code == 200, opts.model_name
        assert client.get(reverse(f"{base}_change", args=[obj.pk])).status_code == 200, \
            opts.model_name
        model_admin = admin.site._registry[type(obj)]
        if model_admin.has_add_permission(type("R", (), {"user": admin_user})()):
            assert client.get(reverse(f"{base}_add")).status_code == 200, opts.model_name


def test_status_history_is_read_only(client, admin_user, rows):
    client.force_login(admin_user)
    status = next(r for r in rows if isinstance(r, wf.AgentStatus))
    response = client.post(reverse("admin:workforce_agentstatus_change", args=[status.pk]),
                           {"status": "offline"})
    assert response.status_code == 403
    status.refresh_from_db()
    assert status.status == "available"
