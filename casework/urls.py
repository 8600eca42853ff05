"""Web pages of the casework app (mounted by wiring/urls.py at /casework/)."""
from django.urls import path

from . import views

app_name = "casework"

_t = "tickets/<int:pk>/"
urlpatterns = [
    path("", views.index, name="index"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("feedback/", views.feedback, name="feedback"),
    path("feedback/<int:pk>/", views.feedback_item, name="feedback_item"),
    path("at-risk/", views.at_risk, name="at_risk"),
    path("voice-of-customer/", views.voc_list, name="voc_list"),
    path("voice-of-customer/generate/", views.voc_generate, name="voc_generate"),
    path("voice-of-customer/<int:pk>/", views.voc_detail, name="voc_detail"),
    path(_t + "panel/", views.panel, name="panel"),
    path(_t + "investigation/", views.save_investigation, name="save_investigation"),
    path(_t + "evidence/", views.add_evidence, name="add_evidence"),
    path(_t + "evidence/<int:evidence_id>/verify/", views.verify_evidence,
         name="verify_evidence"),
    path(_t + "playbooks/<int:playbook_id>/start/", views.start_playbook,
         name="start_playbook"),
    path(_t + "runs/<int:run_id>/steps/<int:step_id>/", views.check_step, name="check_step"),
    path(_t + "draft-playbook/", views.draft_playbook, name="draft_playbook"),
    path(_t + "draft-article/", views.draft_article, name="draft_article"),
    path(_t + "links/", views.add_link, name="add_link"),
    path(_t + "links/<int:link_id>/status/", views.sync_link, name="sync_link"),
    path(_t + "feedback/", views.add_feedback, name="add_feedback"),
    path(_t + "champion/", views.flag_champion, name="flag_champion"),
    path(_t + "return-escalation/", views.return_escalation, name="return_escalation"),
]
