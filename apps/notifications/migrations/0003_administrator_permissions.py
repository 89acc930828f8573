from django.db import migrations

from apps.accounts.roles import grant_role_permissions


def grant(apps, schema_editor):
    grant_role_permissions(apps, {'admin': ['notifications.change_webhook']})


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_model_change_events"), ("accounts", "0003_admin_role")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
