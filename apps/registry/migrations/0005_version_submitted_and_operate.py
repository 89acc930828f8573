import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registry", "0004_version_count")]

    operations = [
        migrations.AlterModelOptions(
            name="registeredmodel",
            options={
                "ordering": ["name"],
                "permissions": [
                    ("share_registeredmodel", "Can share the model with others"),
                    (
                        "operate_registeredmodel",
                        "Can view the model and its versions submitted for review "
                        "(model operations)",
                    ),
                ],
                "verbose_name": "model",
            },
        ),
        migrations.AddField(
            model_name="modelversion",
            name="submitted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="registeredmodel",
            name="latest_submitted",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="registry.modelversion",
            ),
        ),
    ]
