"""ExternalIdentity: long subjects (a TextField, unique through its SHA-256) and providers named
with their issuer ("oidc:<issuer>")."""

import hashlib

from django.db import migrations, models


def fill_digests(apps, schema_editor):  # type: ignore[no-untyped-def]
    ExternalIdentity = apps.get_model("accounts", "ExternalIdentity")
    for link in ExternalIdentity.objects.all():
        link.subject_digest = hashlib.sha256(link.subject.encode()).hexdigest()
        link.save(update_fields=["subject_digest"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_sso")]

    operations = [
        migrations.RemoveConstraint(model_name="externalidentity", name="externalidentity_unique"),
        migrations.AddField(
            model_name="externalidentity",
            name="subject_digest",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="externalidentity",
            name="provider",
            field=models.CharField(max_length=300),
        ),
        migrations.AlterField(
            model_name="externalidentity",
            name="subject",
            field=models.TextField(),
        ),
        migrations.AlterField(
            model_name="externalidentity",
            name="last_sign_in_at",
            field=models.DateTimeField(
                blank=True,
                help_text="The last sign-in or session re-check through the provider that "
                "succeeded.",
                null=True,
            ),
        ),
        migrations.RunPython(fill_digests, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="externalidentity",
            constraint=models.UniqueConstraint(
                fields=("provider", "subject_digest"), name="externalidentity_unique_digest"
            ),
        ),
    ]
