from django.apps import AppConfig


class ValidationConfig(AppConfig):
    name = "apps.validation"
    label = "validation"
    verbose_name = "Validation"

    def ready(self) -> None:
        # The job kind (whose jobs a person sees, what happens when one fails for good) must be
        # registered in every process that may list or fail a job: web, workers, the reaper.
        from apps.core.registry import registry
        from apps.validation import events, services, version_page

        registry.version_sections.add("validation", version_page.sections)
        for event in events.EVENTS:
            registry.notification_events.add(event.code, event)
        registry.rules.add("validation.rerun", services.check_can_rerun)
        registry.version_uploaded.add("validation", services.validate_after_upload)
        registry.job_kinds.add(services.VALIDATION.name, services.VALIDATION)
        registry.worker_janitors.add("validation", services.remove_scratch_of_ended_attempts)
