"""A standalone OpenID Connect provider for the SSO tests (django-oauth-toolkit, its own process).

Not part of the portal: nothing under ``apps/`` or ``mlops_portal/`` imports it, and it has its
own settings (``tests.support.oidc_provider.settings``), URLs, templates and SQLite database.
``tests.support.oidc.OidcProvider`` starts it under gunicorn and drives it; see that module.
"""
