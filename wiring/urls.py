"""Top-level URLs: portal, agent workspace, notifications, accounts, API and admin."""
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from helpdesk import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # The browser's language choice for visitors (signed-in users choose in their
    # preferences), and the JavaScript strings of the active language (a script file, so
    # the CSP's script-src 'self' allows it).
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("accounts/", include("helpdesk.account_urls")),
    path("accounts/oidc/", include("mozilla_django_oidc.urls")),
    path("security/", include("helpdesk.security_urls")),
    path("privacy/", include("privacy.urls", namespace="privacy")),
    path("agent/", include("tickets.urls_agent", namespace="agent")),
    path("portal/", include("tickets.urls_portal", namespace="portal")),
    path("sla/", include("sla.urls", namespace="sla")),
    path("metrics/", include("reporting.urls", namespace="metrics")),
    path("workforce/oncall/", include("workforce.urls_oncall")),
    path("workforce/schedules/", include("workforce.urls_schedules")),
    path("workforce/capacity/", include("workforce.urls_capacity")),
    path("notifications/", include("helpdesk.notification_urls", namespace="notifications")),
    path("survey/", include("tickets.urls_surveys", namespace="surveys")),
    path("help/", include("knowledge.urls", namespace="knowledge")),
    path("qa/", include("qa.urls", namespace="qa")),
    path("incidents/", include("incidents.urls", namespace="incidents")),
    path("status/", include("incidents.urls_status", namespace="status")),
    path("mail/", include("mailgate.urls", namespace="mailgate")),
    path("casework/", include("casework.urls", namespace="casework")),
    path("api/v1/", include("wiring.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler400 = "helpdesk.views.bad_request"
handler404 = "helpdesk.views.not_found"
handler500 = "helpdesk.views.server_error"
