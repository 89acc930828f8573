from django.apps import AppConfig


class RecertificationConfig(AppConfig):
    name = "apps.recertification"
    label = "recertification"
    verbose_name = "Periodic review"

    def ready(self) -> None:
        from apps.core.registry import DemoStep, registry
        from apps.recertification import demo, events, pages, services

        registry.dashboard_panels.add("recertification", pages.panels)
        registry.model_sections.add("recertification", pages.model_section)
        registry.model_flags.add("recertification", pages.flags)
        registry.sign_off_records.add("recertification", pages.review_history)
        registry.rules.add(services.ATTEST, services.check_can_attest)
        registry.demo_steps.add("recertification", DemoStep("recertification", demo.seed, order=60))
        for event in events.EVENTS:
            registry.notification_events.add(event.code, event)
