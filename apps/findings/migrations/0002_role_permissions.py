from django.db import migrations

from apps.accounts.roles import grant_role_permissions

# Who raises findings: the people who check a model, never the team that builds it.
RAISERS = ["findings.add_finding"]


def grant(apps, schema_editor):
    grant_role_permissions(
        apps, {"model_ops": RAISERS, "risk_owner": RAISERS, "compliance": RAISERS}
    )


class Migration(migrations.Migration):
    dependencies = [("findings", "0001_initial"), ("accounts", "0003_admin_role")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
