from django.db import migrations

TEAMS = [
    ("L1 General", "l1-general", "l1", "round_robin", True,
     "First line: triage, how-to questions, account and billing."),
    ("L2 Technical", "l2-technical", "l2", "least_loaded", False,
     "Technical investigation: API errors, integrations, performance."),
    ("L2 Enterprise", "l2-enterprise", "l2_enterprise", "skill_based", False,
     "Dedicated technical support for enterprise customers."),
    ("L3 Specialty", "l3-specialty", "l3", "manual", False,
     "Specialists and the bridge to engineering."),
]


def seed(apps, schema_editor):
    Team = apps.get_model("helpdesk", "Team")
    for name, slug, tier, strategy, default, description in TEAMS:
        Team.objects.get_or_create(slug=slug, defaults={
            "name": name, "tier": tier, "assignment_strategy": strategy,
            "is_default": default, "description": description,
        })


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
