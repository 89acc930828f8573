from django.db import migrations

from apps.accounts.roles import grant_role_permissions


def grant(apps, schema_editor):
    grant_role_permissions(
        apps,
        {
            "admin": [
                "integrations.add_mlflowconnection",
                "integrations.change_mlflowconnection",
                "integrations.delete_mlflowconnection",
                "integrations.view_mlflowconnection",
                "integrations.view_mlflowlink",
                "integrations.view_mlflowimport",
            ]
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_admin_role"),
        ("integrations", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
