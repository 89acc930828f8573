from django.db import migrations

from apps.accounts.roles import grant_role_permissions
from apps.documentation.defaults import SECTIONS

# The policies start empty: an upgrade must not stop the reviews already on their way. An
# administrator sets what each tier requires on /documentation/policies/ (the demo does it).
TIERS = ["high", "medium", "low"]


def install(apps, schema_editor):
    Template = apps.get_model("documentation", "Template")
    Policy = apps.get_model("documentation", "DocumentationPolicy")
    if not Template.objects.exists():
        Template.objects.create(number=1, sections=SECTIONS, note="Installed with the portal.")
    for tier in TIERS:
        if not Policy.objects.filter(risk_tier=tier).exists():
            Policy.objects.create(
                risk_tier=tier,
                number=1,
                required=[],
                note="Installed with the portal: nothing required until an administrator decides.",
            )
    grant_role_permissions(
        apps,
        {"admin": ["documentation.add_template", "documentation.change_documentationpolicy"]},
    )


class Migration(migrations.Migration):
    dependencies = [("documentation", "0001_initial"), ("accounts", "0003_admin_role")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
