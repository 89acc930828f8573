from django.db import migrations

from apps.accounts.roles import grant_role_permissions


def forwards(apps, schema_editor):
    grant_role_permissions(apps, {"model_ops": ["deployments.add_deployment"]})
    Environment = apps.get_model("deployments", "Environment")
    staging, _ = Environment.objects.get_or_create(slug="staging",
                                                   defaults={"name": "Staging", "order": 1})
    Environment.objects.get_or_create(
        slug="production",
        defaults={"name": "Production", "order": 2, "requires_live_in": staging,
                  "is_production": True},
    )


class Migration(migrations.Migration):
    dependencies = [("deployments", "0001_initial"), ("accounts", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
