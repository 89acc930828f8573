"""The parts of a version's documentation the portal fills from its own records.

One builder per kind of part a template may name (``BUILDERS``). Each reads the records as they
are now and returns what the part holds; a frozen revision keeps what they returned at approval
(``Revision.snapshot``). Nothing here is typed by a person, so nothing here needs sanitising
beyond the escaping every renderer does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q

from apps.audit.models import AuditEvent
from apps.audit.services import object_type_of
from apps.core import formats
from apps.core.audit_actions import AuditAction
from apps.core.registry import registry
from apps.core.templatetags.words import role_title
from apps.deployments.models import Deployment
from apps.documentation.document import Figure, Table
from apps.findings.services import applying_to
from apps.monitoring import charts as monitoring_charts
from apps.monitoring import policies, series
from apps.monitoring.models import Alert, Health
from apps.registry.models import ModelVersion
from apps.reviews.models import Review
from apps.validation import charts as validation_charts
from apps.validation import evidence
from apps.validation.services import latest_report


@dataclass
class Filled:
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Figure] = field(default_factory=list)
    empty: str = "Nothing recorded."


def _person(user: Any) -> str:
    if user is None:
        return "the portal"
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


def _when(moment: Any) -> str:
    if moment is None:
        return "—"
    return formats.when_with_zone(moment)


def _number(value: Any, places: int = 4) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def identity(version: ModelVersion) -> Filled:
    model = version.model
    tags = ", ".join(sorted(t.name for t in model.tags.all()))
    return Filled(
        facts=[
            ("Model", f"{model.name} ({model.slug})"),
            ("Version", f"{version.number}, {version.get_status_display().lower()}"),
            ("Use case", model.use_case or "—"),
            ("Owner team", model.team.name),
            ("Risk tier", model.get_risk_tier_display()),
            ("Risk owner", _person(model.risk_owner)),
            ("Registered by", f"{_person(model.owner)} on {_when(model.created_at)}"),
            ("Uploaded by", f"{_person(version.uploaded_by)} on {_when(version.created_at)}"),
            ("Tags", tags or "—"),
        ]
    )


def artifact(version: ModelVersion) -> Filled:
    files = Table(
        ["File", "Name", "Size (bytes)", "SHA-256"],
        [
            [f.get_role_display(), f.original_name, f"{f.size:,}", f.sha256]
            for f in version.files.order_by("role")
        ],
        "Stored files and their SHA-256 digests",
    )
    filled = Filled(
        facts=[("Artifact format", version.get_artifact_format_display())], tables=[files]
    )
    report = latest_report(version)
    signature = (report.data.get("signature") if report else None) or {}
    if signature.get("features"):
        filled.tables.append(
            Table(
                ["Feature", "Type", "Has missing values"],
                [
                    [f["name"], f"{f['kind']} ({f['dtype']})", "yes" if f["nullable"] else "no"]
                    for f in signature["features"]
                ],
                f"Input signature inferred at validation ({signature.get('task', '')} model)",
            )
        )
    return filled


def validation(version: ModelVersion) -> Filled:
    report = latest_report(version)
    if report is None:
        return Filled(empty="Not validated yet.")
    data = report.data
    facts = [
        ("Outcome", report.get_outcome_display()),
        ("Policy", str(report.policy) if report.policy else "no policy applied"),
        ("Validated on", _when(report.created_at)),
        ("Holdout rows", str(data.get("rows", "—"))),
        ("Isolation", "namespace sandbox" if report.isolated else "restricted loader (.skops)"),
    ]
    facts += [(f"Reason {i}", reason) for i, reason in enumerate(report.reasons, 1)]
    tables = []
    if report.checks:
        tables.append(
            Table(
                ["Check", "Threshold", "Measured", "Result"],
                [
                    [
                        c["label"],
                        f"{'≥' if c['comparison'] == '>=' else '≤'} {c['threshold']}",
                        _number(c.get("value")),
                        {True: "pass", False: "fail"}.get(c.get("passed"), f"n/a: {c.get('note')}"),
                    ]
                    for c in report.checks
                ],
                "Checks of the validation policy",
            )
        )
    metrics = report.headline_metrics
    if metrics:
        tables.append(
            Table(
                ["Metric", "Value"],
                [[label, _number(value)] for label, value in metrics],
                "Performance on the holdout",
            )
        )
    return Filled(
        facts=facts, tables=tables, charts=[f for _, f in validation_charts.figures(data)]
    )


def fairness(version: ModelVersion) -> Filled:
    report = latest_report(version)
    measured = report.data.get("fairness") if report else None
    if not measured:
        return Filled(empty="No sensitive column was named, so fairness was not measured.")
    return Filled(
        facts=[
            ("Sensitive column", str(report.data.get("sensitive_column", "—"))),  # type: ignore[union-attr]
            (
                "Demographic parity difference",
                _number(measured.get("demographic_parity_difference")),
            ),
            ("Equal opportunity difference", _number(measured.get("equal_opportunity_difference"))),
        ],
        tables=[
            Table(
                ["Group", "Rows", "Selection rate", "True positive rate", "Accuracy"],
                [
                    [
                        str(g["group"]),
                        str(g["n"]),
                        _number(g.get("selection_rate"), 3),
                        _number(g.get("true_positive_rate"), 3),
                        _number(g.get("accuracy"), 3),
                    ]
                    for g in measured.get("groups", [])
                ],
                "Outcomes per group",
            )
        ],
    )


def champion(version: ModelVersion) -> Filled:
    report = latest_report(version)
    compared = report.data.get("champion") if report else None
    if not compared or report is None or report.champion is None:
        return Filled(empty="No version was live in production to compare with.")
    if not compared.get("comparable"):
        return Filled(
            facts=[("Champion", f"version {report.champion.number}")],
            empty=compared.get("reason", "Not comparable."),
        )
    mine = report.data.get("metrics", {})
    return Filled(
        facts=[("Champion", f"version {report.champion.number}, live in production")],
        tables=[
            Table(
                ["Metric", "Champion", "This version", "Difference"],
                [
                    [
                        key,
                        _number(value),
                        _number(mine.get(key)),
                        _number(compared.get("differences", {}).get(key)),
                    ]
                    for key, value in compared.get("metrics", {}).items()
                ],
                "Holdout metrics of the champion and this version",
            )
        ],
    )


def _review(version: ModelVersion) -> Review | None:
    return (
        Review.objects.filter(version=version)
        .select_related("requested_by", "policy")
        .prefetch_related("decisions__reviewer")
        .first()
    )


def exceptions(version: ModelVersion) -> Filled:
    review = _review(version)
    if review is None or not review.is_exception:
        return Filled(empty="No policy exception: the version went to review within policy.")
    return Filled(
        facts=[
            ("Requested by", f"{_person(review.requested_by)} on {_when(review.requested_at)}"),
            ("Justification", review.justification),
            ("Policy", str(review.policy)),
        ]
    )


def findings(version: ModelVersion) -> Filled:
    found = list(applying_to(version).select_related("version", "owner", "raised_by"))
    if not found:
        return Filled(empty="No findings were raised on this version or left open before it.")
    return Filled(
        tables=[
            Table(
                ["Finding", "Severity", "Category", "State", "Owner", "Due", "Raised by"],
                [
                    [
                        f"#{f.pk} {f.title} (on v{f.version.number})",
                        f.get_severity_display(),
                        f.get_category_display(),
                        f.get_state_display()
                        + (f", closed {_when(f.closed_at)}" if f.closed_at else ""),
                        _person(f.owner),
                        formats.day(f.due_date),
                        f"{_person(f.raised_by)}, {_when(f.raised_at)}",
                    ]
                    for f in found
                ],
                "Findings raised on this version, and open ones carried over from earlier versions",
            )
        ]
    )


def sign_offs(version: ModelVersion) -> Filled:
    review = _review(version)
    if review is None:
        return Filled(empty="Not submitted for review yet.")
    later = [
        Table(columns, rows, caption)
        for source in registry.sign_off_records
        for caption, columns, rows in source(version)
    ]
    return Filled(
        facts=[
            ("Requested by", f"{_person(review.requested_by)} on {_when(review.requested_at)}"),
            ("Summary", review.summary),
            ("Review policy", str(review.policy)),
            ("Outcome", review.get_status_display()),
        ],
        tables=[
            Table(
                ["Sign-off", "Reviewer", "Decision", "Reason", "Date"],
                [
                    [
                        role_title(d.role),
                        _person(d.reviewer),
                        d.get_verdict_display(),
                        d.reason,
                        _when(d.created_at),
                    ]
                    for d in review.decisions.all().order_by("created_at")
                ],
                "Decisions, in order",
            ),
            *later,
        ],
    )


def deployments(version: ModelVersion) -> Filled:
    rows = list(
        Deployment.objects.filter(version=version)
        .select_related("environment", "requested_by")
        .order_by("created_at", "id")
    )
    if not rows:
        return Filled(empty="Never deployed.")
    return Filled(
        tables=[
            Table(
                [
                    "Environment",
                    "Kind",
                    "Mode",
                    "Status",
                    "Requested by",
                    "Live from",
                    "Live until",
                ],
                [
                    [
                        d.environment.name,
                        d.get_kind_display(),
                        d.get_mode_display() + (f" {d.traffic} %" if d.mode == "canary" else ""),
                        d.get_status_display(),
                        _person(d.requested_by),
                        _when(d.live_from),
                        _when(d.live_until) if d.live_until else "—",
                    ]
                    for d in rows
                ],
                "Every deployment of this version",
            )
        ]
    )


def monitoring(version: ModelVersion) -> Filled:
    applied = policies.applied(version.model)
    facts = [
        ("Monitoring policy", applied.source),
        ("Levels", policies.described(applied.levels) or "defaults"),
    ]
    live = list(
        Deployment.objects.filter(version=version, status=Deployment.Status.LIVE)
        .select_related("environment")
        .order_by("environment__order")
    )
    if not live:
        return Filled(facts=facts, empty="Not live anywhere: nothing is being monitored.")
    health = {h.deployment_id: h for h in Health.objects.filter(deployment__in=live)}
    open_alerts = dict(
        Alert.objects.filter(deployment__in=live)
        .exclude(state=Alert.State.RESOLVED)
        .order_by()  # the model's ordering would split the groups
        .values_list("deployment")
        .annotate(n=Count("id"))
        .values_list("deployment", "n")
    )
    table = Table(
        [
            "Environment",
            "State",
            "Requests 24 h",
            "Error rate",
            "p95 ms",
            "Most drifted",
            "Performance",
            "Open alerts",
        ],
        [],
        "Live deployments over the last 24 hours, as the last evaluation found them",
    )
    vouched = evidence.of(version.pk)
    signature = vouched.signature or {}
    charts: list[Figure] = []
    window = series.window_from({"window": "30d"})
    for d in live:
        h = health.get(d.pk)
        table.rows.append(
            [
                f"{d.environment.name} ({d.get_mode_display().lower()})",
                h.get_state_display() if h else "not evaluated yet",
                str(h.requests) if h else "—",
                f"{h.error_percent:.2f} %" if h and h.error_percent is not None else "—",
                _number(h.latency_p95_ms, 1) if h else "—",
                f"{h.drifted_feature} (PSI {h.drifted_psi:.3f})"
                if h and h.drifted_feature and h.drifted_psi is not None
                else "—",
                f"{h.performance_metric} {h.performance:.4f} (validated {_number(h.validated)})"
                if h and h.performance is not None
                else "—",
                str(open_alerts.get(d.pk, 0)),
            ]
        )
        found = series.series(d, window, vouched.baseline, signature.get("task", ""))
        for _, figure in monitoring_charts.figures(found, [], vouched.metrics):
            title = figure["layout"]["title"]["text"]
            figure["layout"]["title"]["text"] = f"{d.environment.name}: {title} (30 days)"
            charts.append(figure)
    return Filled(facts=facts, tables=[table], charts=charts)


# Governance changes of the model that concern every version's documentation.
_MODEL_ACTIONS = [a.value for a in AuditAction if a.value.startswith("model.")]


def changes(version: ModelVersion) -> Filled:
    events = list(
        AuditEvent.objects.filter(
            Q(object_type=object_type_of(version), object_id=str(version.pk))
            | Q(
                object_type=object_type_of(version.model),
                object_id=str(version.model_id),
                action__in=_MODEL_ACTIONS,
            )
        ).order_by("id")
    )
    labels = dict(AuditAction.choices)
    return Filled(
        tables=[
            Table(
                ["When", "Who", "What", "Audit hash"],
                [
                    [
                        _when(e.occurred_at),
                        e.actor_username or "the portal",
                        labels.get(e.action, e.action) + f" ({e.object_repr})",
                        e.hash[:16],
                    ]
                    for e in events
                ],
                "Audit events of this version and of its model's governance",
            )
        ]
    )


BUILDERS: dict[str, Callable[[ModelVersion], Filled]] = {
    "identity": identity,
    "artifact": artifact,
    "validation": validation,
    "fairness": fairness,
    "champion": champion,
    "exceptions": exceptions,
    "findings": findings,
    "sign_offs": sign_offs,
    "deployments": deployments,
    "monitoring": monitoring,
    "changes": changes,
}
