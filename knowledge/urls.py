"""Web pages of the knowledge app (mounted at /help/, namespace "knowledge")."""
from django.urls import path

from . import views

app_name = "knowledge"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search_view, name="search"),
    path("suggest/", views.suggestions, name="suggest"),
    path("solved/", views.solved, name="solved"),
    path("sections/<slug:slug>/", views.section, name="section"),
    path("articles/<slug:slug>/", views.article, name="article"),
    path("articles/<slug:slug>/vote/", views.vote, name="vote"),
    path("sitemap.xml", views.sitemap, name="sitemap"),
    # Agent ticket page panel.
    path("agent/tickets/<int:pk>/search/", views.panel_search, name="panel_search"),
    path("agent/tickets/<int:pk>/flag/", views.flag, name="flag"),
    path("agent/tickets/<int:pk>/draft/", views.draft_from_ticket, name="draft_from_ticket"),
    # Knowledge workspace.
    path("manage/", views.manage, name="manage"),
    path("manage/new/", views.new_article, name="new"),
    path("manage/articles/<int:pk>/", views.edit, name="edit"),
    path("manage/freshness/", views.freshness, name="freshness"),
    path("manage/dashboard/", views.dashboard, name="dashboard"),
    path("manage/searches/", views.reports, name="reports"),
]
