from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "apps.deployments"
    label = "deployments"
    verbose_name = "Deployments and serving"

    def ready(self) -> None:
        # What happens to a deployment whose job fails for good (jobs.when_failed) must be
        # registered in every process that may fail a job: workers, the reaper, tests.
        from apps.deployments import services  # noqa: F401
