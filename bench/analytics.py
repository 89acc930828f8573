"""Analytics benchmark: the change analytics and delivery pages against the audit list page.

Run it from the repository root (``--events 100000`` for a quick check)::

    .venv/bin/python bench/analytics.py                      # 1,000,000 audit events
    .venv/bin/python bench/analytics.py --events 100000
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/analytics_bench \\
        .venv/bin/python bench/analytics.py                  # an empty PostgreSQL database

It works in one process on a fresh database: the embedded SQLite in a temporary data folder, or
the (empty, throwaway) PostgreSQL database ``BENCH_DATABASE_URL`` names. It registers 250 models
of 10 teams with 4 versions each and their production deployments (one in ten rolled back, one
in five with an alert-level alert), then writes ``--events`` audit events spread over two years
by 40 people: about half changes about those models, versions and deployments, the rest sign-ins
and job steps, as a portal's trail is. Events are written with one bulk insert (``COPY`` on
PostgreSQL) with the append-only triggers lifted for the load (``triggers.suspended``): this
database is thrown away, and nothing here verifies their chain.

Next the audit trail is folded into the change analytics' day tables (``rollup.fold``, what the
beat does every minute; timed and reported as ``fold_seconds``), so that the pages time reading
them, not catching up a backlog of a million events in the first request (which each page
would otherwise do, up to ``rollup.READ_LIMIT`` events per request).

The heap is then frozen (``gc.freeze``) as the portal's ``wsgi.py`` freezes its web processes'
start-up heap, and each page is requested ``--requests`` times through Django's test client
after a warm-up, as an administrator (the whole trail), with the default period (the last 90
days): the audit list page (the baseline, measured in the same run), the change analytics page,
the delivery page, and the analytics page as a data scientist (scoped to their team's models).
It prints each p95 and its ratio to the audit list's (goal: at most 3x), and the pages' SQL
query counts with 1,000 events behind them and with ``--events`` (goal: the same).

Figures go to ``bench/results/analytics-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import common  # noqa: E402  (bench/ is on the path when run as a script)

MODELS = 250
TEAMS = 10
PEOPLE = 40
DAYS = 730


def _setup(var: Path) -> str:
    os.environ["PORTAL_VAR_DIR"] = str(var)
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG"):
        os.environ.pop(name, None)
    database = os.environ.get("BENCH_DATABASE_URL", "")
    if database:
        os.environ["DATABASE_URL"] = database
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            if cursor.fetchone()[0]:
                raise SystemExit(
                    "BENCH_DATABASE_URL must name an empty database: the benchmark fills it."
                )
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    return str(connection.vendor)


def _world() -> dict[str, Any]:
    """Teams, people, models, versions and production deployments, written directly: a bench
    database is throwaway, and the services' own costs are measured elsewhere."""
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from apps.accounts.models import Team
    from apps.accounts.roles import Role
    from apps.deployments.models import Deployment, Environment
    from apps.monitoring.models import Alert
    from apps.registry.models import ModelVersion, RegisteredModel

    rng = random.Random(0)
    admin = User.objects.create_superuser("bench", "bench@example.com", "x")
    teams = []
    for t in range(TEAMS):
        group = Group.objects.create(name=f"team-{t}")
        teams.append(Team.objects.create(slug=f"team-{t}", name=f"Team {t}", group=group))
    scientists = Group.objects.get(name=Role.DATA_SCIENTIST)
    people = User.objects.bulk_create(User(username=f"person{p}") for p in range(PEOPLE))
    for index, person in enumerate(people):
        person.groups.add(scientists, teams[index % TEAMS].group)
    production = Environment.objects.get(slug="production")
    now = timezone.now()
    models, versions, deployments = [], [], []
    for m in range(MODELS):
        team = teams[m % TEAMS]
        model = RegisteredModel.objects.create(
            name=f"Model {m}",
            slug=f"model-{m}",
            team=team,
            risk_tier="high",
            risk_owner=admin,
            owner=people[m % PEOPLE],
            use_case="Benchmark",
        )
        models.append(model)
        previous = None
        for n in range(1, 5):
            uploaded = now - timedelta(days=rng.uniform(0, DAYS))
            version = ModelVersion.objects.create(
                model=model,
                number=n,
                status=ModelVersion.Status.APPROVED,
                uploaded_by=people[m % PEOPLE],
                target_column="y",
                artifact_format="skops",
            )
            ModelVersion.objects.filter(pk=version.pk).update(created_at=uploaded)
            versions.append(version)
            live = uploaded + timedelta(days=rng.uniform(5, 60))
            rolled_back = rng.random() < 0.1
            deployment = Deployment.objects.create(
                model=model,
                version=version,
                environment=production,
                requested_by=admin,
                created_at=live,
                live_from=live,
                live_until=live + timedelta(days=2) if rolled_back else None,
                status="rolled_back" if rolled_back else "superseded",
                replaced=previous,
            )
            deployments.append(deployment)
            if rng.random() < 0.2:
                opened = live + timedelta(days=rng.uniform(0, 10))
                Alert.objects.create(
                    deployment=deployment,
                    check_name="drift:x",
                    level="alert",
                    state="resolved",
                    message="drift",
                    levels="0.1/0.25",
                    opened_at=opened,
                    last_breach_at=opened,
                    resolved_at=opened + timedelta(hours=rng.uniform(1, 48)),
                )
            previous = deployment
    _grant_teams(models)
    return {
        "admin": admin,
        "people": people,
        "models": models,
        "versions": versions,
        "deployments": deployments,
    }


