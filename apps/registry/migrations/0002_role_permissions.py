from django.db import migrations

from apps.accounts.roles import grant_role_permissions

# Which models a person sees and changes is decided per object; these are the role capabilities.
ROLE_PERMISSIONS = {
    "data_scientist": ["registry.add_registeredmodel", "registry.add_modelversion"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial"), ("accounts", "0002_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
