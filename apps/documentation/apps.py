from django.apps import AppConfig


class DocumentationConfig(AppConfig):
    name = "apps.documentation"
    label = "documentation"
    verbose_name = "Documentation"

    def ready(self) -> None:
        from apps.core.registry import DemoStep, Tab, registry
        from apps.documentation import dashboard, demo, services
        from apps.registry.models import ModelVersion

        def tabs(version: ModelVersion) -> list[Tab]:
            return [Tab("Documentation", services.url_of(version))]

        registry.version_tabs.add("documentation", tabs)
        registry.dashboard_panels.add("documentation", dashboard.panels)
        registry.review_blockers.add("documentation", services.review_blockers)
        registry.version_approved.add("documentation", services.freeze)
        registry.rules.add(services.WRITE, services.check_can_write)
        registry.job_kinds.add(services.EXPORT.name, services.EXPORT)
        # Written before the deployments demo requests reviews; edited after its approvals.
        registry.demo_steps.add("documentation", DemoStep("documentation", demo.seed, order=25))
        registry.demo_steps.add(
            "documentation-after-approval",
            DemoStep("documentation-after-approval", demo.seed_after_approval, order=46),
        )
