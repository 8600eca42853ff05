"""REST API routes of the knowledge app, included under /api/v1/ by wiring/api_urls.py."""
from django.urls import path

from . import api

urlpatterns = [
    path("kb/articles/", api.ArticleList.as_view(), name="kb-articles"),
    path("kb/articles/<slug:slug>/", api.ArticleDetail.as_view(), name="kb-article"),
    path("kb/search/", api.ArticleSearch.as_view(), name="kb-search"),
]
