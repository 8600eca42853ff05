from django.apps import AppConfig


class PagebenchConfig(AppConfig):
    name = "pagebench"
    verbose_name = "Page benchmark"
