from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "apps.reviews"
    label = "reviews"
    verbose_name = "Reviews and sign-off"

    def ready(self) -> None:
        from apps.core.registry import registry
        from apps.reviews import dashboard, model_page, version_page

        registry.dashboard_panels.add("reviews", dashboard.panels)
        registry.model_sections.add("reviews", model_page.sections)
        registry.version_sections.add("reviews", version_page.sections)
