from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "apps.deployments"
    label = "deployments"
    verbose_name = "Deployments and serving"

    def ready(self) -> None:
        # What happens to a deployment whose job fails for good (jobs.when_failed) must be
        # registered in every process that may fail a job: workers, the reaper, tests; which of
        # its jobs an operator may see (jobs.scoped_by), in every process that lists jobs.
        from apps.deployments import job_scope, services  # noqa: F401
