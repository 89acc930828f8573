from django.db import migrations

# Starting thresholds per risk tier; administrators tune them on the policies page, which keeps
# every earlier version.
DEFAULTS = {
    "high": {"min_roc_auc": 0.75, "min_r2": 0.5, "max_psi": 0.25, "max_fairness_gap": 0.10,
             "max_latency_ms": 100, "max_champion_drop": 0.01},
    "medium": {"min_roc_auc": 0.70, "min_r2": 0.3, "max_psi": 0.25, "max_fairness_gap": 0.15,
               "max_latency_ms": 200, "max_champion_drop": 0.03},
    "low": {"min_roc_auc": 0.60, "min_r2": 0.0, "max_psi": 0.5, "max_latency_ms": 500},
}


def create(apps, schema_editor):
    Policy = apps.get_model("validation", "ValidationPolicy")
    for tier, checks in DEFAULTS.items():
        Policy.objects.create(risk_tier=tier, number=1, checks=checks, is_current=True,
                              note="Initial policy")


def remove(apps, schema_editor):
    apps.get_model("validation", "ValidationPolicy").objects.filter(model__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("validation", "0001_initial")]

    operations = [migrations.RunPython(create, remove)]
