"""MLflow's webhook deliveries at the portal's endpoint: signature, timestamp, replay, and what an
accepted delivery starts. Deliveries here are signed by the test as MLflow 3.17.2 signs them
(mlflow/webhooks/delivery.py); test_automatic.py has MLflow itself send them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.audit_actions import AuditAction
from apps.integrations import automatic
from apps.integrations import services as integrations
from apps.integrations.models import MlflowConnection, MlflowDelivery, MlflowImport, MlflowLink
from tests.integrations.conftest import holdout_file, make_connection

pytestmark = pytest.mark.django_db

SECRET = "whsec-" + "k" * 32


def mlflow_signature(secret: str, delivery_id: str, timestamp: str, payload: str) -> str:
    """MLflow's _generate_hmac_signature, written out."""
    signed = f"{delivery_id}.{timestamp}.{payload}".encode()
    return (
        "v1,"
        + base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()
    )


def payload(name: str = "credit-pd", version: str = "3", *, alias: str = "") -> str:
    if alias:
        entity, data = "model_version_alias", {"name": name, "alias": alias, "version": version}
    else:
        entity = "model_version"
        data = {"name": name, "version": version, "source": "models:/m-0", "run_id": "", "tags": {}}
    return json.dumps(
        {"entity": entity, "action": "created", "timestamp": "2026-01-01T00:00:00", "data": data}
    )


@pytest.fixture
def hooked(people, media_root) -> MlflowConnection:
    connection = make_connection(people, "http://127.0.0.1:9", password="unused")
    return integrations.save_connection(people.admin, connection, new_webhook_secret=SECRET)


def deliver(client, connection, body: str, *, secret: str = SECRET, delivery_id: str = "",
            timestamp: str = "", signature: str | None = None):  # fmt: skip
    delivery_id = delivery_id or str(uuid.uuid4())
    timestamp = timestamp or str(int(time.time()))
    headers = {"X-MLflow-Delivery-Id": delivery_id, "X-MLflow-Timestamp": timestamp}
    sig = mlflow_signature(secret, delivery_id, timestamp, body) if signature is None else signature
    if sig:
        headers["X-MLflow-Signature"] = sig
    return client.post(
        reverse("integrations:webhook", args=[connection.pk]),
        data=body,
        content_type="application/json",
        headers=headers,
    )


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=AuditAction.MLFLOW_WEBHOOK_REFUSED.value))


def test_the_signature_is_mlflows():
    assert automatic.signature_of("s3cret", "d-1", "1700000000", b'{"a": 1}') == mlflow_signature(
        "s3cret", "d-1", "1700000000", '{"a": 1}'
    )


def test_a_bad_signature_is_refused_401_and_audited_without_the_secret(client, hooked):
    answer = deliver(client, hooked, payload(), secret="someone-elses-secret-000")
    assert answer.status_code == 401
    assert "signature does not match" in answer.json()["detail"]
    (event,) = refusals()
    assert event.actor is None and event.object_id == str(hooked.pk)
    assert event.after["status"] == 401 and event.after["connection"] == "Lab MLflow"
    assert "signature" in event.after["reason"] and event.after["delivery_id"]
    assert SECRET not in json.dumps(event.after) and SECRET not in json.dumps(event.before)
    assert not MlflowDelivery.objects.exists()  # an unsigned id is not even remembered


def test_a_missing_signature_is_refused_401(client, hooked):
    answer = deliver(client, hooked, payload(), signature="")
    assert answer.status_code == 401 and "not signed" in answer.json()["detail"]
    assert len(refusals()) == 1


def test_a_body_changed_after_signing_is_refused(client, hooked):
    delivery_id, timestamp = str(uuid.uuid4()), str(int(time.time()))
    signature = mlflow_signature(SECRET, delivery_id, timestamp, payload(version="3"))
    answer = deliver(
        client,
        hooked,
        payload(version="4"),
        delivery_id=delivery_id,
        timestamp=timestamp,
        signature=signature,
    )
    assert answer.status_code == 401


