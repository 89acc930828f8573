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

The figures are read from the audit trail's day tables (``models.py``, folded by ``rollup.py``
from a watermark, each event exactly once), not from the events: every figure is one GROUP BY
over day rows (``values``/``annotate``), on the narrow per-kind, per-actor and per-model tables
for the whole trail without filters, on ``ChangeDay`` filtered by model id otherwise. A person
who sees only some models sums the rows of those models (rows about no single model are for the
whole trail only), less the events about the objects of those models hidden from them
(``hidden_objects``: one query for the objects, one for their few events). No event is loaded
into Python for the figures, and the number of queries does not depend on the number of events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
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
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from apps.analytics.models import CURSOR, ActorDay, ChangeCursor, ChangeDay, KindDay, ModelDay
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


def prefix(action: str) -> str:
    """An action's kind: its prefix with the dot (``deployment.``)."""
    return action.split(".", 1)[0] + "."


# Kind of action (prefix) -> what it covers, in the order of the enum.
KINDS: dict[str, str] = {
    prefix(action): _KIND_LABELS.get(prefix(action), prefix(action)) for action in CHANGE_ACTIONS
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


def hidden_objects(user: Person, models: QuerySet[RegisteredModel]) -> list[tuple[str, str]]:
    """(audit object type, id) of the objects of ``models`` that ``user`` may not see (model
    operations see a model's submitted versions only), in one query: the day tables count
    their events under the model, and a person's history leaves them out."""
    # Everything below a model follows the model's visibility or its version's, except a
    # model's own monitoring policy, which has rules of its own: someone who sees every
    # version of these models sees all but those, which one query says, sparing the union
    # over every kind of object for everyone but model operations.
    versions = ModelVersion.objects.filter(model__in=models.values("pk"))
    seen = visible_to(user, ModelVersion.objects.all()).values("pk")
    every_version = not versions.exclude(pk__in=seen).exists()
    parts = [
        rows.filter(**{f"{path}__in": models.values("pk")})
        .exclude(pk__in=visible_to(user, rows).values("pk"))
        .order_by()
        .annotate(audit_type=Value(object_type, CharField()), audit_key=Cast("pk", CharField()))
        .values_list("audit_type", "audit_key")
        for object_type, rows, path in _sources()
        if not every_version or object_type == "monitoring.monitoringpolicy"
    ]
    return list(parts[0].union(*parts[1:], all=True))


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
    first: date,
    last: date,
    chosen: list[RegisteredModel] | None = None,
    actor: str = "",
    kind: str = "",
    bucket: str = "day",
    counted_to: int | None = None,
) -> ChangeAnalytics:
    """Every figure of the change analytics page for the days ``first`` to ``last``, read from
    the day tables (call ``rollup.catch_up`` first, for figures to the second) in a fixed
    number of queries. ``counted_to`` is the watermark they count up to (read from the cursor
    if not given): events about objects hidden from the person are taken off up to it."""
    source = _Source.of(user, visible_models, chosen, actor=actor, kind=kind)
    since = first - timedelta(days=BASELINE_DAYS)
    after = last + timedelta(days=1)
    in_period = {"day__gte": first, "day__lt": after}
    hidden = source.hidden_changes(since, after, counted_to)

    per_day: Counter[tuple[date, str]] = Counter(
        {
            (row["day"], row["kind"]): row["n"]
            for row in source.kinds.filter(**in_period)
            .values("day", "kind")
            .annotate(n=Sum("count"))
            .order_by()
        }
    )
    per_model: dict[int | None, Counter[str]] = {}
    for row in (
        source.models.filter(**in_period)
        .values("model_id")
        .annotate(**source.model_sums)
        .order_by()
    ):
        per_model[row["model_id"]] = Counter(
            {name: row[f"n_{name}"] or 0 for name in ("total", *(key for key, _, _ in COLUMNS))}
        )
    actors: Counter[tuple[int | None, str]] = Counter(
        {
            (row["actor_id"], row["actor_username"]): row["n"]
            for row in source.actors.filter(**in_period)
            .values("actor_id", "actor_username")
            .annotate(n=Sum("count"))
            .order_by()
        }
    )
    before = _usual_counts(source, since, first, after)
    for row in hidden:
        n, day = row["n"], row["day"]
        if day < first:
            before[row["actor_id"]] -= n
            continue
        per_day[(day, prefix(row["action"]))] -= n
        counts = per_model.setdefault(row["about"], Counter())
        counts["total"] -= n
        for key, _, actions in COLUMNS:
            if row["action"] in actions:
                counts[key] -= n
        actors[(row["actor_id"], row["actor_username"])] -= n

    def week(day: date) -> date:
        return day - timedelta(days=day.weekday()) if bucket == "week" else day

    buckets: Counter[tuple[date, str]] = Counter()
    for (day, kind_of), n in per_day.items():
        buckets[(week(day), kind_of)] += n
    by_bucket = sorted((when, k, n) for (when, k), n in buckets.items() if n > 0)
    total = sum(n for _, _, n in by_bucket)

    rows = sorted(
        ((about, counts) for about, counts in per_model.items() if counts["total"] > 0),
        key=lambda item: (-item[1]["total"], -1 if item[0] is None else item[0]),
    )
    ids = {about for about, _ in rows if about is not None}
    # The visible models are loaded already (the filters list them); only a whole-trail reader
    # can have changes about others.
    named = {m.pk: m for m in visible_models if m.pk in ids}
    if missing := ids - set(named):
        named.update(
            (m.pk, m) for m in RegisteredModel.objects.filter(pk__in=missing).select_related("team")
        )
    by_model = [
        ModelRow(
            named.get(about) if about is not None else None,
            counts["total"],
            {key: counts[key] for key, _, _ in COLUMNS},
        )
        for about, counts in rows
        if about is None or about in named
    ]
    teams: dict[str, tuple[str, int]] = {}
    for model_row in by_model:
        if model_row.model is not None:
            team = model_row.model.team
            name, count = teams.get(team.slug, (team.name, 0))
            teams[team.slug] = (name, count + model_row.total)
    by_team = sorted(
        ((slug, name, count) for slug, (name, count) in teams.items()), key=lambda t: -t[2]
    )

    ranked = sorted(
        ((who, username, n) for (who, username), n in actors.items() if n > 0),
        key=lambda item: (-item[2], item[1]),
    )
    by_actor = [(username or "system", n) for _, username, n in ranked]
    unusual = _unusual(ranked, before, (after - first) / timedelta(days=BASELINE_DAYS))
    return ChangeAnalytics(
        first, last, bucket, total, by_bucket, by_model, by_team, by_actor, unusual
    )


