"""URLs of surveys (mounted at /survey/, namespace "surveys")."""
from django.urls import path, register_converter

from .views import surveys as views


class RatingConverter:
    regex = "[1-5]"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(RatingConverter, "rating")

app_name = "surveys"
urlpatterns = [
    path("follow-ups/", views.follow_ups, name="follow_ups"),
    path("follow-ups/<int:pk>/handle/", views.handle_follow_up, name="handle_follow_up"),
    path("<str:token>/", views.feedback, name="feedback"),
    path("<str:token>/rate/<rating:score>/", views.rate, name="rate"),
]