def _grant_teams(models: list[Any]) -> None:
    """Each owning team views its models, as registering through the service grants."""
    from guardian.shortcuts import assign_perm

    for model in models:
        assign_perm("registry.view_registeredmodel", model.team.group, model)


_CHANGES = [
    ("version.uploaded", "registry.modelversion"),
    ("validation.passed", "registry.modelversion"),
    ("review.requested", "registry.modelversion"),
    ("review.approve", "registry.modelversion"),
    ("comment.added", "registry.modelversion"),
    ("deployment.requested", "deployments.deployment"),
    ("deployment.live", "deployments.deployment"),
    ("deployment.rolled_back", "deployments.deployment"),
    ("model.updated", "registry.registeredmodel"),
    ("model.shared", "registry.registeredmodel"),
    ("model.unshared", "registry.registeredmodel"),
    ("review.exception_requested", "registry.modelversion"),
]
_NOT_CHANGES = [
    ("auth.login", "auth.user"),
    ("job.started", "jobs.job"),
    ("job.succeeded", "jobs.job"),
]


def _events(world: dict[str, Any], count: int, seed: int) -> None:
    """``count`` audit events in time order over DAYS days, in one bulk load."""
    from django.db import connection, transaction
    from django.utils import timezone

    from apps.audit import triggers
    from apps.audit.models import AuditEvent

    rng = random.Random(seed)
    ids = {
        "registry.modelversion": [str(v.pk) for v in world["versions"]],
        "deployments.deployment": [str(d.pk) for d in world["deployments"]],
        "registry.registeredmodel": [str(m.pk) for m in world["models"]],
        "auth.user": [str(p.pk) for p in world["people"]],
        "jobs.job": [str(n) for n in range(1, 5000)],
    }
    people = world["people"]
    first = timezone.now() - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / count
    last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    last_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    columns = [
        "id", "occurred_at", "actor_id", "actor_username", "action", "object_type",
        "object_id", "object_repr", "request_id", "ip", "user_agent", "prev_hash", "hash",
        "key_id", "seq",
    ]  # fmt: skip

    def rows():  # type: ignore[no-untyped-def]
        for n in range(count):
            action, object_type = (
                rng.choice(_CHANGES) if rng.random() < 0.5 else rng.choice(_NOT_CHANGES)
            )
            person = people[rng.randrange(PEOPLE)] if rng.random() < 0.9 else None
            yield (
                last_id + n + 1,
                first + step * n,
                person.pk if person else None,
                person.username if person else "",
                action,
                object_type,
                rng.choice(ids[object_type]),
                "bench",
                "",
                "",
                "",
                "0" * 64,
                f"{seed:04x}{n:060x}",
                "",
                last_seq + n + 1,
            )

    with transaction.atomic(), triggers.suspended(connection):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                raw = cursor.cursor
                sql = f"COPY audit_auditevent ({', '.join(columns)}) FROM STDIN"
                with raw.copy(sql) as copy:
                    for row in rows():
                        copy.write_row(row)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence('audit_auditevent', 'id'), "
                    "(SELECT max(id) FROM audit_auditevent))"
                )
        else:
            marks = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO audit_auditevent ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            with connection.cursor() as cursor:
                batch: list[tuple[Any, ...]] = []
                for row in rows():
                    batch.append(row)
                    if len(batch) == 20_000:
                        cursor.executemany(sql, batch)
                        batch.clear()
                cursor.executemany(sql, batch)
    # Fresh statistics, as autovacuum (PostgreSQL) or ``PRAGMA optimize`` would give a live
    # database after such a load.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _p95(client: Any, url: str, requests: int) -> float:
    client.get(url)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(url)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, (url, answer.status_code)
    return statistics.quantiles(times, n=20)[18] * 1000