@dataclass
class _Source:
    """The day tables one person's view sums, with its filters applied: the narrow tables for
    the whole trail without filters, ``ChangeDay`` otherwise (scoped by model id)."""

    kinds: QuerySet[Any]
    models: QuerySet[Any]
    actors: QuerySet[Any]
    model_sums: dict[str, Any]
    user: Person | None = None  # a person whose history is scoped object by object
    scope: QuerySet[RegisteredModel] | None = None
    actor: str = ""
    kind: str = ""

    @classmethod
    def of(
        cls,
        user: Person,
        visible_models: QuerySet[RegisteredModel],
        chosen: list[RegisteredModel] | None,
        *,
        actor: str,
        kind: str,
    ) -> _Source:
        whole = reads_whole_trail(user)
        if whole and chosen is None and not actor and not kind:
            sums = {"n_total": Sum("count"), **{f"n_{key}": Sum(key) for key, _, _ in COLUMNS}}
            return cls(KindDay.objects.all(), ModelDay.objects.all(), ActorDay.objects.all(), sums)
        days = ChangeDay.objects.all()
        scope = None
        if not whole or chosen is not None:
            # Events about no single model are left out here: only the whole trail shows them.
            scope = visible_models if chosen is None else _pks(chosen)
            days = days.filter(model_id__in=scope.values("pk"))
        if actor:
            days = days.filter(actor_username=actor)
        if kind:
            days = days.filter(kind=kind)
        sums = {
            "n_total": Sum("count"),
            **{
                f"n_{key}": Sum("count", filter=Q(action__in=actions))
                for key, _, actions in COLUMNS
            },
        }
        return cls(days, days, days, sums, None if whole else user, scope, actor, kind)

    def hidden_changes(self, since: date, after: date, counted_to: int | None) -> list[Any]:
        """The counted changes from ``since`` to before ``after`` about objects of the scope
        this person may not see, by day, action, actor and model: taken off the day tables'
        figures, so that a person counts exactly the events their model history shows."""
        if self.user is None or self.scope is None:
            return []
        hidden = hidden_objects(self.user, self.scope)
        if not hidden:
            return []
        by_type: dict[str, list[str]] = {}
        for object_type, key in hidden:
            by_type.setdefault(object_type, []).append(key)
        about = Q(pk__in=[])
        for object_type, keys in by_type.items():
            about |= Q(object_type=object_type, object_id__in=keys)
        if counted_to is None:
            counted_to = _watermark()
        zone = timezone.get_default_timezone()
        events = AuditEvent.objects.filter(
            about,
            id__lte=counted_to,
            action__in=CHANGE_ACTIONS,
            occurred_at__gte=_midnight(since, zone),
            occurred_at__lt=_midnight(after, zone),
        )
        if self.actor:
            events = events.filter(actor_username=self.actor)
        if self.kind:
            events = events.filter(action__startswith=self.kind)
        return list(
            events.annotate(day=TruncDate("occurred_at", tzinfo=zone), about=model_of_event())
            .values("day", "action", "actor_id", "actor_username", "about")
            .annotate(n=Count("pk"))
            .order_by()
        )


