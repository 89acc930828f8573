"""What apps contribute to each other, registered by each in its ``AppConfig.ready()``.

An app never imports an app above it. When a lower app shows or runs something a higher app
provides (the dashboard shows the reviews app's queue; the registry's version page shows the
validation report; an upload starts validation), the higher app registers it here, in one of
the fixed stores below, with a typed value: ``registry.dashboard_panels.add("reviews", panels)``.
A store that does not exist, a name registered twice, or a value of the wrong type fails at
start-up, not silently on some page later (NetBox's ``netbox/registry.py`` is the model).

The stores (attributes of ``registry``), and the protocol of what each holds:

- ``dashboard_panels``: ``(user) -> list[Panel]``, panels of the "my work" dashboard.
- ``model_sections`` / ``version_sections``: ``(request, model | version) -> list[Section]``,
  parts of the model and version pages.
- ``model_history``: ``(model) -> {object_type: [object ids]}``, what the model's history tab
  shows besides the model and its versions.
- ``version_uploaded``: ``(version, actor) -> dict``, what follows an upload in its transaction
  (validation queues its job); the returned dict joins the upload's audit record.
- ``job_kinds``: ``JobKind``, each kind of background job: its Celery task, queue, whose jobs a
  person may see, what happens when one fails for good.
- ``worker_janitors``: ``() -> None``, run by every worker's heartbeat: clean-up of what an attempt
  whose process died left on this host (validation's scratch folders).
- ``notification_events``: ``EventType``, what people and webhooks can be told about.
- ``demo_steps``: ``DemoStep``, what ``seed_demo`` does, in order.
- ``review_blockers``: ``(version) -> list[str]``, what stands in the way of requesting review
  (empty required documentation sections); the request then goes only as a policy exception.
- ``approval_blockers``: ``(version) -> list[str]``, what stands in the way of approving it.
- ``version_approved``: ``(version, actor) -> dict``, what follows approval in its transaction
  (the documentation is frozen); the returned dict joins the decision's audit record.
- ``live_changed``: ``(versions, actor) -> None``, what follows a change of where versions serve
  (deploy, rollback, undeploy), in its transaction (MLflow tags).
- ``version_tabs``: ``(version) -> list[Tab]``, the tabs of the version page besides its overview.
- ``sign_off_records``: ``(version) -> list[(caption, columns, rows)]``, tables of further
  sign-offs of a version (its periodic re-certifications) that its documentation lists.
- ``documentation_parts``: ``(version) -> list[DocumentPart]``, parts of a version's
  documentation that an app above it fills from its own records (an MLflow import's
  provenance); none for a version the app has nothing about, so no empty heading is printed.
- ``model_flags``: ``(model ids) -> {model id: [Flag]}``, marks on a model wherever models are
  listed (the inventory, the monitoring portfolio): "periodic review overdue". One call per
  list, so a page's query count does not grow with its rows.
- ``live_versions``: ``(model ids) -> {model id: [Live]}``, where each model's versions serve
  (environment, version, since when, as the live version or a challenger): "what is live where"
  on the inventory, the dashboards and the model and version pages. One call per list.
- ``waiting_for``: ``(version) -> list[str]``, whom or what a version waits for before it can
  go on, one phrase each ("the risk owner's sign-off (Rita Okafor)"): said on its page, and in
  the refusal of an action that cannot happen yet.
- ``audit_subjects``: ``AuditSubject``, what the audit trail can be filtered by that spans many
  audited objects (a model: itself, its versions, deployments, findings, ...); the registered
  name is the URL parameter (``/audit/?model=<slug>``).
- ``rules``: ``(user, obj) -> None`` raising PermissionDenied: "may this person do this to this
  object", one answer for the service that does it and the page that offers it (``can``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.db.models import Q, QuerySet
    from django.http import HttpRequest

T = TypeVar("T")


@dataclass
class Panel:
    """A panel of the "my work" dashboard."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    # Lower comes first: work waiting for the user sorts above information.
    order: int = 50


