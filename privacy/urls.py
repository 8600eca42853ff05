"""Privacy requests: export and erasure of one person, and the one-time download link."""
from django.urls import path

from . import views

app_name = "privacy"
urlpatterns = [
    path("", views.index, name="index"),
    path("export/", views.request_export, name="request_export"),
    path("erasure/", views.request_erasure, name="request_erasure"),
    path("erasure/<int:pk>/approve/", views.approve_erasure, name="approve_erasure"),
    path("requests/<int:pk>/progress/", views.progress, name="progress"),
    path("download/<str:token>/", views.download, name="download"),
]
