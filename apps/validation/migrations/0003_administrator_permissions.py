from django.db import migrations

from apps.accounts.roles import grant_role_permissions


def grant(apps, schema_editor):
    grant_role_permissions(apps, {'admin': ['validation.change_validationpolicy']})


class Migration(migrations.Migration):
    dependencies = [("validation", "0002_default_policies"), ("accounts", "0003_admin_role")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
