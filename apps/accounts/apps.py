from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts, roles and teams"

    def ready(self) -> None:
        # Logins happen inside django.contrib.auth and django-axes; their signals are the only
        # place to observe them, so the audit receivers are connected here, in one visible spot.
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

        from apps.accounts import checks, dashboard, services  # noqa: F401 - checks registers
        from apps.core.registry import registry

        user_logged_in.connect(services.record_login, dispatch_uid="audit-login")
        user_logged_in.connect(services.mark_sign_in, dispatch_uid="session-signed-in-at")
        user_logged_out.connect(services.record_logout, dispatch_uid="audit-logout")
        user_login_failed.connect(services.record_login_failure, dispatch_uid="audit-login-failed")
        user_locked_out.connect(services.record_lockout, dispatch_uid="audit-locked-out")
        registry.dashboard_panels.add("accounts", dashboard.panels)
