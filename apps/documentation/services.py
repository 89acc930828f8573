"""Writing, freezing and exporting a version's documentation; the template and the policies.

The narrative of a version lives in its latest ``Revision``. While that revision is a draft it is
edited in place; the review that approves the version freezes it (``freeze``, called by the
reviews app through ``registry.version_approved``) with a snapshot of the whole document, and an
edit after that starts the next revision. A version without a revision of its own reads its
model's previous version's text: a new version starts from where the last one left off.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from plotly.offline import get_plotlyjs

from apps.audit import services as audit
from apps.core import formats
from apps.core.audit_actions import AuditAction
from apps.core.errors import Conflict
from apps.core.markdown import render_markdown
from apps.core.permissions import require
from apps.core.registry import DocumentPart, JobKind
from apps.core.registry import registry as contributions
from apps.documentation import blocks, facts
from apps.documentation.document import Document, Part, Table
from apps.documentation.models import DocumentationPolicy, Export, Revision, Template
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.registry import services as registry
from apps.registry import storage
from apps.registry.models import ModelVersion, RegisteredModel

WRITE = "documentation.write"
CHANGE_TEMPLATE = "documentation.add_template"
CHANGE_POLICY = "documentation.change_documentationpolicy"
MAX_SECTION = 50_000  # characters of Markdown in one section


def url_of(version: ModelVersion) -> str:
    return reverse("documentation:document", args=[version.model.slug, version.number])


def check_can_write(actor: User, version: ModelVersion) -> None:
    """The people who may upload the model's versions write their documentation."""
    require(
        actor,
        "registry.add_modelversion",
        message="The model's data scientists write its documentation.",
    )
    require(
        actor, registry.CHANGE, version.model, "You may read this documentation but not edit it."
    )


# --- Reading ----------------------------------------------------------------------------------


def current_template() -> Template:
    template = Template.objects.order_by("-number").first()
    if template is None:  # migration 0002 installs the first one
        raise RuntimeError("no documentation template: run the migrations")
    return template


def current_policy(risk_tier: str) -> DocumentationPolicy | None:
    return DocumentationPolicy.objects.filter(risk_tier=risk_tier, is_current=True).first()


def revisions_of(version: ModelVersion) -> list[Revision]:
    return list(
        Revision.objects.filter(version=version).select_related(
            "edited_by", "created_by", "template"
        )
    )


def latest_revision(version: ModelVersion) -> Revision | None:
    return Revision.objects.filter(version=version).order_by("-number").first()


def inherited_narrative(version: ModelVersion) -> dict[str, str]:
    """The text a version without a revision starts from: its model's latest earlier version's."""
    earlier = (
        Revision.objects.filter(
            version__model_id=version.model_id, version__number__lt=version.number
        )
        .order_by("-version__number", "-number")
        .first()
    )
    return dict(earlier.narrative) if earlier else {}


def working_narrative(version: ModelVersion) -> dict[str, str]:
    latest = latest_revision(version)
    return dict(latest.narrative) if latest else inherited_narrative(version)


def _parts(version: ModelVersion, template: Template, narrative: dict[str, str]) -> list[Part]:
    parts = []
    for section in template.sections:
        common = {"key": section["key"], "title": section["title"], "mapping": section["mapping"]}
        if section["kind"] == "narrative":
            text = narrative.get(section["key"], "").strip()
            parts.append(
                Part(
                    **common,
                    kind="narrative",
                    html=render_markdown(text) if text else "",
                    empty="Not written yet.",
                )
            )
        else:
            filled = facts.BUILDERS[section["kind"]](version)
            parts.append(
                Part(
                    **common,
                    kind="facts",
                    facts=filled.facts,
                    tables=filled.tables,
                    charts=filled.charts,
                    empty=filled.empty,
                )
            )
    return _with_contributed(parts, version)


def _contributed(given: DocumentPart) -> Part:
    # The contributing app hands plain text: its intro becomes an escaped paragraph here, so
    # the page, the HTML file and the PDF and Word files all treat it as text.
    return Part(
        key=given.key,
        title=given.title,
        kind="facts",
        mapping=dict(given.mapping),
        html=f"<p>{escape(given.intro)}</p>" if given.intro.strip() else "",
        facts=[(str(label), str(value)) for label, value in given.facts],
        tables=[
            Table([str(c) for c in columns], [[str(v) for v in row] for row in rows], caption)
            for caption, columns, rows in given.tables
        ],
    )


def _with_contributed(parts: list[Part], version: ModelVersion) -> list[Part]:
    """The template's parts with those other apps contribute (``registry.documentation_parts``),
    each after the section it names. An app with nothing about the version contributes nothing,
    so the document has no empty heading for it."""
    for source in contributions.documentation_parts:
        for given in source(version):
            at = next((i + 1 for i, p in enumerate(parts) if p.key == given.after), len(parts))
            parts.insert(at, _contributed(given))
    return parts