def test_a_stale_timestamp_is_refused_400_and_audited(client, hooked):
    stale = str(int(time.time()) - 301)
    answer = deliver(client, hooked, payload(), timestamp=stale)
    assert answer.status_code == 400 and "seconds old" in answer.json()["detail"]
    (event,) = refusals()
    assert event.after["status"] == 400 and "seconds old" in event.after["reason"]


def test_a_timestamp_from_the_future_is_refused(client, hooked):
    answer = deliver(client, hooked, payload(), timestamp=str(int(time.time()) + 120))
    assert answer.status_code == 400 and "future" in answer.json()["detail"]


def test_a_replayed_delivery_id_is_refused_400_and_audited(client, hooked):
    delivery_id, timestamp = str(uuid.uuid4()), str(int(time.time()))
    first = deliver(client, hooked, payload(), delivery_id=delivery_id, timestamp=timestamp)
    assert first.status_code == 202, first.content
    again = deliver(client, hooked, payload(), delivery_id=delivery_id, timestamp=timestamp)
    assert again.status_code == 400 and "replay" in again.json()["detail"]
    (event,) = refusals()
    assert event.after["delivery_id"] == delivery_id and "replay" in event.after["reason"]


def test_old_delivery_ids_are_pruned(client, hooked):
    old = MlflowDelivery.objects.create(connection=hooked, delivery_id="old-one")
    MlflowDelivery.objects.filter(pk=old.pk).update(received_at=timezone.now() - timedelta(hours=1))
    assert deliver(client, hooked, payload()).status_code == 202
    assert list(MlflowDelivery.objects.values_list("delivery_id", flat=True)) != ["old-one"]
    assert not MlflowDelivery.objects.filter(delivery_id="old-one").exists()


def test_a_connection_without_a_webhook_secret_refuses_everything(client, people, media_root):
    bare = make_connection(people, "http://127.0.0.1:9", password="unused", name="Bare")
    answer = deliver(client, bare, payload(), secret="")
    assert answer.status_code == 401 and "no webhook secret" in answer.json()["detail"]


def test_malformed_and_unknown(client, hooked):
    assert deliver(client, hooked, "not json").status_code == 400
    assert deliver(client, hooked, payload(), timestamp="soon").status_code == 400
    answer = client.post(
        reverse("integrations:webhook", args=[hooked.pk + 1000]),
        data=payload(),
        content_type="application/json",
    )
    assert answer.status_code == 404
    assert client.get(reverse("integrations:webhook", args=[hooked.pk])).status_code == 405


def test_the_secret_is_not_in_the_connections_audit(people, hooked):
    event = (
        AuditEvent.objects.filter(action=AuditAction.MLFLOW_CONNECTION_SAVED.value)
        .order_by("pk")
        .last()
    )
    assert event is not None and event.after["webhook_secret"] == "replaced"
    assert SECRET not in json.dumps(event.after)


HOLDOUT = ("income,debt,default\n" + "".join(
    f"{40 + i % 17},{5 + i % 11},{int((5 + i % 11) * 3 > (40 + i % 17) * 0.6)}\n"
    for i in range(120)
)).encode()  # fmt: skip


@pytest.fixture
def automatic_link(people, alices_model, hooked):
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=hooked, mlflow_name="credit-pd"
    )
    return automatic.set_automatic(
        alices_model.pk,
        actor=people.alice,
        wanted=automatic.Automatic(True, "candidate", "default"),
        holdout=holdout_file(HOLDOUT),
    )


def test_an_accepted_delivery_imports_once_on_behalf_of_the_links_owner(
    client, people, automatic_link
):
    answer = deliver(client, automatic_link.connection, payload(version="3"))
    assert answer.status_code == 202
    (record,) = MlflowImport.objects.all()
    assert answer.json() == {"imports": [record.pk]}
    assert record.trigger == MlflowImport.Trigger.WEBHOOK and record.requested_by == people.alice
    assert record.reference == "models:/credit-pd/3" and record.mlflow_version == "3"
    assert record.holdout_key and record.holdout_key != automatic_link.holdout_key
    assert record.job is not None and record.job.kind == "mlflow_import"
    requested = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORT_REQUESTED.value)
    assert requested.actor_username == "alice"
    assert requested.after["via"] == "MLflow webhook"
    assert requested.after["connection"] == "Lab MLflow" and requested.after["delivery_id"]
    # The same version again, by a new delivery or by the alias: not imported twice.
    assert deliver(client, automatic_link.connection, payload(version="3")).json() == {
        "imports": []
    }
    alias = deliver(client, automatic_link.connection, payload(version="3", alias="candidate"))
    assert alias.json() == {"imports": []}
    assert MlflowImport.objects.count() == 1


