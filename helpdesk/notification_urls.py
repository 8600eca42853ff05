"""URLs of the notification inbox (mounted at /notifications/, namespace "notifications")."""
from django.urls import path

from . import views_notifications as views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="list"),
    path("bell/", views.bell, name="bell"),
    path("preferences/", views.preferences, name="preferences"),
    path("preferences/language/", views.language, name="language"),
    path("read-all/", views.mark_all_read, name="read_all"),
    path("<int:pk>/read/", views.mark_read, name="read"),
]
