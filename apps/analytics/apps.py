from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    """Change analytics and delivery metrics: the top floor, read-only.

    It reads the audit trail, reviews, deployments and monitoring, and registers nothing: the
    demo seed already plays versions, reviews, deployments, rollbacks and alerts through the
    services, which is the history these pages draw.
    """

    name = "apps.analytics"
    label = "analytics"
    verbose_name = "Analytics"
