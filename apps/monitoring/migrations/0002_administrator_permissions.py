from django.db import migrations

from apps.accounts.roles import grant_role_permissions


def grant(apps, schema_editor):
    grant_role_permissions(apps, {"admin": ["monitoring.change_monitoringpolicy"]})


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial"), ("accounts", "0003_admin_role")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
