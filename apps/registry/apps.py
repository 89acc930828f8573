from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "apps.registry"
    label = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from apps.core.registry import AuditSubject, DemoStep, registry
        from apps.registry import dashboard, demo, history, services

        registry.dashboard_panels.add("registry", dashboard.panels)
        registry.rules.add("registry.edit", services.check_can_change)
        registry.rules.add("registry.upload", services.check_can_upload)
        registry.rules.add("registry.share", services.check_can_share)
        registry.demo_steps.add("registry", DemoStep("registry", demo.seed, order=20))
        registry.audit_subjects.add(
            "model", AuditSubject("Model", history.model_choices, history.events_of_slug)
        )
