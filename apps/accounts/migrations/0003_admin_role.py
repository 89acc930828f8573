"""The admin role: a group holding the administrators' permissions, each granted by the migration
of the app that owns it. Superusers remain the break-glass accounts that hold every permission."""

from django.db import migrations

from apps.accounts.roles import grant_role_permissions


def forwards(apps, schema_editor):
    grant_role_permissions(apps, {"admin": ["accounts.delete_apitoken"]})


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="admin").delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
