"""Key the audit chain: a signing key id and a gapless number per event, and guarded inserts.

Events already recorded keep their plain SHA-256 hashes (they cannot be rewritten). A signed
checkpoint outside the database vouches for exactly how many there are, so that none can be
added later, nor a signed event downgraded to a plain one.
"""

from django.db import migrations, models

from apps.audit import checkpoints, triggers


def reinstall_first_triggers(apps, schema_editor):
    # Reversing: on SQLite removing the columns rebuilt the table without its triggers.
    triggers.install(schema_editor.connection, guard_inserts=False)


def key_the_chain(apps, schema_editor):
    # On SQLite adding the columns rebuilt the table without its triggers; install them all.
    triggers.install(schema_editor.connection)
    events = apps.get_model("audit", "AuditEvent").objects
    tip = events.order_by("-id").values_list("id", "hash").first()
    if tip is not None:
        count = events.count()
        with checkpoints.opened(write=True) as book:
            book.append(
                count=count, last_id=tip[0], last_hash=tip[1], legacy=count, by="", outcome=None
            )


def unguard_inserts(apps, schema_editor):
    triggers.uninstall(schema_editor.connection)
    triggers.install(schema_editor.connection, guard_inserts=False)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, reinstall_first_triggers),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(blank=True, default="", max_length=16),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.PositiveBigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.RunPython(key_the_chain, unguard_inserts),
    ]
