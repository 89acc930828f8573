from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "apps.jobs"
    label = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        from apps.core.registry import registry
        from apps.jobs import dashboard, services

        registry.dashboard_panels.add("jobs", dashboard.panels)
        registry.job_kinds.add(services.DIAGNOSTIC.name, services.DIAGNOSTIC)