def _title(version: ModelVersion) -> str:
    return f"{version.model.name} version {version.number}: model documentation"


def _stamp(moment: Any) -> str:
    return formats.when_with_zone(moment)


def document_of(version: ModelVersion, revision: Revision | None = None) -> Document:
    """The document of ``revision`` (the latest by default): a frozen one as it was approved,
    a draft with today's facts."""
    revision = revision if revision is not None else latest_revision(version)
    if revision is not None and revision.is_frozen:
        assert revision.snapshot is not None
        return Document.from_json(revision.snapshot)
    narrative = revision.narrative if revision else inherited_narrative(version)
    label = (
        f"Revision {revision.number}, draft"
        if revision
        else "Not saved yet: the previous version's text"
    )
    return Document(
        title=_title(version),
        subtitle=label,
        generated=_stamp(timezone.now()),
        parts=_parts(version, current_template(), narrative),
    )


def missing_sections(version: ModelVersion) -> list[str]:
    """The titles of the required narrative sections still empty (a review waits for them)."""
    policy = current_policy(version.model.risk_tier)
    if policy is None or not policy.required:
        return []
    narrative = working_narrative(version)
    titles = {s["key"]: s["title"] for s in current_template().narrative_sections}
    return [titles.get(key, key) for key in policy.required if not narrative.get(key, "").strip()]


def review_blockers(version: ModelVersion) -> list[str]:
    """What the documentation says against a review (``registry.review_blockers``)."""
    missing = missing_sections(version)
    if not missing:
        return []
    return ["the documentation's required sections are empty: " + ", ".join(missing)]


# --- Writing ----------------------------------------------------------------------------------


@transaction.atomic
def save_narrative(version_id: int, *, actor: User, sections: dict[str, str]) -> Revision:
    """Store the narrative sections given (the others keep their text). A draft revision is
    edited in place; after approval the first edit starts the next revision."""
    version = ModelVersion.objects.select_for_update().select_related("model").get(pk=version_id)
    check_can_write(actor, version)
    if version.status == ModelVersion.Status.RETIRED:
        raise Conflict(f"Version {version.number} is retired; its documentation stays as it is.")
    template = current_template()
    known = {s["key"] for s in template.narrative_sections}
    unknown = set(sections) - known
    if unknown:
        raise ValidationError(
            f"The template has no narrative section {', '.join(sorted(unknown))}."
        )
    too_long = [key for key, text in sections.items() if len(text) > MAX_SECTION]
    if too_long:
        raise ValidationError(
            f"Keep each section under {MAX_SECTION:,} characters ({', '.join(too_long)})."
        )
    latest = (
        Revision.objects.select_for_update().filter(version=version).order_by("-number").first()
    )
    before = dict(latest.narrative) if latest else inherited_narrative(version)
    after = {**before, **{key: text.strip() for key, text in sections.items()}}
    after = {key: text for key, text in after.items() if text}
    changed = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
    starts_revision = latest is None or latest.is_frozen
    if not changed and not starts_revision:
        return latest  # type: ignore[return-value]
    if starts_revision:
        revision = Revision.objects.create(
            version=version,
            number=(latest.number if latest else 0) + 1,
            template=template,
            narrative=after,
            created_by=actor,
            edited_by=actor,
        )
    else:
        assert latest is not None
        revision = latest
        revision.narrative, revision.template, revision.edited_by = after, template, actor
        revision.save(update_fields=["narrative", "template", "edited_by", "edited_at"])
    audit.record(
        actor,
        AuditAction.DOCUMENTATION_EDITED,
        revision,
        before={key: before.get(key, "") for key in changed},
        after={"revision": revision.number, **{key: after.get(key, "") for key in changed}},
    )
    return revision


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def freeze(version: ModelVersion, actor: User) -> dict[str, Any]:
    """Freeze the version's documentation as approved, in the approving decision's transaction
    (``registry.version_approved``); returns what joins that decision's audit record."""
    latest = (
        Revision.objects.select_for_update().filter(version=version).order_by("-number").first()
    )
    if latest is None or latest.is_frozen:
        latest = Revision.objects.create(
            version=version,
            number=(latest.number if latest else 0) + 1,
            template=current_template(),
            narrative=latest.narrative if latest else inherited_narrative(version),
            created_by=actor,
            edited_by=actor,
        )
    now = timezone.now()
    live = document_of(version, latest)
    document = Document(
        title=live.title,
        subtitle=f"Revision {latest.number}, approved {_stamp(now)} (frozen)",
        generated=_stamp(now),
        parts=live.parts,
    )
    latest.snapshot = document.to_json()
    latest.status, latest.frozen_at = Revision.Status.APPROVED, now
    latest.save(update_fields=["snapshot", "status", "frozen_at"])
    digest = _digest(latest.snapshot)
    audit.record(
        actor,
        AuditAction.DOCUMENTATION_FROZEN,
        latest,
        after={"revision": latest.number, "snapshot_sha256": digest},
    )
    return {
        "documentation": f"revision {latest.number} frozen as approved",
        "snapshot_sha256": digest,
    }


