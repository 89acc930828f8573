from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from apps.core.registry import DemoStep, registry
        from apps.monitoring import dashboard, demo

        registry.dashboard_panels.add("monitoring", dashboard.panels)
        registry.demo_steps.add("monitoring", DemoStep("monitoring", demo.seed, order=40))