def _watermark() -> int:
    found = ChangeCursor.objects.filter(pk=CURSOR).values_list("watermark", flat=True).first()
    return found or 0


def _midnight(day: date, zone: Any) -> datetime:
    return datetime.combine(day, time.min, zone)


def _pks(models: list[RegisteredModel]) -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.filter(pk__in=[m.pk for m in models])


def _usual_counts(source: _Source, since: date, first: date, after: date) -> Counter[int | None]:
    """Each person's changes over the BASELINE_DAYS before the period. Only those with
    MIN_EVENTS in the period can qualify, so only they are counted; they are named by a
    subquery rather than a list, so that the query runs, and the page asks the same number of
    queries, whether anyone qualifies or not."""
    qualifying = (
        source.actors.filter(day__gte=first, day__lt=after, actor_id__isnull=False)
        .values("actor_id")
        .annotate(n=Sum("count"))
        .filter(n__gte=MIN_EVENTS)
        .values("actor_id")
    )
    return Counter(
        dict(
            source.actors.filter(actor_id__in=qualifying, day__gte=since, day__lt=first)
            .values("actor_id")
            .annotate(n=Sum("count"))
            .values_list("actor_id", "n")
            .order_by()
        )
    )


def _unusual(
    ranked: list[tuple[int | None, str, int]], before: Counter[int | None], share: float
) -> list[Unusual]:
    """People (not the system) whose count in the period is at least FACTOR times their usual
    count for a period of that length, judged on the BASELINE_DAYS before it, and at least
    MIN_EVENTS."""
    found = []
    for who, username, n in ranked:
        if who is None or n < MIN_EVENTS:
            continue
        usual = before.get(who, 0) * share
        if n >= FACTOR * usual:
            found.append(Unusual(username, n, round(usual, 1)))
    return sorted(found, key=lambda u: (-(u.ratio or float("inf")), u.actor))
