from django.db import migrations

from apps.accounts.roles import grant_role_permissions

# The cadences the issue names as the bank's defaults (months between periodic reviews).
MONTHS = {"high": 12, "medium": 24, "low": 36}


def install(apps, schema_editor):
    Cadence = apps.get_model("recertification", "Cadence")
    for tier, months in MONTHS.items():
        if not Cadence.objects.filter(risk_tier=tier, model__isnull=True).exists():
            Cadence.objects.create(
                risk_tier=tier, number=1, months=months, note="Installed with the portal."
            )
    grant_role_permissions(
        apps,
        {
            "admin": ["recertification.change_cadence"],
            "compliance": ["recertification.request_periodicreview"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("recertification", "0001_initial"), ("accounts", "0003_admin_role")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
