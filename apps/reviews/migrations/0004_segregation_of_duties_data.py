"""Segregation of duties, tightened (security issue items 1-4).

- Reviews keep who held the sign-offs when they were requested (risk owner, owning team).
- Review policies say whether sign-offs must come from outside the owning team: on for high and
  medium risk, as the issue asks, off for low.
- Model operations' access to a model becomes ``operate_registeredmodel`` (the model and its
  submitted versions) instead of ``view_registeredmodel`` (every version); versions already in
  review or past it are marked submitted at their review request's time.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    Review = apps.get_model("reviews", "Review")
    for review in Review.objects.select_related("version__model"):
        model = review.version.model
        review.risk_owner_id = model.risk_owner_id
        review.team_id = model.team_id
        review.save(update_fields=["risk_owner", "team"])
        version = review.version
        if version.submitted_at is None:
            version.submitted_at = review.requested_at
            version.save(update_fields=["submitted_at"])
        if model.latest_submitted_id is None or model.latest_submitted.number < version.number:
            model.latest_submitted = version
            model.save(update_fields=["latest_submitted"])
    Policy = apps.get_model("reviews", "ReviewPolicy")
    Policy.objects.filter(risk_tier="low").update(independent=False)

    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    GroupGrant = apps.get_model("registry", "RegisteredModelGroupObjectPermission")
    from django.contrib.auth.management import create_permissions

    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, verbosity=0, apps=apps)
        config.models_module = None
    operations = Group.objects.filter(name="model_ops").first()
    if operations is None:
        return
    view = Permission.objects.get(
        content_type__app_label="registry", codename="view_registeredmodel"
    )
    operate = Permission.objects.get(
        content_type__app_label="registry", codename="operate_registeredmodel"
    )
    for grant in GroupGrant.objects.filter(group=operations, permission=view):
        GroupGrant.objects.get_or_create(
            group=operations, permission=operate, content_object_id=grant.content_object_id
        )
        grant.delete()


class Migration(migrations.Migration):
    dependencies = [("reviews", "0003_independence_snapshots_and_model_changes")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
