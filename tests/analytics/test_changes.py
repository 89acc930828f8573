"""Change analytics: counts equal plain counts over the audit table, every role sees only the
models it may see, the query count does not grow with the events, and bad input is refused."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.analytics import changes
from apps.audit.models import AuditEvent
from apps.registry import services as registry
from tests.analytics.conftest import clock, share_and_revoke
from tests.reviews.conftest import new_version

pytestmark = pytest.mark.django_db

URL = "/audit/analytics/"
API = "/api/v1/analytics/changes/"


def page(client, user, **params):  # type: ignore[no-untyped-def]
    client.force_login(user)
    return client.get(URL, params)


def test_counts_equal_plain_counts_over_the_audit_table(client, people, history, alices_model):
    answer = page(client, people.carl)
    assert answer.status_code == 200
    found = answer.context["found"]
    today = timezone.now()
    in_period = AuditEvent.objects.filter(occurred_at__gte=today - timedelta(days=90))
    changed = in_period.exclude(action__startswith="auth.").exclude(
        action__startswith="job.", object_type="jobs.job"
    )
    changed = changed.exclude(action__startswith="permission.").exclude(action__startswith="audit.")
    assert found.total == changed.count() > 0
    by_kind: dict[str, int] = {}
    for _, kind, n in found.by_bucket:
        by_kind[kind] = by_kind.get(kind, 0) + n
    assert by_kind["version."] == in_period.filter(action__startswith="version.").count() == 3
    assert by_kind["model."] == in_period.filter(action__startswith="model.").count()
    rows = {row.model.slug: row for row in found.by_model if row.model}
    loan = rows[alices_model.slug]
    version_ids = [str(v.pk) for v in history["loan"]]
    assert (
        loan.counts["versions_uploaded"]
        == 2
        == (
            AuditEvent.objects.filter(
                action="version.uploaded",
                object_type="registry.modelversion",
                object_id__in=version_ids,
            ).count()
        )
    )
    assert (
        loan.counts["permission_changes"]
        == 4
        == (
            AuditEvent.objects.filter(
                action__in=["model.shared", "model.unshared"], object_id=str(alices_model.pk)
            ).count()
        )
    )
    about_loan = (
        AuditEvent.objects.filter(
            object_type="registry.registeredmodel", object_id=str(alices_model.pk)
        ).count()
        + AuditEvent.objects.filter(object_type="registry.modelversion", object_id__in=version_ids)
        .exclude(action__startswith="job.")
        .count()
    )
    assert loan.total == about_loan
    assert (
        dict(found.by_actor)["alice"]
        == in_period.filter(actor_username="alice", action__in=changes.CHANGE_ACTIONS).count()
    )
    assert [slug for slug, _, _ in found.by_team] == ["retail-credit", "fraud"]
    assert 'data-plotly="changes-figure"' in answer.content.decode()


def test_each_role_sees_only_the_models_it_may_see(client, api, people, history):
    def slugs(user):  # type: ignore[no-untyped-def]
        rows = page(client, user).context["found"].by_model
        return {row.model.slug if row.model else None for row in rows}

    assert slugs(people.alice) == {"loan-default"}
    assert slugs(people.bob) == {"card-fraud"}
    # Model operations see the loan model from its review request, and only the submitted
    # version: the draft's upload is not theirs to count.
    ivan = page(client, people.ivan).context["found"]
    assert {row.model.slug for row in ivan.by_model} == {"loan-default"}
    assert ivan.by_model[0].counts["versions_uploaded"] == 1
    assert slugs(people.rita) == {"loan-default", "card-fraud"}
    assert {"loan-default", "card-fraud"} <= slugs(people.carl)
    assert {"loan-default", "card-fraud"} <= slugs(people.admin)
    # Bob never learns of alice's model, not even by naming it.
    answer = page(client, people.bob, model="loan-default")
    assert answer.status_code == 400
    assert "No model “loan-default” is visible to you" in answer.content.decode()
    body = api(people.bob).get(API).json()
    assert {row["model"] for row in body["by_model"]} == {"card-fraud"}
    assert "alice" not in {row["actor"] for row in body["by_actor"]}
    assert api(people.bob).get(API, {"model": "loan-default"}).status_code == 400


def test_filters_narrow_to_a_model_a_team_an_actor_and_a_kind(client, people, history):
    found = page(client, people.carl, team="fraud").context["found"]
    assert {row.model.slug for row in found.by_model} == {"card-fraud"}
    found = page(client, people.carl, actor="bob", kind="model.").context["found"]
    assert (
        found.total
        == 3
        == AuditEvent.objects.filter(actor_username="bob", action__startswith="model.").count()
    )
    assert {kind for _, kind, _ in found.by_bucket} == {"model."}


def test_the_query_count_does_not_grow_with_the_events(client, people, history, alices_model):
    def counted(user) -> int:  # type: ignore[no-untyped-def]
        client.force_login(user)
        client.get(URL)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    before = {user.username: counted(user) for user in (people.carl, people.alice)}
    share_and_revoke(alices_model, people.alice, 15)
    assert changes.MIN_EVENTS <= 34  # alice's year is now looked at too: the same queries
    assert {user.username: counted(user) for user in (people.carl, people.alice)} == before
    share_and_revoke(alices_model, people.alice, 30)
    assert {user.username: counted(user) for user in (people.carl, people.alice)} == before


def test_a_period_without_changes_shows_a_sentence_not_an_empty_chart(client, people, history):
    answer = page(client, people.carl, **{"from": "2020-01-01", "to": "2020-03-31"})
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "No change was recorded between 1 Jan 2020 and 31 Mar 2020" in text
    assert "data-plotly" not in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2026-05-01", "to": "2026-04-01"}, "“To” must be on or after “From”."),
        ({"from": "yesterday"}, "Enter a valid date."),
        ({"from": "0001-01-01", "to": "0001-02-01"}, "Choose a date between"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "Choose a period of at most"),
        ({"kind": "payroll."}, "Select a valid choice."),
        ({"actor": "nobody-here"}, "No person is called “nobody-here”."),
        ({"actor": "bad\x00name"}, "Enter a valid username"),
        ({"team": "no-such-team"}, "No team “no-such-team” owns a model visible to you"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, api, people, history, params, message):
    answer = page(client, people.carl, **params)
    assert answer.status_code == 400
    assert message in answer.content.decode().replace("&#x27;", "'")
    refused = api(people.carl).get(API, params)
    assert refused.status_code == 400
    assert message in refused.json()["detail"]
    download = page(client, people.carl, format="csv", **params)
    assert download.status_code == 400
    assert "Nothing exported" in download.content.decode()


def test_the_per_model_table_downloads_as_csv_with_formulas_defused(client, people, files):
    model = registry.register_model(
        actor=people.alice,
        name="=HYPERLINK(1)",
        use_case="x",
        team=people.retail,
        risk_tier="low",
        risk_owner=people.rita,
    )
    new_version(model, people.alice, files)
    answer = page(client, people.alice, format="csv")
    assert answer.status_code == 200
    assert answer["Content-Disposition"].startswith('attachment; filename="change-analytics-')
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0][:4] == ["model", "team", "changes", "Versions uploaded"]
    assert rows[1][0] == "'=HYPERLINK(1)" and rows[1][3] == "1"


def test_people_far_above_their_usual_rate_are_highlighted(
    client, people, alices_model, bobs_model
):
    now = timezone.now()
    a_year_and_more_ago = now - timedelta(days=500)
    with clock(a_year_and_more_ago):
        share_and_revoke(alices_model, people.alice, 3)  # 6 changes in her year before
        share_and_revoke(bobs_model, people.bob, 5)  # 10 in his
    share_and_revoke(alices_model, people.alice, 11)  # 23 now: usual 6, 3.8 times
    share_and_revoke(bobs_model, people.bob, 11)  # 23 now: usual 10, 2.3 times
    first = timezone.localdate() - timedelta(days=364)
    params = {"from": first.isoformat(), "to": timezone.localdate().isoformat()}
    found = page(client, people.carl, **params).context["found"]
    flagged = {u.actor: u for u in found.unusual}
    assert set(flagged) == {"alice"}
    assert (
        flagged["alice"].count
        == 23
        == (  # 22 shares and revokes, and the registration
            AuditEvent.objects.filter(
                actor_username="alice", occurred_at__gt=now - timedelta(days=300)
            ).count()
        )
    )
    assert flagged["alice"].usual == pytest.approx(6.0, abs=0.05)
    # Bob's team-mates see nothing of alice, so not her either.
    assert page(client, people.bob, **params).context["found"].unusual == []
    text = page(client, people.carl, **params).content.decode()
    assert "at least 20 changes" in text and "3 times their usual" in text
