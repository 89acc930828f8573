from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "apps.reviews"
    label = "reviews"
    verbose_name = "Reviews and sign-off"

    def ready(self) -> None:
        from apps.core.registry import registry
        from apps.reviews import (
            changes,
            dashboard,
            events,
            model_page,
            services,
            version_page,
            waiting,
        )

        registry.dashboard_panels.add("reviews", dashboard.panels)
        for event in events.EVENTS:
            registry.notification_events.add(event.code, event)
        registry.model_sections.add("reviews", model_page.sections)
        registry.version_sections.add("reviews", version_page.sections)
        registry.waiting_for.add("reviews", waiting.waiting_for)
        registry.rules.add("reviews.request", services.check_can_request)
        registry.rules.add("reviews.propose_change", changes.check_can_propose)
        registry.rules.add("reviews.decide_change", changes.check_can_decide_change)