def test_events_the_link_does_not_follow_start_nothing(client, people, automatic_link):
    automatic.set_automatic(
        automatic_link.model_id,
        actor=people.alice,
        wanted=automatic.Automatic(False, "candidate", "default"),
        holdout=None,
    )
    connection = automatic_link.connection
    assert deliver(client, connection, payload(version="5")).json() == {"imports": []}
    other_alias = payload(version="5", alias="champion")
    assert deliver(client, connection, other_alias).json() == {"imports": []}
    other_model = payload(name="other-model", version="5", alias="candidate")
    assert deliver(client, connection, other_model).json() == {"imports": []}
    started = deliver(client, connection, payload(version="5", alias="candidate")).json()
    assert len(started["imports"]) == 1
    requested = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORT_REQUESTED.value)
    assert requested.after["alias"] == "candidate"


def test_an_owner_who_lost_the_right_starts_nothing(client, people, automatic_link):
    people.retail.group.user_set.remove(people.alice)
    answer = deliver(client, automatic_link.connection, payload(version="3"))
    assert answer.status_code == 202 and answer.json() == {"imports": []}
    failed = AuditEvent.objects.get(action=AuditAction.MLFLOW_IMPORT_FAILED.value)
    assert failed.actor_username == "alice" and failed.after["via"] == "MLflow webhook"


def test_turning_automatic_import_off_forgets_the_holdout(people, automatic_link, media_root):
    kept = automatic_link.holdout_key
    from django.core.files.storage import default_storage

    assert default_storage.exists(kept)
    link = automatic.set_automatic(
        automatic_link.model_id,
        actor=people.alice,
        wanted=automatic.Automatic(False, "", ""),
        holdout=None,
    )
    assert not link.is_automatic and link.holdout_key == "" and link.automatic_by is None
    changed = (
        AuditEvent.objects.filter(action=AuditAction.MLFLOW_LINKED.value).order_by("pk").last()
    )
    assert changed is not None and changed.after["automatic import"]["on_alias"] == ""


def test_automatic_import_needs_a_holdout_and_someone_who_may_import(people, alices_model, hooked):
    from django.core.exceptions import PermissionDenied, ValidationError

    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=hooked, mlflow_name="credit-pd"
    )
    with pytest.raises(ValidationError, match="holdout"):
        automatic.set_automatic(
            alices_model.pk,
            actor=people.alice,
            wanted=automatic.Automatic(True, "", "default"),
            holdout=None,
        )
    with pytest.raises(PermissionDenied):
        automatic.set_automatic(
            alices_model.pk,
            actor=people.bob,
            wanted=automatic.Automatic(True, "", "default"),
            holdout=holdout_file(HOLDOUT),
        )


def test_the_model_page_turns_automatic_import_on_and_off(client, people, alices_model, hooked):
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=hooked, mlflow_name="credit-pd"
    )
    url = reverse("integrations:automatic", args=[alices_model.slug])
    client.force_login(people.bob)
    assert client.post(url, {"on_alias": "candidate"}).status_code in (403, 404)
    client.force_login(people.alice)
    page = client.get(alices_model.get_absolute_url())
    assert "Automatic import" in page.content.decode()
    answer = client.post(
        url,
        {"on_alias": "@candidate", "target_column": "default", "holdout": holdout_file(HOLDOUT)},
        follow=True,
    )
    assert "Automatic import is on" in answer.content.decode()
    link = MlflowLink.objects.get()
    assert link.is_automatic and link.on_alias == "candidate" and link.automatic_by == people.alice
    assert "on behalf of" in answer.content.decode()
    refused = client.post(url, {"on_version_created": "on"}, follow=True)
    assert "Name the target column" in refused.content.decode()
    off = client.post(url, {}, follow=True)
    assert "Automatic import is off." in off.content.decode()
    assert not MlflowLink.objects.get().is_automatic
