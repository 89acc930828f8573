from django.apps import AppConfig


class DeploymentsConfig(AppConfig):
    name = "apps.deployments"
    label = "deployments"
    verbose_name = "Deployments and serving"

    def ready(self) -> None:
        # The job kind (whose jobs a person sees, what happens when one fails for good) must be
        # registered in every process that may list or fail a job: web, workers, the reaper.
        from apps.core.registry import DemoStep, registry
        from apps.deployments import dashboard, demo, live, model_history, services, version_page

        registry.dashboard_panels.add("deployments", dashboard.panels)
        registry.version_sections.add("deployments", version_page.sections)
        registry.model_history.add("deployments", model_history.audited_with)
        registry.live_versions.add("deployments", live.live_versions)
        registry.waiting_for.add("deployments", live.waiting_for)
        registry.demo_steps.add("deployments", DemoStep("deployments", demo.seed, order=30))
        registry.job_kinds.add(services.DEPLOYMENT.name, services.DEPLOYMENT)
