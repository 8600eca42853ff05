"""Default categories and product areas of a new installation (editable afterwards)."""
from __future__ import annotations

from typing import Any

CATEGORIES = [
    ("Login & access", "login"), ("API errors", "api-errors"), ("Billing", "billing"),
    ("Integrations", "integrations"), ("Performance", "performance"),
    ("Data & exports", "data"), ("Security", "security"), ("Feature request", "feature-request"),
    ("How-to", "how-to"),
]
PRODUCT_AREAS = [
    ("Web app", "web-app"), ("REST API", "rest-api"), ("Mobile app", "mobile-app"),
    ("Webhooks", "webhooks"), ("SSO", "sso"), ("Reporting", "reporting"),
]


def seed_default_taxonomy(category_model: Any, product_area_model: Any) -> None:
    """Create the default categories and product areas where there are none."""
    if not category_model.objects.exists():
        category_model.objects.bulk_create(
            [category_model(name=n, slug=s) for n, s in CATEGORIES])
    if not product_area_model.objects.exists():
        product_area_model.objects.bulk_create(
            [product_area_model(name=n, slug=s) for n, s in PRODUCT_AREAS])
