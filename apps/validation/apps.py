from django.apps import AppConfig


class ValidationConfig(AppConfig):
    name = "apps.validation"
    label = "validation"
    verbose_name = "Validation"

    def ready(self) -> None:
        # What happens to a version whose job fails for good (jobs.when_failed) must be
        # registered in every process that may fail a job: workers, the reaper, tests.
        from apps.validation import services  # noqa: F401
