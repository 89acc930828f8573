from django.db import migrations

from apps.audit import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection, guard_inserts=False)


def uninstall(apps, schema_editor):
    triggers.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
