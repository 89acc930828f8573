from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        # The job kind must be registered in every process that may list or fail a job.
        from apps.core.registry import registry
        from apps.integrations import (
            documentation,
            history,
            model_page,
            services,
            tags,
            version_page,
        )

        registry.model_sections.add("integrations", model_page.sections)
        registry.version_sections.add("integrations", version_page.sections)
        registry.documentation_parts.add("integrations", documentation.parts)
        registry.model_history.add("integrations", history.audited_with)
        registry.rules.add(services.LINK, services.check_can_link)
        registry.rules.add(services.IMPORT_RULE, services.check_can_import)
        registry.job_kinds.add(services.IMPORT.name, services.IMPORT)
        registry.job_kinds.add(tags.TAGS.name, tags.TAGS)
        registry.version_approved.add("integrations", tags.after_approval)
        registry.live_changed.add("integrations", tags.after_live_change)
