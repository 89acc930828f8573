from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications and webhooks"

    def ready(self) -> None:
        from apps.core.registry import registry
        from apps.notifications import webhooks

        registry.job_kinds.add(webhooks.DELIVERY.name, webhooks.DELIVERY)