@dataclass
class Section:
    """A part of the model or version page that an app above the registry contributes."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 50


@dataclass(frozen=True)
class JobKind:
    """One kind of background job, declared by the app that owns it.

    ``task`` is the Celery task's name (the task is declared with ``name=KIND.task``), so a reader
    follows a hand-off from the code that creates the job (``jobs.create_job(kind=KIND, ...)``) to
    the code that runs it through this object. ``scope(user)`` returns the subjects whose jobs
    ``user`` may see (decisions §8); a kind without one is shown to operators and its starter.
    ``when_failed(job)`` runs in the transaction that fails a job for good; ``backoff(attempt)``
    is how many seconds a job that failed attempt ``attempt`` transiently waits for the next.
    """

    name: str
    task: str
    queue: str = "default"
    scope: Callable[[User], QuerySet[Any]] | None = None
    when_failed: Callable[[Any], None] | None = None
    time_limit: int | None = None  # seconds one attempt may run; settings' default when None
    max_attempts: int = 3
    backoff: Callable[[int], float] | None = None


@dataclass(frozen=True)
class EventType:
    """Something people (inbox, email) and webhooks can be told about."""

    code: str
    label: str


class Output(Protocol):
    """Where a demo step says what it did (the management command's stdout)."""

    def write(self, msg: str, /) -> Any: ...


@dataclass(frozen=True)
class DemoStep:
    """One step of ``seed_demo``; steps run by ``order``, then by name."""

    name: str
    run: Callable[[Output], None]
    order: int = 50


PanelSource = Callable[["User"], list[Panel]]
ModelSectionSource = Callable[["HttpRequest", Any], list[Section]]
VersionSectionSource = Callable[["HttpRequest", Any], list[Section]]
HistorySource = Callable[[Any], Mapping[str, list[str]]]
UploadFollower = Callable[[Any, "User"], dict[str, Any]]
Rule = Callable[["User", Any], None]
# (version) -> what stands in the way of approving it (an open high finding), or of requesting its
# review (empty required documentation), one sentence each.
Blocker = Callable[[Any], list[str]]
VersionFollower = Callable[[Any, "User"], dict[str, Any]]
LiveChangeFollower = Callable[[list[Any], "User | None"], None]


@dataclass(frozen=True)
class Tab:
    """A tab of the version page: a page of its own about the version."""

    label: str
    url: str


TabSource = Callable[[Any], list[Tab]]


@dataclass(frozen=True)
class Flag:
    """A mark on a model in lists: a short label, its tone (badge class) and where it leads."""

    label: str
    tone: str
    url: str = ""


FlagSource = Callable[[list[int]], Mapping[int, list[Flag]]]


@dataclass(frozen=True)
class AuditSubject:
    """A filter of the audit trail offered by the app that owns what it names (the registry: a
    model), so that ``audit`` imports no app above it."""

    label: str
    # (value, what people read) for the pick list; the value is what the URL carries.
    choices: Callable[[], list[tuple[str, str]]]
    # The condition on AuditEvent rows that picks every event of the value's objects.
    events: Callable[[str], Q]


@dataclass(frozen=True)
class Live:
    """A version serving in an environment: the live version, or a challenger beside it."""

    environment: str
    version: int
    since: datetime | None
    role: str = "live version"  # or "shadow challenger", "canary challenger, 10 % of requests"
    is_production: bool = False
    url: str = ""  # the version's page

    @property
    def is_challenger(self) -> bool:
        return self.role != "live version"


LiveSource = Callable[[list[int]], Mapping[int, list[Live]]]
# (version) -> whom or what it waits for: "the risk owner's sign-off (Rita Okafor)".
WaitSource = Callable[[Any], list[str]]
SignOffRecords = Callable[[Any], list[tuple[str, list[str], list[list[str]]]]]


@dataclass(frozen=True)
class DocumentPart:
    """A part of a version's documentation contributed by an app above ``documentation``.

    Plain text only, never markup: every export escapes it (the values may come from outside the
    portal, such as an MLflow run's tags). ``after`` names the template section it follows; it
    goes at the end when the template has no such section. ``tables`` are (caption, columns, rows).
    """

    key: str
    title: str
    intro: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    after: str = ""


DocumentPartSource = Callable[[Any], list[DocumentPart]]
Janitor = Callable[[], object]


@dataclass(frozen=True)
class Store(Generic[T]):
    """One key of the registry: named entries of one type, in registration order."""

    key: str
    kind: type | None = None  # None: any callable
    entries: dict[str, T] = field(default_factory=dict)

    def add(self, name: str, value: T) -> T:
        """Register ``value`` as ``name``; returns it, so it can decorate a function."""
        fits = callable(value) if self.kind is None else isinstance(value, self.kind)
        if not fits:
            wanted = "a function" if self.kind is None else self.kind.__name__
            raise TypeError(f"registry[{self.key!r}][{name!r}] must be {wanted}, not {value!r}")
        if name in self.entries:
            raise ValueError(f"registry[{self.key!r}] already has an entry named {name!r}")
        self.entries[name] = value
        return value

    def __getitem__(self, name: str) -> T:
        try:
            return self.entries[name]
        except KeyError:
            raise KeyError(f"registry[{self.key!r}] has no entry named {name!r}") from None

    def get(self, name: str) -> T | None:
        return self.entries.get(name)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self.entries.values()))

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def names(self) -> list[str]:
        return list(self.entries)


