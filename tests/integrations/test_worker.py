"""An import driven by a real `celery worker`: the import job, then the validation it queues."""

from __future__ import annotations

import pytest

from apps.integrations import services as integrations
from apps.integrations.models import MlflowImport
from apps.registry.models import ModelVersion
from tests.integrations.conftest import holdout_file, make_connection
from tests.support.worker import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_worker_imports_and_validates(people, alices_model, logged, worker):
    connection = make_connection(people, logged.server.url, password=logged.server.password)
    integrations.link_model(
        alices_model.pk, actor=people.alice, connection=connection, mlflow_name="credit-pd"
    )
    record = integrations.request_import(
        alices_model.pk,
        actor=people.alice,
        reference="@candidate",
        holdout=holdout_file(logged.holdout),
        target_column="default",
    )

    def ended() -> bool:
        record.refresh_from_db()
        return record.is_finished

    wait_for(ended, timeout=120, message=f"the worker to import\n{worker.output()}")
    assert record.state == MlflowImport.State.IMPORTED, record.failure
    version = record.version
    assert version is not None

    def validated() -> bool:
        version.refresh_from_db()
        return version.status == ModelVersion.Status.VALIDATED

    wait_for(validated, timeout=120, message=f"the worker to validate\n{worker.output()}")
