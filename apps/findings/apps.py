from django.apps import AppConfig


class FindingsConfig(AppConfig):
    name = "apps.findings"
    label = "findings"
    verbose_name = "Findings"

    def ready(self) -> None:
        from apps.core.registry import DemoStep, registry
        from apps.findings import dashboard, demo, events, model_history, services, version_page

        registry.dashboard_panels.add("findings", dashboard.panels)
        registry.version_sections.add("findings", version_page.sections)
        registry.model_history.add("findings", model_history.audited_with)
        registry.approval_blockers.add("findings", services.approval_blockers)
        registry.rules.add("findings.remediate", services.check_can_remediate)
        registry.rules.add("findings.verify", services.check_can_verify)
        registry.demo_steps.add("findings", DemoStep("findings", demo.seed, order=50))
        for event in events.EVENTS:
            registry.notification_events.add(event.code, event)
