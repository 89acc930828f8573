"""Reviews keep their sign-off holders; policies say whether sign-offs are independent;
proposals of governed model changes. Data follows in 0004, constraints in 0005."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_roles'),
        ('registry', '0005_version_submitted_and_operate'),
        ('reviews', '0002_policies_and_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='review',
            name='risk_owner',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='review',
            name='team',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.team'),
        ),
        migrations.AddField(
            model_name='reviewpolicy',
            name='independent',
            field=models.BooleanField(default=True, help_text="Sign-offs and deployments come from outside the model's owning team: a team member gives neither the IT nor the risk sign-off, whatever roles they hold, and does not deploy the team's versions."),
        ),
        migrations.CreateModel(
            name='ModelChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('field', models.CharField(choices=[('risk_owner', 'Risk owner'), ('team', 'Owning team'), ('risk_tier', 'Risk tier')], max_length=20)),
                ('old_value', models.CharField(max_length=150)),
                ('new_value', models.CharField(max_length=150)),
                ('reason', models.TextField()),
                ('proposed_at', models.DateTimeField(auto_now_add=True)),
                ('status', models.CharField(choices=[('pending', 'Waiting for approval'), ('approved', 'Approved'), ('rejected', 'Rejected'), ('withdrawn', 'Withdrawn')], default='pending', max_length=12)),
                ('decision_reason', models.TextField(blank=True)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('model', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='changes', to='registry.registeredmodel')),
                ('proposed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-proposed_at', '-id'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('model', 'field'), name='one_pending_change_per_field'), models.CheckConstraint(condition=models.Q(('reason', ''), _negated=True), name='change_needs_a_reason')],
            },
        ),
    ]
