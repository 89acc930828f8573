"""Change analytics: who changed what, when and how often, counted in the database.

A **change** is every audited event except those that change nothing governed: sign-ins and
refused requests (``auth.``, ``permission.``), the steps of background jobs (``job.``), and
reading or exporting the records (verifying or exporting the audit trail, exporting a document
or prediction logs). Its **kind** is the action's prefix (``version.``, ``deployment.``, ...).

Whose events a person sees is the audit pages' rule: those who read the audit trail
(compliance, administrators: ``AuditEvent.objects.restrict``) see every change; everyone else
sees the events of the objects their model history shows (the model, the versions of it they may
see, its deployments, serving keys, alerts, monitoring reviews, findings, documentation and the
policies of its own), each scoped by that object's own ``restrict``, as the model page's history
tab does, so no event about a model they cannot see is ever counted.

Every figure is one GROUP BY (``values``/``annotate``); no event is loaded into Python, and the
number of queries does not depend on the number of events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    Count,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, StrIndex, Substr, TruncDay, TruncWeek

from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.core.permissions import Person, can, visible_to
from apps.deployments.models import Deployment, ServingKey
from apps.documentation.models import Revision
from apps.findings.models import Finding
from apps.monitoring.models import Alert, MonitoringPolicy, MonitoringReview
from apps.registry.models import ModelVersion, RegisteredModel
from apps.validation.models import ValidationPolicy

A = AuditAction

NOT_CHANGES_PREFIXES = ("auth.", "permission.", "job.", "audit.")
NOT_CHANGES = {A.DOCUMENTATION_EXPORTED.value, A.LOGS_EXPORTED.value}
CHANGE_ACTIONS: tuple[str, ...] = tuple(
    action.value
    for action in AuditAction
    if not action.value.startswith(NOT_CHANGES_PREFIXES) and action.value not in NOT_CHANGES
)

_KIND_LABELS = {
    "model.": "Model details, sharing and who answers for it",
    "version.": "Versions uploaded or retired",
    "validation.": "Validation",
    "policy.": "Validation policies",
    "review.": "Reviews and sign-offs",
    "review_policy.": "Review policies",
    "comment.": "Comments",
    "deployment.": "Deployments and rollbacks",
    "challenger.": "Challengers",
    "serving_key.": "Serving keys",
    "monitoring.": "Monitoring alerts, reviews and policies",
    "finding.": "Findings",
    "documentation.": "Documentation",
    "environment.": "Environments",
    "webhook.": "Webhooks",
    "token.": "API tokens",
    "user.": "User accounts",
    "group.": "Groups",
    "team.": "Teams",
    "tag.": "Tags",
    "notifications.": "Notification settings",
}


def _prefix(action: str) -> str:
    return action.split(".", 1)[0] + "."


# Kind of action (prefix) -> what it covers, in the order of the enum.
KINDS: dict[str, str] = {
    _prefix(action): _KIND_LABELS.get(_prefix(action), _prefix(action)) for action in CHANGE_ACTIONS
}

# The per-model table's columns: (key, heading, the actions it counts).
COLUMNS: list[tuple[str, str, tuple[str, ...]]] = [
    ("versions_uploaded", "Versions uploaded", (A.VERSION_UPLOADED.value,)),
    (
        "deployments",
        "Deployments (went live)",
        (A.DEPLOYMENT_LIVE.value, A.CHALLENGER_PROMOTED.value),
    ),
    ("rollbacks", "Rollbacks", (A.DEPLOYMENT_ROLLED_BACK.value,)),
    (
        "policy_changes",
        "Policy and governance changes",
        (
            A.VALIDATION_POLICY_CHANGED.value,
            A.MONITORING_POLICY_CHANGED.value,
            A.MODEL_GOVERNANCE_CHANGED.value,
        ),
    ),
    (
        "permission_changes",
        "Permission changes",
        (A.MODEL_SHARED.value, A.MODEL_UNSHARED.value),
    ),
    ("policy_exceptions", "Policy exceptions", (A.REVIEW_EXCEPTION_REQUESTED.value,)),
]

# "Far above their usual rate": at least FACTOR times their average count per period of the
# same length over the year before the period, and at least MIN_EVENTS changes (a person going
# from 1 change to 3 is no news).
FACTOR = 3
MIN_EVENTS = 20
BASELINE_DAYS = 365
TOP = 10


def _sources() -> list[tuple[str, QuerySet[Any], str]]:
    """(audit object type, its rows, the path from a row to its registered model's id): the
    objects a model's history is made of."""
    return [
        ("registry.registeredmodel", RegisteredModel.objects.all(), "pk"),
        ("registry.modelversion", ModelVersion.objects.all(), "model_id"),
        ("deployments.deployment", Deployment.objects.all(), "model_id"),
        ("deployments.servingkey", ServingKey.objects.all(), "model_id"),
        ("monitoring.alert", Alert.objects.all(), "deployment__model_id"),
        ("monitoring.monitoringreview", MonitoringReview.objects.all(), "deployment__model_id"),
        ("findings.finding", Finding.objects.all(), "model_id"),
        ("documentation.revision", Revision.objects.all(), "version__model_id"),
        ("validation.validationpolicy", ValidationPolicy.objects.all(), "model_id"),
        ("monitoring.monitoringpolicy", MonitoringPolicy.objects.all(), "model_id"),
    ]


def reads_whole_trail(user: Person) -> bool:
    """Compliance and administrators: the same test ``AuditEvent.objects.restrict`` makes."""
    return can(user, "audit.view_auditevent")


def about_models(user: Person | None, models: QuerySet[RegisteredModel]) -> Q:
    """Events about ``models``' objects; with ``user``, only objects that person may see (a
    version of a visible model may still be hidden: model operations see submitted ones)."""
    found = Q(pk__in=[])
    for object_type, rows, path in _sources():
        if user is not None:
            rows = visible_to(user, rows)
        keys = rows.filter(**{f"{path}__in": models.values("pk")}).annotate(
            audit_key=Cast("pk", CharField())
        )
        found |= Q(object_type=object_type, object_id__in=keys.values("audit_key"))
    return found


def model_of_event() -> Case:
    """An annotation: the id of the registered model an event is about, or NULL."""
    whens = []
    for object_type, rows, path in _sources():
        if path == "pk":
            then: Any = Cast("object_id", BigIntegerField())
        else:
            matching = rows.filter(pk=Cast(OuterRef("object_id"), BigIntegerField()))
            then = Subquery(matching.values(path)[:1])
        whens.append(When(object_type=object_type, then=then))
    return Case(*whens, default=Value(None), output_field=BigIntegerField())


def kind_of_action() -> Substr:
    """An annotation: the action's prefix with its dot (``deployment.``)."""
    return Substr("action", 1, StrIndex("action", Value(".")))


def scoped_changes(
    user: Person,
    visible_models: QuerySet[RegisteredModel],
    chosen: list[RegisteredModel] | None,
) -> QuerySet[AuditEvent]:
    """The change events ``user`` may see, about ``chosen`` models when given."""
    if reads_whole_trail(user):
        events = AuditEvent.objects.restrict(user).filter(action__in=CHANGE_ACTIONS)
        if chosen is not None:
            events = events.filter(about_models(None, _pks(chosen)))
        return events
    models = visible_models if chosen is None else _pks(chosen)
    return AuditEvent.objects.filter(action__in=CHANGE_ACTIONS).filter(about_models(user, models))


def _pks(models: list[RegisteredModel]) -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.filter(pk__in=[m.pk for m in models])


@dataclass
class ModelRow:
    model: RegisteredModel | None  # None: events about no single model
    total: int
    counts: dict[str, int]


@dataclass
class Unusual:
    actor: str
    count: int
    usual: float  # average per period of the same length over the baseline year

    @property
    def ratio(self) -> float | None:
        return self.count / self.usual if self.usual else None


@dataclass
class ChangeAnalytics:
    first: date
    last: date
    bucket: str
    total: int
    by_bucket: list[tuple[date, str, int]]
    by_model: list[ModelRow]
    by_team: list[tuple[str, str, int]]  # slug, name, count
    by_actor: list[tuple[str, int]]
    unusual: list[Unusual]
    kinds: dict[str, str] = field(default_factory=lambda: dict(KINDS))

    @property
    def buckets(self) -> list[date]:
        return sorted({when for when, _, _ in self.by_bucket})


def analyse(
    user: Person,
    visible_models: QuerySet[RegisteredModel],
    *,
    start: datetime,
    end: datetime,
    first: date,
    last: date,
    chosen: list[RegisteredModel] | None = None,
    actor: str = "",
    kind: str = "",
    bucket: str = "day",
) -> ChangeAnalytics:
    """Every figure of the change analytics page for ``[start, end)``, in five queries."""
    scoped = scoped_changes(user, visible_models, chosen)
    if actor:
        scoped = scoped.filter(actor_username=actor)
    if kind:
        scoped = scoped.filter(action__startswith=kind)
    events = scoped.filter(occurred_at__gte=start, occurred_at__lt=end)

    truncate = TruncDay if bucket == "day" else TruncWeek
    by_bucket = [
        (_as_date(row["at"]), row["kind"], row["n"])
        for row in events.annotate(at=truncate("occurred_at"), kind=kind_of_action())
        .values("at", "kind")
        .annotate(n=Count("pk"))
        .order_by("at", "kind")
    ]
    total = sum(n for _, _, n in by_bucket)

    per_model = (
        events.annotate(about=model_of_event())
        .values("about")
        .annotate(
            total=Count("pk"),
            **{key: Count("pk", filter=Q(action__in=actions)) for key, _, actions in COLUMNS},
        )
        .order_by("-total", "about")
    )
    rows = list(per_model)
    ids = [row["about"] for row in rows if row["about"] is not None]
    named = {m.pk: m for m in RegisteredModel.objects.filter(pk__in=ids).select_related("team")}
    by_model = [
        ModelRow(
            named.get(row["about"]) if row["about"] is not None else None,
            row["total"],
            {key: row[key] for key, _, _ in COLUMNS},
        )
        for row in rows
        if row["about"] is None or row["about"] in named
    ]
    teams: dict[str, tuple[str, int]] = {}
    for row in by_model:
        if row.model is not None:
            name, count = teams.get(row.model.team.slug, (row.model.team.name, 0))
            teams[row.model.team.slug] = (name, count + row.total)
    by_team = sorted(
        ((slug, name, count) for slug, (name, count) in teams.items()), key=lambda t: -t[2]
    )

    actors = list(
        events.values("actor_id", "actor_username")
        .annotate(n=Count("pk"))
        .order_by("-n", "actor_username")
    )
    by_actor = [(row["actor_username"] or "system", row["n"]) for row in actors]
    unusual = _unusual(scoped, actors, start, end)
    return ChangeAnalytics(
        first, last, bucket, total, by_bucket, by_model, by_team, by_actor, unusual
    )


def _unusual(
    scoped: QuerySet[AuditEvent], actors: Iterable[dict[str, Any]], start: datetime, end: datetime
) -> list[Unusual]:
    """People (not the system) whose count in the period is at least FACTOR times their usual
    count for a period of that length, judged on the BASELINE_DAYS before it, and at least
    MIN_EVENTS. Only those with MIN_EVENTS in the period can qualify, so only they are counted
    in the year before (through the ``(actor, occurred_at)`` index); they are named by a
    subquery rather than a list, so that the query runs, and the page asks the same number of
    queries, whether anyone qualifies or not."""
    in_period = scoped.filter(occurred_at__gte=start, occurred_at__lt=end, actor_id__isnull=False)
    qualifying = (
        in_period.values("actor_id").annotate(n=Count("pk")).filter(n__gte=MIN_EVENTS)
    ).values("actor_id")
    since = start - timedelta(days=BASELINE_DAYS)
    before = dict(
        scoped.filter(actor_id__in=qualifying, occurred_at__gte=since, occurred_at__lt=start)
        .values("actor_id")
        .annotate(n=Count("pk"))
        .values_list("actor_id", "n")
    )
    share = (end - start) / timedelta(days=BASELINE_DAYS)
    found = []
    for row in actors:
        if row["actor_id"] is None or row["n"] < MIN_EVENTS:
            continue
        usual = before.get(row["actor_id"], 0) * share
        if row["n"] >= FACTOR * usual:
            found.append(Unusual(row["actor_username"], row["n"], round(usual, 1)))
    return sorted(found, key=lambda u: (-(u.ratio or float("inf")), u.actor))


def _as_date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value
