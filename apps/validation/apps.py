from django.apps import AppConfig


class ValidationConfig(AppConfig):
    name = "apps.validation"
    label = "validation"
    verbose_name = "Validation"

    def ready(self) -> None:
        # What happens to a version whose job fails for good (jobs.when_failed) must be
        # registered in every process that may fail a job: workers, the reaper, tests; which of
        # its jobs an operator may see (jobs.scoped_by), in every process that lists jobs.
        from apps.core.registry import registry
        from apps.validation import events, job_scope, services, version_page  # noqa: F401

        registry.version_sections.add("validation", version_page.sections)
        for event in events.EVENTS:
            registry.notification_events.add(event.code, event)
        registry.rules.add("validation.rerun", services.check_can_rerun)
        registry.version_uploaded.add("validation", services.validate_after_upload)
