"""Form renderer: Django's built-in widget templates through Jinja2 (several times faster),
falling back to the Django engine for templates only it has (the admin's widgets)."""
from __future__ import annotations

from typing import Any

from django.forms.renderers import BaseRenderer, DjangoTemplates, Jinja2
from django.template import TemplateDoesNotExist


class FastFormRenderer(BaseRenderer):
    def __init__(self) -> None:
        self.jinja = Jinja2()
        self.django = DjangoTemplates()

    def get_template(self, template_name: str) -> Any:
        try:
            return self.jinja.get_template(template_name)
        except TemplateDoesNotExist:
            return self.django.get_template(template_name)