# --- Comparing revisions ----------------------------------------------------------------------


def _lines(part: Part) -> list[str]:
    """A part as lines of text, for a diff a person can read."""
    if part.kind == "narrative":
        return [line for b in blocks.parse_blocks(part.html) for line in _text(b)] or ["(empty)"]
    lines = [f"{label}: {value}" for label, value in part.facts]
    for table in part.tables:
        lines.append(f"[{table.caption or 'table'}]")
        lines += [" | ".join(row) for row in table.rows]
    lines += [
        f"[chart] {c.get('layout', {}).get('title', {}).get('text', '')}" for c in part.charts
    ]
    return lines or [part.empty]


def _text(block: blocks.Block) -> list[str]:
    """The lines of one block of the narrative, as the exports read it (``blocks``)."""
    if isinstance(block, blocks.ListItem):
        return [f"- {blocks.plain_text(block.runs)}"]
    if isinstance(block, blocks.CodeBlock):
        return block.text.splitlines()
    if isinstance(block, blocks.TableBlock):
        return [" | ".join(row) for row in [*block.header, *block.body]]
    if isinstance(block, blocks.Rule):
        return ["---"]
    return [blocks.plain_text(block.runs)]


@dataclass(frozen=True)
class PartDiff:
    title: str
    lines: list[tuple[str, str]]  # (" " | "+" | "-", text)

    @property
    def changed(self) -> bool:
        return any(sign != " " for sign, _ in self.lines)


def diff(old: Document, new: Document) -> list[PartDiff]:
    """Part by part, what changed from ``old`` to ``new`` (parts matched by key)."""
    before = {p.key: p for p in old.parts}
    result = []
    for part in new.parts:
        previous = before.pop(part.key, None)
        a = _lines(previous) if previous else []
        b = _lines(part)
        lines = [(line[0], line[2:]) for line in difflib.ndiff(a, b) if line[:1] in {" ", "+", "-"}]
        result.append(PartDiff(part.title, lines))
    result += [PartDiff(p.title, [("-", line) for line in _lines(p)]) for p in before.values()]
    return result


# --- Exports ----------------------------------------------------------------------------------


def render(document: Document, format: str) -> bytes:
    """The document as a file of ``format`` (Export.Format)."""
    if format == Export.Format.HTML:
        return render_to_string(
            "documentation/offline.html", {"document": document, "plotly_js": get_plotlyjs()}
        ).encode()
    if format == Export.Format.PDF:
        from apps.documentation.pdf import render_pdf

        return render_pdf(document)
    if format == Export.Format.DOCX:
        from apps.documentation.word import render_docx

        return render_docx(document)
    raise ValueError(f"unknown export format {format!r}")


def file_response(export: Export) -> FileResponse:
    """A stored export as an attachment, with the digest the audit trail holds for it."""
    return storage.attachment(export.key, export.download_name, export.sha256)


def _revisions_seen(user: User) -> Any:
    return Revision.objects.restrict(user)


EXPORT = JobKind(
    name="documentation.export",
    task="documentation.export",
    queue="default",
    scope=_revisions_seen,
    time_limit=600,
)


@transaction.atomic
def request_export(revision_id: int, *, actor: User, format: str) -> Export:
    """Queue the making of one file; the worker stores it and audits its SHA-256 (``attempt``)."""
    revision = Revision.objects.select_related("version__model").get(pk=revision_id)
    require(actor, registry.VIEW_VERSION, revision.version)
    if format not in Export.Format.values:
        raise ValidationError({"format": f"Choose one of: {', '.join(Export.Format.values)}."})
    job = jobs.create_job(kind=EXPORT, target=revision, actor=actor)
    export = Export.objects.create(revision=revision, format=format, job=job, requested_by=actor)
    Job.objects.filter(pk=job.pk).update(payload={"export": export.pk})
    return export


def write_export(job: Job) -> tuple[Export, storage.Blob]:
    export = Export.objects.select_related("revision__version__model", "requested_by").get(job=job)
    revision = export.revision
    jobs.report_progress(job, 10, "Reading the records")
    document = document_of(revision.version, revision)
    jobs.report_progress(job, 50, f"Writing the {export.get_format_display()} file")
    data = render(document, export.format)
    jobs.report_progress(job, 90, "Storing the file")
    return export, storage.save(io.BytesIO(data))


