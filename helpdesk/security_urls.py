"""The audit log of policies and people (admins read it; nobody edits it)."""
from django.urls import path

from . import views_security

urlpatterns = [
    path("audit/", views_security.audit_log, name="audit_log"),
    path("audit.csv", views_security.audit_log_csv, name="audit_log_csv"),
]
