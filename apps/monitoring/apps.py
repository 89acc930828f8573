from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from apps.core.registry import DemoStep, registry
        from apps.monitoring import alerts, dashboard, demo, events, model_history, reviews

        registry.dashboard_panels.add("monitoring", dashboard.panels)
        registry.model_history.add("monitoring", model_history.audited_with)
        for event in events.EVENTS:
            registry.notification_events.add(event.code, event)
        registry.rules.add(alerts.HANDLE, alerts.check_can_handle)
        registry.rules.add(reviews.DECIDE, reviews.check_can_decide)
        registry.demo_steps.add("monitoring", DemoStep("monitoring", demo.seed, order=40))
