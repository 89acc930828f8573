from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "apps.registry"
    label = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        from apps.core.registry import DemoStep, registry
        from apps.registry import dashboard, demo

        registry.dashboard_panels.add("registry", dashboard.panels)
        registry.demo_steps.add("registry", DemoStep("registry", demo.seed, order=20))
