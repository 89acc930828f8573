from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from apps.core.registry import registry
        from apps.jobs import dashboard

        registry.dashboard_panels.add("jobs", dashboard.panels)
