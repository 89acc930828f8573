"""The audit trail's day tables: they equal plain counts over the audit table, every event is
counted exactly once however folds overlap, and each role still counts exactly the events its
model history shows."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import CharField, Count, Q, Sum
from django.db.models.functions import Cast, TruncDate
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.analytics import changes, rollup, tasks
from apps.analytics.models import CURSOR, ActorDay, ChangeCursor, ChangeDay, KindDay, ModelDay
from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.core.permissions import visible_to
from apps.registry.models import RegisteredModel
from tests.analytics.conftest import share_and_revoke
from tests.analytics.test_changes import URL, page

pytestmark = pytest.mark.django_db

API = "/api/v1/analytics/changes/"


def _direct_full() -> Counter[tuple[Any, ...]]:
    """Changes by (day, action, actor, username, model), counted over the audit table."""
    zone = timezone.get_default_timezone()
    rows = (
        AuditEvent.objects.filter(action__in=changes.CHANGE_ACTIONS)
        .annotate(day=TruncDate("occurred_at", tzinfo=zone), about=changes.model_of_event())
        .values("day", "action", "actor_id", "actor_username", "about")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return Counter(
        {
            (r["day"], r["action"], r["actor_id"], r["actor_username"], r["about"]): r["n"]
            for r in rows
        }
    )


def _summary_full() -> Counter[tuple[Any, ...]]:
    return Counter(
        {
            (r.day, r.action, r.actor_id, r.actor_username, r.model_id): r.count
            for r in ChangeDay.objects.all()
        }
    )


def _assert_tables_equal_the_trail() -> None:
    direct = _direct_full()
    assert _summary_full() == direct
    kinds, actors, models = Counter(), Counter(), Counter()  # type: ignore[var-annotated]
    for (day, action, actor_id, username, about), n in direct.items():
        kinds[(day, changes.prefix(action))] += n
        actors[(day, actor_id, username)] += n
        models[(day, about)] += n
    assert Counter({(r.day, r.kind): r.count for r in KindDay.objects.all()}) == kinds
    assert (
        Counter({(r.day, r.actor_id, r.actor_username): r.count for r in ActorDay.objects.all()})
        == actors
    )
    assert Counter({(r.day, r.model_id): r.count for r in ModelDay.objects.all()}) == models
    uploads = ModelDay.objects.aggregate(n=Sum("versions_uploaded"))["n"] or 0
    assert uploads == AuditEvent.objects.filter(action="version.uploaded").count()


def _watermark() -> int:
    return ChangeCursor.objects.get(pk=CURSOR).watermark


def _newest() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_the_day_tables_equal_plain_counts_over_the_audit_table(history, people, alices_model):
    assert rollup.fold() == AuditEvent.objects.count() > 0
    _assert_tables_equal_the_trail()
    assert _watermark() == _newest()
    assert ChangeDay.objects.filter(model_id=alices_model.pk).exists()


def test_folding_again_counts_nothing_twice(history, people, alices_model):
    rollup.fold()
    before = _summary_full()
    assert rollup.fold() == 0
    assert _summary_full() == before
    share_and_revoke(alices_model, people.alice, 2)
    assert rollup.fold() == 4
    _assert_tables_equal_the_trail()


def test_small_batches_add_up_to_the_same_tables(history, people, alices_model):
    total = AuditEvent.objects.count()
    folded = 0
    while done := rollup.fold_batch(batch=3)[0]:
        folded += done
    assert folded == total
    _assert_tables_equal_the_trail()


def test_the_page_counts_changes_made_a_moment_ago_without_the_beat(
    client, people, history, alices_model
):
    rows = {r.model.slug: r for r in page(client, people.carl).context["found"].by_model if r.model}
    shared = rows[alices_model.slug].counts["permission_changes"]
    share_and_revoke(alices_model, people.alice, 1)  # not folded by anyone yet
    rows = {r.model.slug: r for r in page(client, people.carl).context["found"].by_model if r.model}
    assert rows[alices_model.slug].counts["permission_changes"] == shared + 2
    assert _watermark() == _newest()


def test_the_beat_folds_the_trail_every_minute(history):
    entry = settings.CELERY_BEAT_SCHEDULE["fold-changes"]
    assert entry["task"] == tasks.fold_changes.name == "analytics.fold_changes"
    assert entry["schedule"] == 60.0
    assert tasks.fold_changes() == AuditEvent.objects.count()
    assert tasks.fold_changes() == 0


def _direct_for(user) -> tuple[Counter[str | None], Counter[str]]:  # type: ignore[no-untyped-def]
    """The per-model and per-actor counts of the last 90 days that the model history rule
    gives ``user``, counted over the audit table (the page's rule before the day tables)."""
    since = timezone.now() - timedelta(days=90)
    events = AuditEvent.objects.filter(action__in=changes.CHANGE_ACTIONS, occurred_at__gte=since)
    if not changes.reads_whole_trail(user):
        models = visible_to(user, RegisteredModel.objects.all())
        about = Q(pk__in=[])
        for object_type, rows, path in changes._sources():
            keys = (
                visible_to(user, rows)
                .filter(**{f"{path}__in": models.values("pk")})
                .annotate(key=Cast("pk", CharField()))
                .values("key")
            )
            about |= Q(object_type=object_type, object_id__in=keys)
        events = events.filter(about)
    slugs = dict(RegisteredModel.objects.values_list("pk", "slug"))
    per_model = Counter(
        slugs.get(about) if about is not None else None
        for about in events.annotate(about=changes.model_of_event()).values_list("about", flat=True)
    )
    per_actor = Counter(
        name or "system" for name in events.values_list("actor_username", flat=True)
    )
    return per_model, per_actor


@pytest.mark.parametrize("role", ["alice", "bob", "ivan", "rita", "carl", "admin"])
def test_each_role_counts_what_its_model_history_shows(client, api, people, history, role):
    user = getattr(people, role)
    client_of_api = api(user)  # before counting: making its token is itself a change
    per_model, per_actor = _direct_for(user)
    found = page(client, user).context["found"]
    assert {r.model.slug if r.model else None: r.total for r in found.by_model} == per_model
    assert dict(found.by_actor) == per_actor
    assert found.total == sum(per_model.values())
    body = client_of_api.get(API).json()
    assert {row["model"]: row["changes"] for row in body["by_model"]} == per_model
    if role == "ivan":
        # Model operations see the loan model's submitted version only: the draft's upload and
        # validation, counted under the model in the day tables, are taken off.
        assert (
            ChangeDay.objects.filter(action="version.uploaded").aggregate(n=Sum("count"))["n"] == 3
        )
        assert found.by_model[0].counts["versions_uploaded"] == 1
        narrowed = page(client, user, kind="version.", actor="alice").context["found"]
        assert narrowed.total == sum(n for _, kind, n in narrowed.by_bucket if kind == "version.")
        assert narrowed.by_model[0].counts["versions_uploaded"] == 1


def test_weeks_add_up_the_days(client, people, history):
    days = page(client, people.carl, bucket="day").context["found"]
    weeks = page(client, people.carl, bucket="week").context["found"]
    assert weeks.total == days.total
    assert all(when.weekday() == 0 for when, _, _ in weeks.by_bucket)


def test_a_scoped_page_asks_as_many_queries_at_two_sizes(client, people, history, alices_model):
    def counted() -> int:
        client.force_login(people.ivan)
        client.get(URL)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    before = counted()
    share_and_revoke(alices_model, people.alice, 20)
    assert counted() == before


def _record_changes(n: int) -> None:
    for i in range(n):
        audit.record(
            None,
            AuditAction.MODEL_UPDATED,
            object_type="registry.registeredmodel",
            object_id=str(i),
        )


@pytest.mark.django_db(transaction=True)
def test_overlapping_folds_count_every_event_once():
    """Two folds at once: the second waits for the first's lock on the cursor, then finds the
    watermark moved and folds only what is left; without the lock both would count the batch."""
    _record_changes(30)
    inside, second_started = threading.Event(), threading.Event()
    original = rollup._add

    def slow_add(rows):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "first":
            inside.set()
            second_started.wait(10)
            # Gives the second fold time to reach the lock (it must wait there, not pass).
            threading.Event().wait(0.3)
        original(rows)

    def run(name: str) -> int:
        threading.current_thread().name = name
        try:
            if name == "second":
                inside.wait(10)
                second_started.set()
            return rollup.fold_batch(batch=20)[0]
        finally:
            connection.close()

    with mock.patch.object(rollup, "_add", slow_add), ThreadPoolExecutor(2) as pool:
        folded = list(pool.map(run, ["first", "second"]))

    # The first's batch, then the rest: the second read the watermark the first had moved.
    assert folded == [20, 10]
    assert ChangeDay.objects.aggregate(n=Sum("count"))["n"] == 30
    assert _watermark() == _newest()


@pytest.mark.django_db(transaction=True)
def test_an_event_recorded_during_a_fold_is_counted_by_the_next_one():
    _record_changes(5)
    recorder = ThreadPoolExecutor(1)
    original = rollup._add
    pending: list[Any] = []

    def add_while_recording(rows):  # type: ignore[no-untyped-def]
        def record_one() -> None:
            try:
                _record_changes(1)
            finally:
                connection.close()

        # Not waited for: on SQLite it waits for this fold's write lock.
        pending.append(recorder.submit(record_one))
        original(rows)

    with mock.patch.object(rollup, "_add", add_while_recording):
        assert rollup.fold_batch()[0] == 5
    pending[0].result(timeout=30)
    recorder.shutdown()
    assert rollup.fold() == 1
    assert ChangeDay.objects.aggregate(n=Sum("count"))["n"] == 6 == AuditEvent.objects.count()


def test_a_period_before_the_trail_began_counts_nothing(client, people, history):
    rollup.fold()
    found = page(client, people.carl, **{"from": "2020-01-01", "to": "2020-01-31"}).context["found"]
    assert found.total == 0 and found.by_model == [] and found.by_actor == []
