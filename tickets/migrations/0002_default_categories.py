from django.db import migrations

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


def seed(apps, schema_editor):
    Category = apps.get_model("tickets", "Category")
    ProductArea = apps.get_model("tickets", "ProductArea")
    for name, slug in CATEGORIES:
        Category.objects.get_or_create(slug=slug, defaults={"name": name})
    for name, slug in PRODUCT_AREAS:
        ProductArea.objects.get_or_create(slug=slug, defaults={"name": name})


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
