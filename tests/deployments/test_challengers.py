"""Challengers: shadow and canary versions beside the live one, changed, promoted and stopped
with a reason, under the rules of any deployment."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest
import skops.io
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.deployments import services, serving
from apps.deployments.models import (
    Deployment,
    Feedback,
    Placement,
    PredictionLog,
    RefusedRequests,
)
from apps.reviews import services as reviews
from tests.deployments.conftest import approved_version, deploy_now
from tests.deployments.test_serving import call, holdout_rows
from tests.validation.conftest import upload, validate_now

pytestmark = pytest.mark.django_db

STAGING = {"model": "loan-default", "environment": "staging"}


@pytest.fixture(autouse=True)
def _switches_seen_at_once(settings):
    settings.PORTAL_SERVING_REFRESH_SECONDS = 0.0


def challenge(people, version, mode: str, traffic: int | None = None) -> Deployment:
    deployment = services.request_deployment(
        version.pk, "staging", actor=people.ivan, mode=mode, traffic=traffic
    )
    deploy_now(deployment)
    assert deployment.status == Deployment.Status.LIVE, deployment.message
    return deployment


def estimator(artifact: bytes):  # type: ignore[no-untyped-def]
    return skops.io.loads(artifact, trusted=skops.io.get_untrusted_types(data=artifact))


def logged(request_id: str) -> dict[int, list[int]]:
    serving.LOG.flush()
    return {
        log.deployment.version.number: log.outputs["predictions"]
        for log in PredictionLog.objects.filter(request_id=request_id).select_related(
            "deployment__version"
        )
    }


def test_the_rules_of_a_challenger_are_refused_with_a_message_naming_them(
    people, alices_model, models, key, v2
):
    def refused(match: str, **asked) -> None:  # type: ignore[no-untyped-def]
        with pytest.raises(ValidationError, match=match):
            services.request_deployment(
                asked.pop("version", v2).pk,
                asked.pop("environment", "staging"),
                actor=people.ivan,
                **asked,
            )

    for share in (0, 51, -5, True):
        refused("A canary answers 1 to 50 percent", mode="canary", traffic=share)
    refused("A canary answers 1 to 50 percent", mode="canary")
    refused("Only a canary has a share", mode="shadow", traffic=10)
    refused("Only a canary has a share", traffic=10)
    refused("is not a mode", mode="half")
    refused("nothing to challenge", mode="shadow", environment="production")
    refused("already live in Staging", mode="shadow", version=alices_model.versions.get(number=1))
    challenge(people, v2, "shadow")
    v3 = approved_version(people, alices_model, models.logistic, models.holdout)
    refused("already has a challenger", mode="canary", traffic=10, version=v3)
    services.stop_challenger(alices_model.pk, "staging", actor=people.ivan, reason="Next")
    in_review = upload(alices_model, people.alice, models.logistic, holdout=models.holdout)
    validate_now(in_review)
    reviews.request_review(in_review.pk, actor=people.alice, summary="Ready")
    refused(
        "Only approved versions deploy; version 4 is in review", mode="shadow", version=in_review
    )
    # A challenger may deploy only where its version may: production wants staging first.
    deploy_now(services.request_deployment(v2.pk, "staging", actor=people.ivan))
    deploy_now(services.request_deployment(v2.pk, "production", actor=people.ivan))
    refused("has not been live in Staging", mode="shadow", version=v3, environment="production")
    # And nobody starts the challenger they uploaded.
    with pytest.raises(PermissionDenied):
        services.request_deployment(v3.pk, "staging", actor=people.alice, mode="shadow")


def test_a_shadow_scores_every_request_but_only_the_live_version_answers(
    client, people, models, key, v2
):
    shadow = challenge(people, v2, "shadow")
    rows = holdout_rows(models, 20)
    answer = call(client, key, rows.to_dict(orient="records"))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    live_model, shadow_model = estimator(models.logistic), estimator(models.boosting)
    assert body["version"] == 1
    assert body["predictions"] == live_model.predict(rows).tolist()
    assert np.allclose(body["probabilities"], live_model.predict_proba(rows), atol=1e-6)
    # The shadow's own answers are logged under its own deployment, for the same request.
    assert logged(body["request_id"]) == {
        1: live_model.predict(rows).tolist(),
        2: shadow_model.predict(rows).tolist(),
    }
    assert shadow_model.predict(rows).tolist() != body["predictions"]  # they do differ
    # Feedback reaches both: each one's performance is measured on the same outcomes.
    outcomes = [int(x) for x in live_model.predict(rows)]
    sent = client.post(
        "/serve/loan-default/staging/feedback",
        {"request_id": body["request_id"], "outcomes": outcomes},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert sent.status_code == 200, sent.content
    assert sorted(
        Feedback.objects.filter(request_id=body["request_id"]).values_list(
            "deployment_id", flat=True
        )
    ) == sorted([shadow.pk, Placement.objects.get().deployment_id])
    again = client.post(
        "/serve/loan-default/staging/feedback",
        {"request_id": body["request_id"], "outcomes": outcomes},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert again.status_code == 409


def test_a_challenger_that_fails_never_changes_the_answer_and_its_errors_are_counted(
    client, people, models, key, v2
):
    shadow = challenge(people, v2, "shadow")
    live = serving.MODELS.get("loan-default", "staging")
    assert live is not None and live.challenger is not None
    scorer = live.challenger.score  # scikit-learn's or the ONNX copy's: failing is the same

    class FailsOnLongTenure:  # the challenger's own model, failing on some rows
        path = scorer.path

        def __call__(self, columns):  # type: ignore[no-untyped-def]
            if any(tenure > 5 for tenure in columns["tenure"]):
                raise ValueError("tenure out of the range this model was built for")
            return scorer(columns)

    object.__setattr__(live.challenger, "score", FailsOnLongTenure())  # a frozen dataclass
    answers = [
        call(client, key, [{"income": 50.0, "debt": 1.0, "tenure": tenure}])
        for tenure in (1, 9, 2, 12)
    ]
    assert [a.status_code for a in answers] == [200] * 4
    assert {a.json()["version"] for a in answers} == {1}
    # As the shadow's thread scores them: gathered into one batch, which fails as a whole,
    # then each alone, so that exactly the failing requests are counted.
    serving.score_shadows(
        [
            serving.ShadowWork(
                live.challenger,
                None,
                {"income": [50.0], "debt": [1.0], "tenure": [tenure]},
                f"batched-{tenure}",
                timezone.now(),
            )
            for tenure in (3, 10, 4, 11)
        ]
    )
    serving.LOG.flush()
    scored = {answers[0].json()["request_id"], answers[2].json()["request_id"]}
    assert set(
        PredictionLog.objects.filter(deployment=shadow).values_list("request_id", flat=True)
    ) == {*scored, "batched-3", "batched-4"}
    errors = RefusedRequests.objects.filter(deployment=shadow, status=500)
    assert sum(errors.values_list("count", flat=True)) == 4


def test_a_batch_of_shadow_work_logs_each_request_its_own_answers(people, models, key, v2):
    shadow = challenge(people, v2, "shadow")
    live = serving.MODELS.get("loan-default", "staging")
    assert live is not None and live.challenger is not None
    rows = holdout_rows(models, 12)
    sizes = [1, 5, 2, 4]
    starts = [0, 1, 6, 8]
    serving.score_shadows(
        [
            serving.ShadowWork(
                live.challenger,
                None,
                rows.iloc[start : start + size].to_dict(orient="list"),
                f"request-{i}",
                timezone.now(),
            )
            for i, (start, size) in enumerate(zip(starts, sizes, strict=True))
        ]
    )
    serving.LOG.flush()
    shadow_model = estimator(models.boosting)
    for i, (start, size) in enumerate(zip(starts, sizes, strict=True)):
        log = PredictionLog.objects.get(deployment=shadow, request_id=f"request-{i}")
        part = rows.iloc[start : start + size]
        assert log.rows == size and log.inputs == part.to_dict(orient="list")
        assert log.outputs["predictions"] == shadow_model.predict(part).tolist()
        assert np.allclose(
            log.outputs["probabilities"], shadow_model.predict_proba(part), atol=1e-6
        )


def test_canary_routing_is_sticky_per_key_and_keeps_its_share():
    keys = [uuid.uuid4().hex for _ in range(10_000)]
    for share in (10, 37, 50):
        routed = [serving.routes_to_challenger("loan-default", k, share) for k in keys]
        assert abs(100 * sum(routed) / len(keys) - share) <= 2, share
    at_10 = {k for k in keys if serving.routes_to_challenger("loan-default", k, 10)}
    at_20 = {k for k in keys if serving.routes_to_challenger("loan-default", k, 20)}
    assert at_10 < at_20  # raising the share keeps everyone who was in the canary in it
    for k in keys[:100]:
        assert len({serving.routes_to_challenger("loan-default", k, 25) for _ in range(5)}) == 1
    random.seed(1)
    coin = [serving.routes_to_challenger("loan-default", None, 30) for _ in range(10_000)]
    assert abs(100 * sum(coin) / len(coin) - 30) <= 2


def test_a_canary_answers_its_share_and_says_which_version_answered(
    client, people, models, key, v2
):
    canary = challenge(people, v2, "canary", traffic=50)
    row = [{"income": 50.0, "debt": 12.0, "tenure": 3}]
    by_key = {}
    for customer in (f"customer-{i}" for i in range(40)):
        seen = {call(client, key, row, HTTP_X_ROUTING_KEY=customer).json()["version"] for _ in "ab"}
        assert len(seen) == 1, customer  # the same customer always reaches the same version
        by_key[customer] = seen.pop()
        assert by_key[customer] == (
            2 if serving.routes_to_challenger("loan-default", customer, 50) else 1
        )
    assert set(by_key.values()) == {1, 2}
    serving.LOG.flush()
    assert PredictionLog.objects.filter(deployment=canary).count() == 2 * sum(
        v == 2 for v in by_key.values()
    )
    # The share changes with a reason, seen by serving at once, and audited.
    services.set_traffic(
        canary.model_id, "staging", 1, actor=people.ivan, reason="Calls are complaining"
    )
    canary.refresh_from_db()
    assert canary.traffic == 1
    event = AuditEvent.objects.get(action="challenger.traffic_changed")
    assert (event.before, event.after["traffic"], event.after["reason"]) == (
        {"traffic": 50},
        1,
        "Calls are complaining",
    )
    for share in (0, 51):
        with pytest.raises(ValidationError, match="1 to 50 percent"):
            services.set_traffic(canary.model_id, "staging", share, actor=people.ivan, reason="x")
    with pytest.raises(ValidationError, match="Say why"):
        services.set_traffic(canary.model_id, "staging", 5, actor=people.ivan, reason=" ")


def test_promotion_makes_the_challenger_live_under_the_deployment_rules(
    client, people, alices_model, key, v2
):
    shadow = challenge(people, v2, "shadow")
    with pytest.raises(PermissionDenied):  # alice uploaded v2
        services.promote_challenger(alices_model.pk, "staging", actor=people.alice, reason="x")
    promoted = services.promote_challenger(
        alices_model.pk, "staging", actor=people.ivan, reason="Better AUC on live traffic"
    )
    shadow.refresh_from_db()
    placement = Placement.objects.get()
    assert (promoted.kind, promoted.mode, promoted.status) == ("promotion", "champion", "live")
    assert shadow.status == Deployment.Status.PROMOTED and shadow.live_until is not None
    assert placement.deployment == promoted and placement.challenger is None
    assert promoted.replaced is not None and promoted.replaced.version.number == 1
    answer = call(client, key, [{"income": 50.0, "debt": 12.0, "tenure": 3}]).json()
    assert answer["version"] == 2
    event = AuditEvent.objects.get(action="challenger.promoted")
    assert event.actor == people.ivan and event.after["reason"] == "Better AUC on live traffic"
    # A rollback goes back to the version the challenger replaced.
    services.rollback(alices_model.pk, "staging", actor=people.ivan)
    assert Placement.objects.get().deployment.version.number == 1
    with pytest.raises(ValidationError, match="No challenger of Loan default runs"):
        services.stop_challenger(alices_model.pk, "staging", actor=people.ivan, reason="x")


def test_stopping_a_challenger_or_replacing_the_live_version_ends_it_and_says_why(
    client, people, alices_model, models, key, v2
):
    shadow = challenge(people, v2, "shadow")
    services.stop_challenger(alices_model.pk, "staging", actor=people.ivan, reason="Enough data")
    shadow.refresh_from_db()
    assert shadow.status == Deployment.Status.STOPPED and shadow.ended_by == people.ivan
    answer = call(client, key, [{"income": 50.0, "debt": 12.0, "tenure": 3}]).json()
    assert logged(answer["request_id"]).keys() == {1}  # the stopped shadow scores no more
    again = challenge(people, v2, "canary", traffic=5)
    v3 = approved_version(people, alices_model, models.logistic, models.holdout)
    deploy_now(services.request_deployment(v3.pk, "staging", actor=people.ivan))
    again.refresh_from_db()
    assert again.status == Deployment.Status.STOPPED
    assert "replaced by version 3" in again.message
    assert list(
        AuditEvent.objects.filter(action__startswith="challenger.")
        .order_by("id")
        .values_list("action", "after__reason")
    ) == [
        ("challenger.started", None),
        ("challenger.stopped", "Enough data"),
        ("challenger.started", None),
        (
            "challenger.stopped",
            "The live version it challenged was replaced by version 3.",
        ),
    ]
    challenge(people, v2, "shadow")
    with pytest.raises(ValidationError, match="runs as a challenger"):
        services.retire(v2.pk, actor=people.ivan)


def test_the_challenger_endpoints_for_every_role(people, api, alices_model, key, v2):
    ivan = api(people.ivan)
    started = ivan.post(
        "/api/v1/deployments/",
        {**STAGING, "version": 2, "mode": "canary", "traffic": 10},
        format="json",
    )
    assert started.status_code == 202, started.content
    assert (started.json()["mode"], started.json()["traffic"]) == ("canary", 10)
    deploy_now(Deployment.objects.get(pk=started.json()["id"]))
    bad = ivan.post(
        "/api/v1/deployments/",
        {**STAGING, "version": 1, "mode": "canary", "traffic": 80},
        format="json",
    )
    assert bad.status_code == 400 and "1 to 50 percent" in str(bad.json())
    change = {**STAGING, "traffic": 20, "reason": "Looks fine"}
    for who, status in [("alice", 403), ("rita", 403), ("carl", 403), ("bob", 404)]:
        for path in ("traffic", "promote", "stop"):
            response = api(getattr(people, who)).post(
                f"/api/v1/deployments/challenger/{path}/", change, format="json"
            )
            assert response.status_code == status, (who, path, response.content)
    no_reason = ivan.post(
        "/api/v1/deployments/challenger/traffic/", {**STAGING, "traffic": 20}, format="json"
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    changed = ivan.post("/api/v1/deployments/challenger/traffic/", change, format="json")
    assert changed.status_code == 200 and changed.json()["traffic"] == 20
    stopped = ivan.post(
        "/api/v1/deployments/challenger/stop/", {**STAGING, "reason": "Done"}, format="json"
    )
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    none_left = ivan.post(
        "/api/v1/deployments/challenger/promote/", {**STAGING, "reason": "Go"}, format="json"
    )
    assert none_left.status_code == 400 and "No challenger" in str(none_left.json())


def test_the_comparison_equals_the_figures_of_the_raw_logs(client, people, models, key, v2):
    from apps.monitoring import comparison, rollup

    shadow = challenge(people, v2, "shadow")
    rows = holdout_rows(models, 60)
    for start in range(0, 60, 6):  # ten requests of six rows
        answer = call(client, key, rows.iloc[start : start + 6].to_dict(orient="records"))
        assert answer.status_code == 200
    serving.LOG.flush()
    rollup.fold()
    champion = Placement.objects.get().deployment
    compared = comparison.compare(shadow)
    assert compared is not None and compared.champion.deployment == champion
    logs = {
        d.pk: list(PredictionLog.objects.filter(deployment=d).order_by("request_id"))
        for d in (champion, shadow)
    }
    for side in (compared.champion, compared.challenger):
        raw = logs[side.deployment.pk]
        assert side.figures["requests"] == len(raw) == 10
        assert side.figures["rows"] == sum(log.rows for log in raw) == 60
        assert side.figures["server_errors"] == 0
    pairs = [
        (x, y)
        for a, b in zip(logs[champion.pk], logs[shadow.pk], strict=True)
        for x, y in zip(a.outputs["predictions"], b.outputs["predictions"], strict=True)
    ]
    same = sum(x == y for x, y in pairs) / len(pairs)
    assert compared.agreement == {"requests": 10, "rows": 60, "task": "binary", "share": same}
    assert 0 < same < 1  # logistic and boosting disagree on some of these rows
    # Each score histogram is the share of its version's probabilities in 100 bins.
    for side, name in ((champion, "Live version"), (shadow, "Shadow challenger")):
        scores = [p[1] for log in logs[side.pk] for p in log.outputs["probabilities"]]
        expected = np.bincount(np.minimum((np.array(scores) * 100).astype(int), 99), minlength=100)
        assert np.allclose(compared.score_histograms[name], expected / len(scores))
    client.force_login(people.ivan)
    for deployment in (shadow, champion):
        shown = client.get(f"/monitoring/deployments/{deployment.pk}/").content.decode()
        assert "Live version and challenger" in shown
        assert f"{round(100 * same)} % of 60 rows got the same prediction" in shown


def test_the_version_page_starts_changes_and_stops_a_challenger_with_a_reason(
    client, people, alices_model, key, v2
):
    page = "/models/loan-default/versions/2/"
    client.force_login(people.alice)
    assert "Start challenger" not in client.get(page).content.decode()
    client.force_login(people.ivan)
    shown = client.get(page).content.decode()
    assert "Start challenger" in shown and 'name="traffic"' in shown
    started = client.post(
        "/models/loan-default/versions/2/deploy/",
        {"environment": "staging", "mode": "canary", "traffic": "60"},
        follow=True,
    )
    assert "A canary answers 1 to 50 percent of the requests, not 60." in started.content.decode()
    client.post(
        "/models/loan-default/versions/2/deploy/",
        {"environment": "staging", "mode": "canary", "traffic": "10"},
    )
    deploy_now(Deployment.objects.get(mode="canary"))
    shown = client.get(page).content.decode()
    assert "Canary challenger, 10 % of requests" in shown and "Promote version 2" in shown
    url = "/models/loan-default/environments/staging/challenger/"
    unexplained = client.post(url + "traffic/", {"traffic": "20"}, follow=True)
    assert "Give the canary&#x27;s share (1 to 50 percent) and say why." in (
        unexplained.content.decode()
    )
    for who, status in (("alice", 403), ("rita", 403), ("carl", 403), ("bob", 404)):
        client.force_login(getattr(people, who))
        answered = client.post(url + "stop/", {"reason": "Not mine to stop"})
        assert answered.status_code == status, who
    assert Placement.objects.get().challenger is not None
    client.force_login(people.alice)
    running = client.get("/deployments/").content.decode()
    running = running[running.index('id="challengers"') : running.index("What was live")]
    assert "canary challenger, 10 % of requests" in running and "Promote" not in running
    client.force_login(people.ivan)
    running = client.get("/deployments/").content.decode()
    running = running[running.index('id="challengers"') : running.index("What was live")]
    assert "Promote version 2" in running and "Change share" in running
    client.post(url + "traffic/", {"traffic": "20", "reason": "No complaints in a week"})
    client.post(url + "stop/", {"reason": "Seen enough"})
    history = client.get("/deployments/").content.decode()
    assert "canary challenger, 20 % of requests" in history
    assert "10 % → 20 % by ivan: No complaints in a week" in history
    assert "Seen enough" in history


def test_the_deployments_page_starts_a_challenger_too(client, people, alices_model, key, v2):
    client.force_login(people.alice)
    assert "Start a challenger" not in client.get("/deployments/").content.decode()
    refused = client.post(
        "/deployments/challengers/start/",
        {"model": "loan-default", "version": 2, "environment": "staging", "mode": "shadow"},
    )
    assert refused.status_code == 403
    client.force_login(people.ivan)
    assert 'aria-label="Start a challenger"' in client.get("/deployments/").content.decode()
    unknown = client.post(
        "/deployments/challengers/start/",
        {"model": "loan-default", "version": 9, "environment": "staging", "mode": "shadow"},
        follow=True,
    )
    assert "There is no version 9 of “loan-default” that you can see." in unknown.content.decode()
    started = client.post(
        "/deployments/challengers/start/",
        {
            "model": "loan-default",
            "version": 2,
            "environment": "staging",
            "mode": "canary",
            "traffic": 15,
        },
        follow=True,
    )
    assert "queued to run beside the live version in staging as a canary" in (
        started.content.decode()
    )
    deploy_now(Deployment.objects.get(mode="canary"))
    assert Placement.objects.get().challenger.traffic == 15
    client.force_login(people.bob)
    hidden = client.post(
        "/deployments/challengers/start/",
        {"model": "loan-default", "version": 2, "environment": "staging", "mode": "shadow"},
        follow=True,
    )
    assert "There is no version 2 of “loan-default” that you can see." in hidden.content.decode()
