"""Fixtures shared by the whole suite: people, API clients, a real worker, a real browser."""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from apps.accounts import services as accounts
from apps.accounts.models import Team
from apps.accounts.roles import Role
from apps.audit import triggers
from apps.registry import services as registry
from apps.registry.models import RegisteredModel
from tests.factories import TeamFactory, UserFactory
from tests.support.services import unavailable
from tests.support.worker import WorkerProcess
from tests.support.worker import purge as purge_queues

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls there
# unless told that this thread is not really async.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


BROWSER_MODULE = "browser"  # in the file name of every module whose tests drive Chromium


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under ``pytest -n … --dist loadscope`` (``make test``): each module's tests run in one
    process, so its worker tests share the module's real worker, and all browser tests run in
    one process (one Chromium and live server, not two fighting for this machine's two cores).
    The scheduler sees only test ids, so browser tests are known by their module's name."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModulesAndBrowser(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return BROWSER_MODULE if BROWSER_MODULE in Path(module).name else module

        def _assign_work_unit(self, node: Any) -> None:
            # The browser tests first: one unit of several minutes, which ordered by its number
            # of tests would start late and run on alone after the other process has finished.
            if BROWSER_MODULE in self.workqueue:
                self.workqueue.move_to_end(BROWSER_MODULE, last=False)
            super()._assign_work_unit(node)

    return ModulesAndBrowser(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests must live where the scheduler above finds them."""
    astray = [
        item.nodeid
        for item in items
        if "browser" in getattr(item, "fixturenames", ())
        and BROWSER_MODULE not in Path(item.nodeid.split("::", 1)[0]).name
    ]
    if astray:
        raise pytest.UsageError(
            f"browser tests belong in a module whose name contains {BROWSER_MODULE!r}: {astray}"
        )


@pytest.fixture(scope="session", autouse=True)
def _fresh_broker() -> None:
    """Messages left by an earlier run would reach this run's workers, and their job ids may
    name other jobs here: start clean, including what Redis keeps to redeliver later."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        queue = Path(settings.BROKER_DIR) / "queue"
        shutil.rmtree(queue, ignore_errors=True)
        queue.mkdir(parents=True)
    elif settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        from mlops_portal.celery import app

        purge_queues()
        with app.connection_for_write() as conn:
            channel = conn.default_channel
            channel.client.delete(channel.unacked_key, channel.unacked_index_key)


def _made_by_data_migrations():  # type: ignore[no-untyped-def]
    """Rows that data migrations create and the app relies on: role groups, default policies."""
    from apps.deployments.models import Environment
    from apps.documentation.models import DocumentationPolicy, Template
    from apps.recertification.models import Cadence
    from apps.reviews.models import ReviewPolicy
    from apps.validation.models import ValidationPolicy

    return [
        *Group.objects.filter(name__in=Role.values),
        *Environment.objects.order_by("pk"),
        *ValidationPolicy.objects.filter(model__isnull=True, created_by__isnull=True),
        *ReviewPolicy.objects.filter(created_by__isnull=True),
        *Template.objects.filter(created_by__isnull=True),
        *DocumentationPolicy.objects.filter(created_by__isnull=True),
        *Cadence.objects.filter(created_by__isnull=True),
    ]


@pytest.fixture(scope="session", autouse=True)
def _flushes_keep_what_migrations_made():  # type: ignore[no-untyped-def]
    """Tests that commit (real worker, live server) empty every table when they end.

    Three things make that flush special here. The append-only audit triggers would refuse it,
    so it lifts them the way the table's owner could and puts them back at once. Data migrations
    made rows the portal relies on, so those are noted before the first flush and put back after
    each by Django's post-migrate step. (Django's serialized rollback would do that, but
    Playwright's running event loop gives browser tests another connection object, on which it
    silently does nothing.) And content types and permissions are left as they are (see below).
    """
    from django.core import serializers
    from django.db import connection
    from django.db.models.signals import post_migrate

    snapshot: list[str] = []
    last_app = list(django_apps.get_app_configs())[-1]

    def restore(app_config: object, **kwargs: object) -> None:
        if app_config is not last_app or not snapshot:  # post-migrate runs once per app
            return
        for row in serializers.deserialize("json", snapshot[0]):
            row.save()

    ops = type(connection.ops)
    original = ops.execute_sql_flush
    original_sql = ops.sql_flush

    def sql_flush(self, style, tables, **options):  # type: ignore[no-untyped-def]
        # Content types and permissions stay: post-migrate would make them again with new ids
        # (PostgreSQL's sequences go on), which the real worker shared by a module's tests has
        # cached (guardian, Django's ContentType cache) from the test before.
        kept = {"django_content_type", "auth_permission"}
        return original_sql(self, style, [t for t in tables if t not in kept], **options)

    def execute_sql_flush(self, sql_list):  # type: ignore[no-untyped-def]
        if not snapshot:
            snapshot.append(
                serializers.serialize(
                    "json", _made_by_data_migrations(), use_natural_foreign_keys=True
                )
            )
        with triggers.suspended(self.connection):
            original(self, sql_list)

    ops.execute_sql_flush = execute_sql_flush
    ops.sql_flush = sql_flush
    post_migrate.connect(restore, dispatch_uid="tests-restore-migration-data")
    yield
    post_migrate.disconnect(dispatch_uid="tests-restore-migration-data")
    ops.execute_sql_flush = original
    ops.sql_flush = original_sql


@pytest.fixture(scope="session", autouse=True)
def _prediction_logs_flushed_by_tests() -> None:
    """Served in this process, logs are written when a test flushes them; the background
    writer runs in real server processes (tests/deployments/test_server_process.py)."""
    from apps.deployments import serving

    serving.LOG.in_background = False
    serving.SHADOW.in_background = False


@pytest.fixture(autouse=True)
def checkpoint_file(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """Each test is a fresh installation: a fresh database, so a fresh audit checkpoint file
    too; one kept from an earlier test would vouch for events the flush removed."""
    path = tmp_path / "audit-checkpoints.jsonl"
    settings.PORTAL_AUDIT_CHECKPOINT_FILE = path
    return path


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate limits (DRF throttles) count in the cache; each test starts with none used."""
    from django.core.cache import cache

    cache.clear()


@dataclass(frozen=True)
class Files:
    skops: bytes
    pickle: bytes
    holdout_csv: bytes
    holdout_parquet: bytes
    reference_csv: bytes


@pytest.fixture(scope="session")
def files() -> Files:
    import pickle

    import skops.io
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"income": rng.normal(50, 10, 200), "debt": rng.normal(10, 3, 200)})
    frame["default"] = (frame["debt"] * 3 > frame["income"] * 0.6).astype(int)
    estimator = LogisticRegression().fit(frame[["income", "debt"]], frame["default"])
    parquet = io.BytesIO()
    frame.to_parquet(parquet)
    return Files(
        skops=skops.io.dumps(estimator),
        pickle=pickle.dumps(estimator, protocol=4),
        holdout_csv=frame.iloc[:100].to_csv(index=False).encode(),
        holdout_parquet=parquet.getvalue(),
        reference_csv=frame.iloc[100:].to_csv(index=False).encode(),
    )


@dataclass
class People:
    alice: User  # data scientist, retail-credit
    bob: User  # data scientist, fraud
    ivan: User  # model_ops
    rita: User  # risk owner
    carl: User  # compliance
    admin: User  # superuser
    retail: Team
    fraud: Team

    def all(self) -> list[User]:
        return [self.alice, self.bob, self.ivan, self.rita, self.carl, self.admin]


@pytest.fixture
def people(db: None) -> People:
    retail = TeamFactory(slug="retail-credit", name="Retail credit")
    fraud = TeamFactory(slug="fraud", name="Fraud detection")
    return People(
        alice=UserFactory(username="alice", role=Role.DATA_SCIENTIST, team=retail),
        bob=UserFactory(username="bob", role=Role.DATA_SCIENTIST, team=fraud),
        ivan=UserFactory(username="ivan", role=Role.MODEL_OPS),
        rita=UserFactory(username="rita", role=Role.RISK_OWNER),
        carl=UserFactory(username="carl", role=Role.COMPLIANCE),
        admin=UserFactory(username="admin", is_staff=True, is_superuser=True),
        retail=retail,
        fraud=fraud,
    )


@pytest.fixture
def alices_model(people: People) -> RegisteredModel:
    """Alice's team's high-risk model, risk owner rita (slug ``loan-default``)."""
    return registry.register_model(
        actor=people.alice,
        name="Loan default",
        use_case="Decline risky loans",
        team=people.retail,
        risk_tier="high",
        risk_owner=people.rita,
        tags=["credit", "retail"],
    )


@pytest.fixture
def bobs_model(people: People) -> RegisteredModel:
    """Bob's team's medium-risk model, risk owner rita (slug ``card-fraud``)."""
    return registry.register_model(
        actor=people.bob,
        name="Card fraud",
        use_case="Hold suspicious payments",
        team=people.fraud,
        risk_tier="medium",
        risk_owner=people.rita,
        tags=["fraud"],
    )


def api_client_for(user: User) -> APIClient:
    _, raw = accounts.create_token(actor=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(people: People):  # type: ignore[no-untyped-def]
    """api(user) -> an APIClient authenticated with a fresh bearer token of that user."""
    return api_client_for


_NEXT_TEST_SHARES_THE_WORKER = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):  # type: ignore[no-untyped-def]
    """Note, before the test's fixtures end, whether the next test takes over its worker."""
    item.stash[_NEXT_TEST_SHARES_THE_WORKER] = (
        nextitem is not None
        and nextitem.module is getattr(item, "module", None)
        and "worker" in getattr(nextitem, "fixturenames", ())
    )
    return (yield)


@pytest.fixture(scope="module")
def _module_worker() -> Iterator[list[WorkerProcess]]:
    """The real worker the tests of one module share (started by the first that needs it)."""
    held: list[WorkerProcess] = []
    yield held
    for process in held:
        process.stop()


@pytest.fixture
def worker(
    request: pytest.FixtureRequest,
    transactional_db: None,
    _module_worker: list[WorkerProcess],
) -> Iterator[WorkerProcess]:
    """A real ``celery worker`` process on the test database and broker, idle and with empty
    queues when the test starts. Starting one takes seconds, so consecutive tests of a module
    share one; it stops before the database is emptied unless the next test takes it over (so
    no other test sees it), and a test that kills it gets a new one for the next."""
    if not _module_worker or not _module_worker[0].alive():
        for dead in _module_worker:
            dead.stop()
        _module_worker[:] = [WorkerProcess().start()]
    else:
        # The test database was emptied since it last wrote its heartbeat: wait for the next one,
        # so that the test finds a live worker on record as it would a new one.
        _module_worker[0].wait_for_heartbeat()
    process = _module_worker[0]
    yield process
    # Before the database is emptied for the next test.
    if not (request.node.stash.get(_NEXT_TEST_SHARES_THE_WORKER, False) and process.settle()):
        process.stop()
        _module_worker.clear()


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        unavailable(f"browser tests need Debian's chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser, live_server):  # type: ignore[no-untyped-def]
    """new_page() -> a page in a fresh browser context (its own cookies), closed afterwards."""
    contexts = []

    def make():  # type: ignore[no-untyped-def]
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def sign_in(page, username: str, password: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password or f"pw-{username}")
    page.get_by_role("button", name="Sign in").click()


def confirm(page, **click) -> None:  # type: ignore[no-untyped-def]
    """Answer yes in the portal's confirmation dialog (``#confirm-dialog`` in base.html); the
    form is submitted by that click, so ``click`` takes Playwright's click options."""
    from playwright.sync_api import expect

    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.locator("button[value=confirm]").click(**click)


def open_nav(page, label: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()