def store_export(job: Job, made: tuple[Export, storage.Blob]) -> dict[str, Any]:
    export, blob = made
    Export.objects.filter(pk=export.pk).update(key=blob.key, size=blob.size, sha256=blob.sha256)
    audit.record(
        export.requested_by,
        AuditAction.DOCUMENTATION_EXPORTED,
        export.revision,
        after={
            "export": export.pk,
            "format": export.format,
            "revision": export.revision.number,
            "revision_status": export.revision.status,
            "sha256": blob.sha256,
            "bytes": blob.size,
        },
    )
    return {"export": export.pk, "sha256": blob.sha256, "bytes": blob.size}


def attempt(job_uuid: str, *, worker: str) -> None:
    """One attempt of an export job (the ``documentation.export`` task)."""
    jobs.run(job_uuid, worker=worker, execute=write_export, commit=store_export)


# --- Template and policies --------------------------------------------------------------------

_SECTION_FIELDS = {"key", "title", "kind", "help", "mapping"}


def _checked_sections(sections: Any) -> list[dict[str, Any]]:
    if not isinstance(sections, list) or not sections:
        raise ValidationError("The template is a non-empty list of sections.")
    seen: set[str] = set()
    kinds = {"narrative", *facts.BUILDERS}
    for i, section in enumerate(sections, 1):
        if not isinstance(section, dict) or not {"key", "title", "kind"} <= set(section):
            raise ValidationError(f"Section {i} needs a key, a title and a kind.")
        extra = set(section) - _SECTION_FIELDS
        if extra:
            raise ValidationError(f"Section {i} has unknown fields: {', '.join(sorted(extra))}.")
        key = section["key"]
        if not isinstance(key, str) or not key.isidentifier() or key in seen:
            raise ValidationError(f"Section {i}: the key {key!r} must be a unique identifier.")
        seen.add(key)
        if section["kind"] not in kinds:
            raise ValidationError(
                f"Section {i} ({key}): the kind must be one of {', '.join(sorted(kinds))}."
            )
        mapping = section.get("mapping", {})
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise ValidationError(f"Section {i} ({key}): the mapping is framework → heading.")
        if not str(section["title"]).strip():
            raise ValidationError(f"Section {i} ({key}) needs a title.")
        section.setdefault("help", "")
        section.setdefault("mapping", {})
    return sections


@transaction.atomic
def update_template(*, actor: User, sections: Any, note: str) -> Template:
    require(
        actor, CHANGE_TEMPLATE, message="Only administrators change the documentation template."
    )
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Say why the template changes: it is part of the record."})
    sections = _checked_sections(sections)
    current = Template.objects.select_for_update().order_by("-number").first()
    if current is not None and current.sections == sections:
        raise ValidationError("This is the current template already.")
    template = Template.objects.create(
        number=(current.number if current else 0) + 1,
        sections=sections,
        note=note[:300],
        created_by=actor,
    )
    audit.record(
        actor,
        AuditAction.DOCUMENTATION_TEMPLATE_CHANGED,
        template,
        before={"number": current.number, "sections": current.sections} if current else None,
        after={"number": template.number, "sections": sections, "note": template.note},
    )
    return template


@transaction.atomic
def update_policy(
    *, actor: User, risk_tier: str, required: list[str], note: str
) -> DocumentationPolicy:
    require(actor, CHANGE_POLICY, message="Only administrators change documentation policies.")
    if risk_tier not in RegisteredModel.RiskTier.values:
        raise ValidationError({"risk_tier": "Choose high, medium or low."})
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Say why the policy changes: it is part of the record."})
    known = [s["key"] for s in current_template().narrative_sections]
    unknown = set(required) - set(known)
    if unknown:
        raise ValidationError(
            f"The template has no narrative section {', '.join(sorted(unknown))}."
        )
    required = [key for key in known if key in required]  # the template's order
    current = (
        DocumentationPolicy.objects.select_for_update()
        .filter(risk_tier=risk_tier, is_current=True)
        .first()
    )
    if current is not None:
        current.is_current = False
        current.save(update_fields=["is_current"])
    number = (
        max(
            DocumentationPolicy.objects.filter(risk_tier=risk_tier).values_list(
                "number", flat=True
            ),
            default=0,
        )
        + 1
    )
    policy = DocumentationPolicy.objects.create(
        risk_tier=risk_tier, number=number, required=required, note=note[:300], created_by=actor
    )
    audit.record(
        actor,
        AuditAction.DOCUMENTATION_POLICY_CHANGED,
        policy,
        before={"number": current.number, "required": current.required} if current else None,
        after={"number": number, "required": required, "note": policy.note},
    )
    return policy
