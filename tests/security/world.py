"""The world of the authorization matrix: two orgs, two teams, one user per role, and
one object of every kind owned by org A / team X, each carrying a unique marker."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from helpdesk.models import SupportTier
from helpdesk.roles import Role
from tests.factories import make_org, make_ticket, make_user, team

MISSING = 987654  # an id no object has

INTERNAL_NOTE = "ZZ-INTERNAL-NOTE-7f3a"
INTERNAL_ARTICLE = "ZZ-INTERNAL-ARTICLE-81bc"
QA_COMMENT = "ZZ-QA-REVIEW-COMMENT-c0de"
INCIDENT_NOTE = "ZZ-INCIDENT-INTERNAL-9e11"
MARKERS = (INTERNAL_NOTE, INTERNAL_ARTICLE, QA_COMMENT, INCIDENT_NOTE)
PRIVATE_FILTER = "Sec private filter of agent X"

ROLES = ("anonymous", "customer_a", "customer_b", "org_admin_a", "agent_x", "agent_y",
         "lead_x", "qa", "manager", "admin")
CUSTOMERS = ("customer_a", "customer_b", "org_admin_a")


@dataclass
class World:
    users: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)


def _safe(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - an optional object the world can do without
        return None


def build() -> World:
    from knowledge import services as kb
    from knowledge.models import Audience
    from tickets import services as ts
    from tickets.models import Survey

    w = World()
    org_a = make_org("Acme", tier=SupportTier.ENTERPRISE, domain="acme.example")
    org_b = make_org("Globex", tier=SupportTier.STARTER, domain="globex.example")
    tx, ty = team("l1-general"), team("l2-technical")
    u = w.users
    u["anonymous"] = None
    u["customer_a"] = make_user(Role.CUSTOMER, org=org_a, username="sec_alice")
    u["customer_b"] = make_user(Role.CUSTOMER, org=org_b, username="sec_bob")
    u["org_admin_a"] = make_user(Role.CUSTOMER, org=org_a, username="sec_amanda",
                                 is_org_admin=True)
    u["agent_x"] = make_user(Role.AGENT, teams=(tx,), username="sec_agnes")
    u["agent_y"] = make_user(Role.AGENT, teams=(ty,), username="sec_leo")
    u["lead_x"] = make_user(Role.TEAM_LEAD, teams=(tx,), lead=True, username="sec_lena")
    u["qa"] = make_user(Role.QA_REVIEWER, username="sec_quinn")
    u["manager"] = make_user(Role.MANAGER, username="sec_max")
    u["admin"] = make_user(Role.ADMIN, username="sec_root")

    # Org A's ticket, worked by team X, with a public reply + attachment and an internal note.
    t = make_ticket(u["customer_a"], subject="Sec ticket A", description="Printer on fire")
    type(t).objects.filter(pk=t.pk).update(team=tx, assignee=u["agent_x"])
    t.refresh_from_db()
    ts.add_reply(t, author=u["agent_x"], body="Public answer to Acme",
                 attachments=[SimpleUploadedFile("a.txt", b"secret", "text/plain")])
    ts.add_reply(t, author=u["agent_x"], body=INTERNAL_NOTE, public=False)
    att = t.messages.filter(attachments__isnull=False).first().attachments.first()
    tb = make_ticket(u["customer_b"], subject="Sec ticket B", description="Invoice wrong")
    w.ids.update(ticket=t.pk, ticket_b=tb.pk, attachment=att.pk, team_slug=tx.slug)

    # Survey on org A's ticket.
    from tickets import surveys
    now = timezone.now()
    survey = Survey.objects.create(ticket=t, resolution=1, requester=u["customer_a"],
                                   agent=u["agent_x"], team=tx, scheduled_for=now,
                                   sent_at=now, expires_at=now + timezone.timedelta(days=7),
                                   status="sent")
    w.ids["survey_token"] = surveys.make_token(survey)
    from mailgate import notices
    w.ids["unsubscribe_token"] = notices.unsubscribe_token(u["customer_a"].pk, "reminder")

    # Knowledge: a public article and an internal one.
    pub = kb.publish(kb.create_article(title="Sec public article", author=None,
                                       summary="public", body="How to reset",
                                       audience=Audience.PUBLIC), actor=None)
    internal = kb.publish(kb.create_article(title="Sec internal article", author=None,
                                            summary=INTERNAL_ARTICLE, body=INTERNAL_ARTICLE,
                                            audience=Audience.INTERNAL), actor=None)
    w.ids.update(article_slug=pub.slug, internal_slug=internal.slug, internal_pk=internal.pk,
                 article_pk=pub.pk)
    from knowledge.models import Section
    w.ids["section_slug"] = Section.objects.create(name="Sec section", slug="sec-section").slug

    # QA review of agent X's work on org A's ticket, with a comment.
    from qa import services as qs
    from qa.services import ScoreInput
    review = qs.create_review(ticket=t, actor=u["qa"], agent=u["agent_x"], reviewer=u["qa"])
    _safe(qs.save_draft, review, actor=u["qa"], data=ScoreInput(summary=QA_COMMENT))
    review.refresh_from_db()
    w.ids.update(review=review.pk, scorecard=review.scorecard_id)

    # Incident with an internal war-room note.
    from incidents import services as inc
    incident = inc.declare(title="Sec outage", users_affected="multiple", impact="complete",
                           actor=u["lead_x"], tickets=[t])
    inc.add_entry(incident, kind="note", body=INCIDENT_NOTE, actor=u["lead_x"])
    w.ids["incident"] = incident.pk
    w.ids["incident_role"] = incident.roles.first().pk

    # Team X's on-call rotation and a coaching session of agent X by lead X.
    from datetime import date

    from workforce.models import Rotation, RotationMember
    rot = Rotation.objects.create(name="Sec rotation", team=tx, starts_on=date(2026, 3, 2))
    RotationMember.objects.create(rotation=rot, user=u["agent_x"], position=0)
    w.ids["rotation"] = rot.pk
    coaching = qs.record_coaching(agent=u["agent_x"], coach=u["lead_x"], held_on=date.today(),
                                  strengths="Sec strengths", development_focus="Sec focus")
    w.ids["coaching"] = coaching.pk
    _objects_of_others(w, t, incident, rot, survey)
    # Issue 24: an erasure of customer B asked by the admin (who may not approve it alone).
    from privacy.models import PrivacyRequest
    w.ids["privacy_request"] = PrivacyRequest.objects.create(
        kind="erasure", state="awaiting_approval", subject=u["customer_b"],
        subject_label=f"user #{u['customer_b'].pk}", requested_by=u["admin"]).pk
    return w


def _objects_of_others(w: World, t, incident, rot, survey) -> None:
    """The rest of org A's / team X's / other users' objects, so that every URL with an id
    is checked against a real object (a denied role's 404 is not just "no such id")."""
    from datetime import timedelta

    from casework import services as cw
    from casework.models import Playbook, PlaybookStep
    from helpdesk.notifications import notify
    from incidents import services as inc
    from incidents.models import LinkSuggestion
    from mailgate.models import BounceMark, OutboundEmail, OutboundStatus
    from qa import services as qs
    from qa.models import Scorecard
    from sla import services as sla
    from sla.models import Clock
    from tickets.models import FollowUp, SavedFilter
    from workforce.services import oncall, schedules

    u, now = w.users, timezone.now()
    tx = t.team

    # A second org A ticket of agent X, reviewed, submitted and disputed (QA marker inside).
    t2 = make_ticket(u["customer_a"], subject="Sec ticket A2", description="Fax is jammed")
    type(t2).objects.filter(pk=t2.pk).update(team=tx, assignee=u["agent_x"])
    card = Scorecard.objects.get(is_current=True)
    full_marks = qs.ScoreInput(summary=QA_COMMENT, levels={
        d.pk: d.levels.order_by("-points").first().pk for d in card.dimensions.all()})
    disputed = qs.create_review(ticket=t2, actor=u["qa"], agent=u["agent_x"], reviewer=u["qa"])
    qs.submit_review(disputed, actor=u["qa"], data=full_marks)
    qs.dispute(disputed, actor=u["agent_x"], reason=f"I disagree with {QA_COMMENT}")
    session = qs.start_calibration(title="Sec calibration", facilitator=u["qa"],
                                   participants=[u["qa"], u["lead_x"]], tickets=[t])
    w.ids.update(ticket2=t2.pk, review_disputed=disputed.pk, calibration=session.pk,
                 calibration_item=session.items.first().pk)

    # Casework on org A's ticket: feedback, evidence, a playbook run, an engineering link.
    mention = cw.tag_feedback(t, actor=u["agent_x"], kind="feature", title="Sec feedback",
                              quote="We need fax support")
    evidence = cw.add_evidence(t, actor=u["agent_x"], kind="log", summary="Sec evidence")
    playbook = Playbook.objects.create(name="Sec playbook", created_at=now)
    step = PlaybookStep.objects.create(playbook=playbook, title="Sec step")
    run = cw.start_playbook(t, playbook, actor=u["agent_x"])
    link = cw.link_engineering(t, actor=u["agent_x"], tracker="jira", key="SEC-1",
                               url="https://tracker.example/SEC-1")
    voc = cw.generate_voc_report()
    w.ids.update(feedback_item=mention.item_id, evidence=evidence.pk, playbook=playbook.pk,
                 playbook_step=step.pk, playbook_run=run.pk, link=link.pk, voc=voc.pk)

    # The incident's review with an action item, and a suggestion to link the second ticket.
    review = inc.start_review(incident, actor=u["lead_x"])
    action = inc.add_action(review, title="Sec action", actor=u["lead_x"], owner=u["lead_x"])
    suggestion = LinkSuggestion.objects.create(incident=incident, ticket=t2, matched="sec",
                                               created_at=now)
    w.ids.update(incident_action=action.pk, suggestion=suggestion.pk)

    # Mail, notifications, SLA, surveys: a failed reply, agent X's notification, a clock
    # of org A's second ticket, a low-score follow-up owned by lead X.
    outbound = OutboundEmail.objects.create(
        key="reply:sec", kind="reply", ticket=t, message_id="sec-1@helpdesk.test",
        to=u["customer_a"].email, subject="Re: Sec ticket A", status=OutboundStatus.FAILED)
    note = notify(u["agent_x"], title="Sec notification", source="sec", email=False)
    sla.start_clocks(t2, at=now)  # on commit in production: the world never commits
    clock = Clock.objects.filter(ticket=t2, completed_at__isnull=True).first()
    follow_up = FollowUp.objects.create(survey=survey, ticket=t, owner=u["lead_x"],
                                        due_at=now + timedelta(days=1))
    mark = BounceMark.objects.create(address=u["customer_a"].email, status="5.1.1",
                                     bounced_at=now, ticket=t, outbound=outbound)
    w.ids.update(outbound=outbound.pk, notification=note.pk, bounce_mark=mark.pk,
                 clock=clock.pk, follow_up=follow_up.pk)

    # Workforce: an override and a page on team X's rotation, agent X's time-off request.
    override = oncall.add_override(rot, role="primary", user=u["agent_x"], starts_at=now,
                                   ends_at=now + timedelta(days=1), actor=u["manager"])
    page = oncall.page_user(rot, u["agent_x"], role="primary", reason="Sec page",
                            priority=2).page
    time_off = schedules.request_time_off(agent=u["agent_x"], starts_at=now + timedelta(days=30),
                                          ends_at=now + timedelta(days=31))
    w.ids.update(override=override.pk, page=page.pk, time_off=time_off.pk)

    # Agent X's private queue filter (saved filters have no URL of their own).
    SavedFilter.objects.create(owner=u["agent_x"], name=PRIVATE_FILTER, query="queue=open")
