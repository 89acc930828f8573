"""Every kind of event the audit trail records, and the words people read for it.

One enum (Zulip's ``AuditLogEventType``): ``audit.record`` takes only its members, so two
spellings of one action cannot drift apart, dashboards count by member, and the audit pages show
the label instead of the code. The values are what the trail stores: never change one (old
events keep theirs), add a member instead. A new app adds its actions here.
"""

from __future__ import annotations

from django.db import models


class AuditAction(models.TextChoices):
    # Signing in and out (accounts)
    LOGIN = "auth.login", "Signed in"
    LOGOUT = "auth.logout", "Signed out"
    LOGIN_FAILED = "auth.login_failed", "Failed to sign in"
    LOCKED_OUT = "auth.locked_out", "Was locked out after failed sign-ins"
    PERMISSION_DENIED = "permission.denied", "Was refused access"
    TOKEN_CREATED = "token.created", "Created an API token"
    TOKEN_REVOKED = "token.revoked", "Revoked an API token"
    NOTIFICATION_PREFERENCES_CHANGED = (
        "notifications.preferences_changed",
        "Changed notification settings",
    )
    # People, groups and teams (the Django admin)
    USER_CREATED = "user.created", "Created a user account"
    USER_CHANGED = "user.changed", "Changed a user account"
    USER_DELETED = "user.deleted", "Deleted a user account"
    USER_PASSWORD_SET = "user.password_set", "Set a user's password"
    GROUP_CREATED = "group.created", "Created a group"
    GROUP_CHANGED = "group.changed", "Changed a group's rights"
    GROUP_DELETED = "group.deleted", "Deleted a group"
    TEAM_CREATED = "team.created", "Created a team"
    TEAM_CHANGED = "team.changed", "Changed a team"
    TEAM_DELETED = "team.deleted", "Deleted a team"
    # The audit trail itself
    AUDIT_VERIFIED = "audit.verified", "Verified the audit trail"
    AUDIT_EXPORTED = "audit.exported", "Exported the audit trail"
    # Background jobs
    JOB_REQUESTED = "job.requested", "Started a diagnostic job"
    JOB_STARTED = "job.started", "A job attempt started"
    JOB_SUCCEEDED = "job.succeeded", "A job succeeded"
    JOB_FAILED = "job.failed", "A job failed"
    JOB_REQUEUED = "job.requeued", "A job was queued again"
    # The registry
    MODEL_REGISTERED = "model.registered", "Registered a model"
    MODEL_UPDATED = "model.updated", "Edited a model's details"
    MODEL_SHARED = "model.shared", "Shared a model"
    MODEL_UNSHARED = "model.unshared", "Revoked a share of a model"
    VERSION_UPLOADED = "version.uploaded", "Uploaded a version"
    TAG_CREATED = "tag.created", "Created a tag"
    TAG_CHANGED = "tag.changed", "Renamed a tag"
    TAG_DELETED = "tag.deleted", "Deleted a tag"
    # Who answers for a model (governed changes)
    MODEL_CHANGE_PROPOSED = "model.change_proposed", "Proposed a new risk owner, team or tier"
    MODEL_CHANGE_REJECTED = "model.change_rejected", "Rejected a proposed risk owner, team or tier"
    MODEL_CHANGE_WITHDRAWN = "model.change_withdrawn", "Withdrew a proposed change"
    MODEL_GOVERNANCE_CHANGED = (
        "model.governance_changed",
        "Changed a model's risk owner, team or tier",
    )
    # Validation
    VALIDATION_PASSED = "validation.passed", "Validation passed"
    VALIDATION_FAILED = "validation.failed", "Validation failed"
    VALIDATION_RERUN_REQUESTED = "validation.rerun_requested", "Asked to validate again"
    VALIDATION_POLICY_CHANGED = "policy.changed", "Changed a validation policy"
    # Review and sign-off
    REVIEW_REQUESTED = "review.requested", "Requested review"
    REVIEW_EXCEPTION_REQUESTED = (
        "review.exception_requested",
        "Requested review of a failed version, as a policy exception",
    )
    REVIEW_APPROVED = "review.approve", "Signed off"
    REVIEW_REJECTED = "review.reject", "Rejected"
    REVIEW_CHANGES_REQUESTED = "review.request_changes", "Requested changes"
    REVIEW_REOPENED = "review.reopened", "A review reopened for sign-offs a new policy asks for"
    REVIEW_POLICY_RAISED = "review.policy_raised", "A review took a stricter policy"
    REVIEW_POLICY_CHANGED = "review_policy.changed", "Changed a review policy"
    COMMENT_ADDED = "comment.added", "Commented"
    # Deployment and serving
    DEPLOYMENT_REQUESTED = "deployment.requested", "Asked to deploy"
    DEPLOYMENT_LIVE = "deployment.live", "A version went live"
    DEPLOYMENT_FAILED = "deployment.failed", "A deployment failed"
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back", "Rolled back"
    DEPLOYMENT_UNDEPLOYED = "deployment.undeployed", "Undeployed"
    CHALLENGER_STARTED = "challenger.started", "A challenger started beside the live version"
    CHALLENGER_TRAFFIC_CHANGED = "challenger.traffic_changed", "Changed a canary's share"
    CHALLENGER_STOPPED = "challenger.stopped", "Stopped a challenger"
    CHALLENGER_PROMOTED = "challenger.promoted", "Promoted a challenger to the live version"
    VERSION_RETIRED = "version.retired", "Retired a version"
    SERVING_KEY_CREATED = "serving_key.created", "Created a serving key"
    SERVING_KEY_REVOKED = "serving_key.revoked", "Revoked a serving key"
    ALERT_RAISED = "monitoring.alert_raised", "Raised a monitoring alert"
    FINDING_RAISED = "finding.raised", "Raised a finding"
    FINDING_REMEDIATED = "finding.remediated", "Answered a finding with a remediation"
    FINDING_CLOSED = "finding.closed", "Verified and closed a finding"
    FINDING_REOPENED = "finding.reopened", "Reopened a finding"
    # Periodic review
    REVIEW_CADENCE_CHANGED = "review.cadence_changed", "Changed a periodic review cadence"
    REVIEW_PERIODIC_TRIGGERED = (
        "review.periodic_triggered",
        "Brought a model's periodic review forward",
    )
    REVIEW_PERIODIC_OPENED = "review.periodic_opened", "Opened a periodic review"
    REVIEW_PERIODIC_ATTESTED = "review.periodic_attested", "Attested in a periodic review"
    REVIEW_PERIODIC_CLOSED = "review.periodic_closed", "Decided a periodic review"
    # Documentation
    DOCUMENTATION_EDITED = "documentation.edited", "Edited a version's documentation"
    DOCUMENTATION_FROZEN = "documentation.frozen", "Froze a version's documentation as approved"
    DOCUMENTATION_EXPORTED = "documentation.exported", "Exported a version's documentation"
    DOCUMENTATION_TEMPLATE_CHANGED = (
        "documentation.template_changed",
        "Changed the documentation template",
    )
    DOCUMENTATION_POLICY_CHANGED = (
        "documentation.policy_changed",
        "Changed a documentation policy",
    )
    MONITORING_POLICY_CHANGED = "monitoring.policy_changed", "Changed a monitoring policy"
    MONITORING_REVIEW_OPENED = "monitoring.review_opened", "Opened a monitoring review"
    MONITORING_REVIEW_DECIDED = "monitoring.review_decided", "Decided a monitoring review"
    LOGS_DELETED = "monitoring.logs_deleted", "Deleted prediction logs past their retention"
    LOGS_EXPORTED = "monitoring.logs_exported", "Exported raw prediction logs"
    ALERT_ACKNOWLEDGED = "monitoring.alert_acknowledged", "Acknowledged a monitoring alert"
    ALERT_RESOLVED = "monitoring.alert_resolved", "Resolved a monitoring alert"
    ENVIRONMENT_CREATED = "environment.created", "Created an environment"
    ENVIRONMENT_CHANGED = "environment.changed", "Changed an environment"
    ENVIRONMENT_DELETED = "environment.deleted", "Deleted an environment"
    # Written before environments were audited through AuditedAdmin; kept to read old events.
    ENVIRONMENT_SAVED = "environment.saved", "Changed an environment"
    # Webhooks
    WEBHOOK_SAVED = "webhook.saved", "Saved a webhook"
    WEBHOOK_DELETED = "webhook.deleted", "Deleted a webhook"
    WEBHOOK_REFUSED = "webhook.refused", "A webhook delivery was refused"
    WEBHOOK_HOST_ALLOWED = "webhook.host_allowed", "Allowed an internal webhook host"
    WEBHOOK_HOST_DISALLOWED = "webhook.host_disallowed", "Withdrew an allowed webhook host"
    # Single sign-on (accounts): the identity provider changes a person's roles and teams
    SSO_LOGIN_FAILED = "auth.sso_failed", "Failed to sign in through the identity provider"
    SSO_NO_ACCESS = "auth.sso_no_access", "Signed in through the identity provider without access"
    SSO_ACCOUNT_CREATED = "user.sso_created", "The identity provider created an account"
    SSO_ACCESS_CHANGED = "user.sso_access_changed", "The identity provider changed roles or teams"
    GROUP_MAPPING_SAVED = "sso.mapping_saved", "Saved an identity provider group mapping"
    GROUP_MAPPING_DELETED = "sso.mapping_deleted", "Deleted an identity provider group mapping"
    # MLflow interop (integrations)
    MLFLOW_CONNECTION_SAVED = "mlflow.connection_saved", "Saved an MLflow connection"
    MLFLOW_CONNECTION_DELETED = "mlflow.connection_deleted", "Deleted an MLflow connection"
    MLFLOW_LINKED = "mlflow.linked", "Linked a model to an MLflow registered model"
    MLFLOW_UNLINKED = "mlflow.unlinked", "Unlinked a model from MLflow"
    MLFLOW_IMPORT_REQUESTED = "mlflow.import_requested", "Asked to import a version from MLflow"
    MLFLOW_IMPORTED = "mlflow.imported", "Imported a version from MLflow"
    MLFLOW_IMPORT_FAILED = "mlflow.import_failed", "An import from MLflow failed"
    MLFLOW_WEBHOOK_REFUSED = "mlflow.webhook_refused", "An MLflow webhook was refused"
    MLFLOW_TAGS_SENT = "mlflow.tags_sent", "Told MLflow a version's outcome"
