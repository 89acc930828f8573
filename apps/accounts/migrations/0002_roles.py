from django.db import migrations

from apps.accounts.roles import grant_role_permissions

# Model-level capabilities of each role. Which objects they apply to is decided per object.
ROLE_PERMISSIONS = {
    "data_scientist": [],
    "model_ops": ["jobs.view_job", "jobs.add_job"],
    "risk_owner": [],
    "compliance": ["audit.view_auditevent", "jobs.view_job"],
}


def create_roles(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("audit", "0002_append_only_triggers"),
        ("jobs", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
