"""Web pages of the qa app (mounted at /qa/, namespace "qa")."""
from django.urls import path

from . import views

app_name = "qa"
urlpatterns = [
    path("", views.index, name="index"),
    path("queue/<slug:name>/", views.queue, name="queue"),
    path("reviews/mine/", views.my_reviews, name="my_reviews"),
    path("reviews/<int:pk>/", views.review_view, name="review"),
    path("reviews/<int:pk>/save/", views.save_review, name="save"),
    path("reviews/<int:pk>/claim/", views.claim, name="claim"),
    path("reviews/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("reviews/<int:pk>/dispute/", views.raise_dispute, name="raise_dispute"),
    path("reviews/<int:pk>/ticket-of-the-week/", views.ticket_of_week, name="ticket_of_week"),
    path("scorecards/<int:scorecard_pk>/preview/", views.preview, name="preview"),
    path("disputes/", views.disputes, name="disputes"),
    path("disputes/<int:pk>/", views.resolve, name="dispute"),
    path("tickets/<int:ticket_pk>/flag/", views.flag, name="flag"),
    path("tickets/<int:ticket_pk>/review/", views.start_review, name="start_review"),
    path("coaching/", views.coaching_list, name="coaching"),
    path("coaching/new/", views.coaching_new, name="coaching_new"),
    path("coaching/<int:pk>/", views.coaching_detail, name="coaching_detail"),
    path("calibration/", views.calibration_list, name="calibrations"),
    path("calibration/new/", views.calibration_new, name="calibration_new"),
    path("calibration/<int:pk>/", views.calibration_view, name="calibration"),
    path("calibration/<int:pk>/tickets/<int:item_pk>/", views.calibration_item,
         name="calibration_item"),
    path("calibration/<int:pk>/close/", views.calibration_close, name="calibration_close"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
