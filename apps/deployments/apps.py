from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "apps.deployments"
    label = "deployments"
    verbose_name = "Deployments and serving"

    def ready(self) -> None:
        # What happens to a deployment whose job fails for good (jobs.when_failed) must be
        # registered in every process that may fail a job: workers, the reaper, tests; which of
        # its jobs an operator may see (jobs.scoped_by), in every process that lists jobs.
        from apps.core.registry import DemoStep, registry
        from apps.deployments import (  # noqa: F401
            dashboard,
            demo,
            job_scope,
            model_history,
            services,
            version_page,
        )

        registry.dashboard_panels.add("deployments", dashboard.panels)
        registry.version_sections.add("deployments", version_page.sections)
        registry.model_history.add("deployments", model_history.audited_with)
        registry.demo_steps.add("deployments", DemoStep("deployments", demo.seed, order=30))