PAGES = {
    "audit list": "/audit/",
    "change analytics": "/audit/analytics/",
    "delivery": "/audit/delivery/",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-analytics-") as var:
        vendor = _setup(Path(var))
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        common.log("registering 250 models, 1,000 versions and their deployments")
        world = _world()
        admin_client = Client(HTTP_HOST="127.0.0.1")
        admin_client.force_login(world["admin"])
        scientist_client = Client(HTTP_HOST="127.0.0.1")
        scientist_client.force_login(world["people"][0])
        clients = {
            **{name: (admin_client, url) for name, url in PAGES.items()},
            "change analytics, data scientist": (scientist_client, PAGES["change analytics"]),
        }

        def queries() -> dict[str, int]:
            counted = {}
            for name, (client, url) in clients.items():
                client.get(url)
                with CaptureQueriesContext(connection) as captured:
                    client.get(url)
                counted[name] = len(captured)
            return counted

        _events(world, 1_000, seed=1)
        queries_small = queries()
        common.log(f"writing {args.events:,} audit events")
        started = time.perf_counter()
        _events(world, args.events - 1_000, seed=2)
        load_seconds = time.perf_counter() - started
        common.log(f"loaded in {load_seconds:.0f} s; folding them into the day tables")
        from apps.analytics import rollup

        started = time.perf_counter()
        rollup.fold(budget_seconds=float("inf"))
        fold_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # the day tables too, as after the events' load
        # As the portal's web processes do (mlops_portal/wsgi.py): what start-up loaded is
        # frozen, so a full collection no longer scans it. Without this, one request in twenty
        # of a page that builds a few thousand objects paid a 120 ms collection, and a p95 of
        # twenty requests measured that pause rather than the page.
        gc.collect()
        gc.freeze()
        common.log(f"folded in {fold_seconds:.0f} s; timing the pages")
        p95 = {name: _p95(client, url, args.requests) for name, (client, url) in clients.items()}
        queries_full = queries()

    baseline = p95["audit list"]
    result = {
        "events": args.events,
        "database": vendor,
        "requests": args.requests,
        "load_seconds": round(load_seconds, 1),
        "fold_seconds": round(fold_seconds, 1),
        "p95_ms": {k: round(v, 1) for k, v in p95.items()},
        "over_audit_list": {
            name: round(value / baseline, 2) for name, value in p95.items() if name != "audit list"
        },
        "queries_1000_events": queries_small,
        "queries": queries_full,
        "machine": common.machine_info(),
        "git": common.git_state(),
        "at": datetime.now(UTC).isoformat(),
    }
    path = common.write_results("analytics", result, common.utc_stamp())
    print(
        f"{args.events:,} audit events on {vendor}, folded into day tables in "
        f"{fold_seconds:.0f} s before timing; pages over the last 90 days:"
    )
    print(
        common.format_table(
            ["page", "p95 ms", "x audit list", "queries (1,000)", f"queries ({args.events:,})"],
            [
                [
                    name,
                    f"{p95[name]:.1f}",
                    "1.00" if name == "audit list" else f"{result['over_audit_list'][name]:.2f}",
                    str(queries_small[name]),
                    str(queries_full[name]),
                ]
                for name in p95
            ],
        )
    )
    print("Goal: analytics and delivery at most 3x the audit list; query counts unchanged.")
    print(f"Figures: {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