@dataclass(frozen=True)
class Registry:
    """The fixed set of stores, one attribute each: a misspelt store is an AttributeError at
    start-up (and a mypy error before that), and no store can be added or replaced."""

    dashboard_panels: Store[PanelSource] = field(default_factory=lambda: Store("dashboard_panels"))
    model_sections: Store[ModelSectionSource] = field(
        default_factory=lambda: Store("model_sections")
    )
    version_sections: Store[VersionSectionSource] = field(
        default_factory=lambda: Store("version_sections")
    )
    model_history: Store[HistorySource] = field(default_factory=lambda: Store("model_history"))
    version_uploaded: Store[UploadFollower] = field(
        default_factory=lambda: Store("version_uploaded")
    )
    job_kinds: Store[JobKind] = field(default_factory=lambda: Store("job_kinds", JobKind))
    worker_janitors: Store[Janitor] = field(default_factory=lambda: Store("worker_janitors"))
    notification_events: Store[EventType] = field(
        default_factory=lambda: Store("notification_events", EventType)
    )
    demo_steps: Store[DemoStep] = field(default_factory=lambda: Store("demo_steps", DemoStep))
    rules: Store[Rule] = field(default_factory=lambda: Store("rules"))
    review_blockers: Store[Blocker] = field(default_factory=lambda: Store("review_blockers"))
    approval_blockers: Store[Blocker] = field(default_factory=lambda: Store("approval_blockers"))
    version_approved: Store[VersionFollower] = field(
        default_factory=lambda: Store("version_approved")
    )
    live_changed: Store[LiveChangeFollower] = field(default_factory=lambda: Store("live_changed"))
    version_tabs: Store[TabSource] = field(default_factory=lambda: Store("version_tabs"))
    model_flags: Store[FlagSource] = field(default_factory=lambda: Store("model_flags"))
    sign_off_records: Store[SignOffRecords] = field(
        default_factory=lambda: Store("sign_off_records")
    )
    documentation_parts: Store[DocumentPartSource] = field(
        default_factory=lambda: Store("documentation_parts")
    )
    audit_subjects: Store[AuditSubject] = field(
        default_factory=lambda: Store("audit_subjects", AuditSubject)
    )
    live_versions: Store[LiveSource] = field(default_factory=lambda: Store("live_versions"))
    waiting_for: Store[WaitSource] = field(default_factory=lambda: Store("waiting_for"))


registry = Registry()


def live_versions(model_ids: list[int]) -> dict[int, list[Live]]:
    """Where each model's versions serve (``registry.live_versions``), production first."""
    found: dict[int, list[Live]] = {}
    for source in registry.live_versions:
        for model_id, live in source(model_ids).items():
            found.setdefault(model_id, []).extend(live)
    for live in found.values():
        live.sort(key=lambda row: (not row.is_production, row.environment, row.is_challenger))
    return found


def waiting_for(version: Any) -> list[str]:
    """Whom or what ``version`` waits for (``registry.waiting_for``), one phrase each."""
    return [phrase for source in registry.waiting_for for phrase in source(version)]
