"""Intake rules become triggers on "created" (one engine), then their table goes."""
from django.db import migrations


def intake_rules_to_triggers(apps, schema_editor):
    IntakeRule = apps.get_model("tickets", "IntakeRule")
    Trigger = apps.get_model("tickets", "Trigger")
    for rule in IntakeRule.objects.order_by("order", "id"):
        conditions = []
        if rule.org_tiers:
            conditions.append({"field": "org_tier", "op": "in", "value": list(rule.org_tiers)})
        if rule.channels:
            conditions.append({"field": "channel", "op": "in", "value": list(rule.channels)})
        categories = list(rule.categories.values_list("name", flat=True))
        if categories:
            conditions.append({"field": "category", "op": "in", "value": categories})
        keywords = [k.strip() for k in rule.keywords.split(",") if k.strip()]
        if keywords:
            conditions.append({"field": "text", "op": "contains", "value": keywords})
        emails = [e.strip() for e in rule.requester_emails.splitlines() if e.strip()]
        if emails:
            conditions.append({"field": "requester_email", "op": "matches", "value": emails})
        for test in getattr(rule, "custom_field_conditions", None) or []:
            conditions.append({"field": "custom_field", "key": test.get("field"),
                               "op": test.get("op"), "value": test.get("value")})
        actions = []
        if rule.set_team_id:
            actions.append({"action": "set_team", "value": rule.set_team.name})
        if rule.set_priority:
            actions.append({"action": "set_priority", "value": rule.set_priority})
        tags = list(rule.add_tags.values_list("name", flat=True))
        if tags:
            actions.append({"action": "add_tags", "value": tags})
        Trigger.objects.create(
            name=rule.name, order=rule.order, is_active=rule.is_active,
            stop_processing=rule.stop_processing, events=["created"], match_all=True,
            conditions=conditions, actions=actions)


class Migration(migrations.Migration):

    dependencies = [("tickets", "0020_triggers_and_automations")]

    operations = [
        migrations.RunPython(intake_rules_to_triggers, migrations.RunPython.noop),
        migrations.RemoveField(model_name="intakerule", name="add_tags"),
        migrations.RemoveField(model_name="intakerule", name="categories"),
        migrations.RemoveField(model_name="intakerule", name="set_team"),
        migrations.DeleteModel(name="IntakeRule"),
    ]
