from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from apps.audit import dashboard
        from apps.core.registry import registry

        registry.dashboard_panels.add("audit", dashboard.panels)
