from django.db import migrations

from apps.accounts.roles import grant_role_permissions

ROLE_PERMISSIONS = {
    "data_scientist": ["reviews.request_review"],
    "model_ops": ["reviews.decide_review"],
    "risk_owner": ["reviews.decide_review"],
}

# The sign-offs each risk tier needs to start with; administrators change them on the
# review policies page, which keeps every earlier version.
DEFAULT_POLICIES = {
    "high": ({"model_ops": 1, "risk_owner": 1}, False),
    "medium": ({"model_ops": 1, "risk_owner": 1}, True),
    "low": ({"model_ops": 1}, True),
}


def forwards(apps, schema_editor):
    grant_role_permissions(apps, ROLE_PERMISSIONS)
    Policy = apps.get_model("reviews", "ReviewPolicy")
    for tier, (required, exceptions) in DEFAULT_POLICIES.items():
        Policy.objects.create(risk_tier=tier, number=1, required=required,
                              allow_exceptions=exceptions, is_current=True, note="Initial policy")


def backwards(apps, schema_editor):
    apps.get_model("reviews", "ReviewPolicy").objects.filter(created_by__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial"), ("accounts", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
