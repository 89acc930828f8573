"""State changes of the registry: registering and editing models, uploading versions, sharing.

Each function checks who may act, runs in one transaction, and audits what it changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.text import slugify
from guardian.shortcuts import assign_perm, get_groups_with_perms, get_users_with_perms, remove_perm

from apps.accounts.models import Team
from apps.accounts.roles import Role, has_role
from apps.audit import services as audit
from apps.core.audit_actions import AuditAction
from apps.core.permissions import can, require
from apps.core.registry import registry as contributions
from apps.registry import storage, uploads
from apps.registry.models import (
    ModelVersion,
    RegisteredModel,
    RegisteredModelGroupObjectPermission,
    StoredFile,
    Tag,
)

VIEW = "registry.view_registeredmodel"
CHANGE = "registry.change_registeredmodel"
SHARE = "registry.share_registeredmodel"
# Model operations' access from a model's first review request: the model, its deployments and
# keys, and the versions submitted for review (not the team's drafts).
OPERATE = "registry.operate_registeredmodel"
VIEW_VERSION = "registry.view_modelversion"
# The administrators' capability: register models for any team, allow pickle artifacts.
ADMINISTER = "registry.administer_registeredmodel"
LEVELS = {"view": [VIEW], "change": [VIEW, CHANGE]}

EDITABLE = ["name", "description", "use_case", "tags"]
ADMIN_ONLY = ["pickle_allowed"]
# Who answers for a model and how risky it is: changed only through reviews.services'
# propose_change/decide_change, never by the owning team alone.
GOVERNED = ["risk_owner", "team", "risk_tier"]


def _snapshot(model: RegisteredModel) -> dict[str, Any]:
    return {
        "name": model.name,
        "description": model.description,
        "use_case": model.use_case,
        "team": model.team.slug,
        "risk_tier": model.risk_tier,
        "risk_owner": model.risk_owner.username,
        "tags": sorted(model.tags.values_list("name", flat=True)),
        "pickle_allowed": model.pickle_allowed,
    }


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "model"
    slug, n = base, 2
    while RegisteredModel.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _tags(names: Iterable[str]) -> list[Tag]:
    cleaned = sorted({slugify(n)[:50] for n in names if slugify(n)})
    return [Tag.objects.get_or_create(name=n)[0] for n in cleaned]


def _check_risk_owner(user: User) -> None:
    if not has_role(user, Role.RISK_OWNER):
        raise ValidationError({"risk_owner": f"{user.username} does not hold the risk owner role."})


def _grant_ownership(model: RegisteredModel) -> None:
    """The access that follows from registering: team, risk owner, compliance."""
    for perm in (VIEW, CHANGE, SHARE):
        assign_perm(perm, model.team.group, model)
    assign_perm(VIEW, model.risk_owner, model)
    assign_perm(VIEW, Group.objects.get(name=Role.COMPLIANCE), model)


def move_team_access(model: RegisteredModel, old_team: Team) -> None:
    """The owning team changed (the caller, a governed change, audits it): the old team's access
    goes, the new team's comes."""
    for perm in (VIEW, CHANGE, SHARE):
        remove_perm(perm, old_team.group, model)
    _grant_ownership(model)


def move_risk_owner_access(model: RegisteredModel, old: User, *, keep_old: bool) -> None:
    """The risk owner changed (the caller audits it). ``keep_old``: the former risk owner still
    holds the sign-off of an open review, so keeps seeing the model until it closes."""
    if not keep_old:
        remove_perm(VIEW, old, model)
    assign_perm(VIEW, model.risk_owner, model)


def grant_model_operations(model: RegisteredModel) -> bool:
    """IT runs production for the whole bank: from a model's first review request, model
    operations see it, its deployments and keys, and its submitted versions. True if granted
    now (the caller, the review request, records it)."""
    group = Group.objects.get(name=Role.MODEL_OPS)
    held = RegisteredModelGroupObjectPermission.objects.filter(
        group=group, content_object=model, permission__codename="operate_registeredmodel"
    )
    if held.exists():
        return False
    assign_perm(OPERATE, group, model)
    return True


@transaction.atomic
def register_model(
    *,
    actor: User,
    name: str,
    use_case: str,
    team: Team,
    risk_tier: str,
    risk_owner: User,
    description: str = "",
    tags: Iterable[str] = (),
) -> RegisteredModel:
    require(actor, "registry.add_registeredmodel", message="Only data scientists register models.")
    if not can(actor, ADMINISTER) and not actor.groups.filter(pk=team.group_id).exists():
        raise PermissionDenied(f"You can register models only for your own teams, not {team}.")
    _check_risk_owner(risk_owner)
    name = name.strip()
    if RegisteredModel.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": f"A model named “{name}” already exists; choose another."})
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                slug=_unique_slug(name),
                name=name,
                description=description.strip(),
                use_case=use_case.strip(),
                team=team,
                owner=actor,
                risk_tier=risk_tier,
                risk_owner=risk_owner,
            )
    except IntegrityError:  # the same name (or slug) registered by someone at the same moment
        raise ValidationError(
            {"name": f"A model named “{name}” was registered just now; choose another name."}
        ) from None
    model.tags.set(_tags(tags))
    _grant_ownership(model)
    audit.record(
        actor, AuditAction.MODEL_REGISTERED, model, after={"slug": model.slug, **_snapshot(model)}
    )
    return model


def check_can_change(actor: User, model: RegisteredModel) -> None:
    require(actor, CHANGE, model, "You may view this model but not change it.")


def check_can_share(actor: User, model: RegisteredModel) -> None:
    require(actor, SHARE, model, "Only the owning team and administrators share this model.")


def check_can_upload(actor: User, model: RegisteredModel) -> None:
    require(actor, "registry.add_modelversion", message="Only data scientists upload versions.")
    require(actor, CHANGE, model, "You may view this model but not upload versions to it.")


@transaction.atomic
def update_model(model_id: int, *, actor: User, changes: dict[str, Any]) -> RegisteredModel:
    """Edit a model's details; allowing pickle is for admins. The risk owner, team and risk tier
    are governed changes (``reviews.changes.propose_change``): asked to change them here, this
    refuses and says where to propose it; the same value again is no change."""
    model = RegisteredModel.objects.select_for_update().get(pk=model_id)
    check_can_change(actor, model)
    changes = {k: v for k, v in changes.items() if not (k in GOVERNED and _same(model, k, v))}
    unknown = set(changes) - set(EDITABLE) - set(ADMIN_ONLY) - set(GOVERNED)
    if unknown:
        raise ValidationError(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
    if governed := [f for f in GOVERNED if f in changes]:
        names = ", ".join(f.replace("_", " ") for f in governed)
        raise PermissionDenied(
            f"The {names} of a model is a governed change: propose it on the model page (or POST "
            f"/api/v1/models/{model.slug}/changes/), and the model's risk owner or compliance "
            "approves it."
        )
    if set(changes) & set(ADMIN_ONLY) and not can(actor, ADMINISTER):
        raise PermissionDenied("Only administrators allow pickle artifacts for a model.")
    before = _snapshot(model)
    if "name" in changes:
        name = str(changes["name"]).strip()
        if RegisteredModel.objects.filter(name__iexact=name).exclude(pk=model.pk).exists():
            raise ValidationError({"name": f"A model named “{name}” already exists."})
        model.name = name
    for field in ("description", "use_case", "pickle_allowed"):
        if field in changes:
            setattr(model, field, changes[field])
    model.full_clean(exclude=["latest_version"])
    model.save()
    if "tags" in changes:
        model.tags.set(_tags(changes["tags"]))
    old, new = audit.changed(before, _snapshot(model))
    if new:
        audit.record(actor, AuditAction.MODEL_UPDATED, model, before=old, after=new)
    return model


def _same(model: RegisteredModel, field: str, value: Any) -> bool:
    """Whether a governed field's requested value is what the model already has."""
    current = getattr(model, field)
    return bool(current == value or getattr(current, "pk", object()) == getattr(value, "pk", None))


# --- Sharing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """Who may see or change a model, and whether that follows from ownership."""

    kind: str  # "user" or "group"
    name: str
    level: str  # "view" or "change"
    reason: str  # "owning team", "risk owner", "compliance" or "shared"

    @property
    def grantee_id(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def revocable(self) -> bool:
        return self.reason == "shared"


def access_list(model: RegisteredModel) -> list[Grant]:
    grants: list[Grant] = []
    by_group = cast(dict[Group, list[str]], get_groups_with_perms(model, attach_perms=True))
    by_user = cast(
        dict[User, list[str]],
        get_users_with_perms(model, attach_perms=True, with_group_users=False),
    )
    for group, perms in by_group.items():
        if group.pk == model.team.group_id:
            reason = "owning team"
        elif group.name == Role.COMPLIANCE:
            reason = "compliance"
        elif group.name == Role.MODEL_OPS and perms == ["operate_registeredmodel"]:
            grants.append(Grant("group", group.name, "submitted versions", "model operations"))
            continue
        else:
            reason = "shared"
        level = "change" if "change_registeredmodel" in perms else "view"
        grants.append(Grant("group", group.name, level, reason))
    for user, perms in by_user.items():
        level = "change" if "change_registeredmodel" in perms else "view"
        reason = "risk owner" if user.pk == model.risk_owner_id else "shared"
        grants.append(Grant("user", user.username, level, reason))
    order = {"owning team": 0, "risk owner": 1, "compliance": 2, "model operations": 3, "shared": 4}
    return sorted(grants, key=lambda g: (order[g.reason], g.kind, g.name))


def _grantee(grantee: User | Group | str) -> User | Group:
    return resolve_grantee(grantee) if isinstance(grantee, str) else grantee


def resolve_grantee(grantee_id: str) -> User | Group:
    """``user:<username>`` or ``group:<name>`` (a team's group is ``team:<slug>``)."""
    kind, _, name = grantee_id.partition(":")
    try:
        if kind == "user":
            return User.objects.get(username=name, is_active=True)
        if kind == "group":
            return Group.objects.get(name=name)
    except (User.DoesNotExist, Group.DoesNotExist):
        raise ValidationError({"grantee": f"There is no {kind} named “{name}”."}) from None
    raise ValidationError({"grantee": "Name a grantee as user:<username> or group:<name>."})


def _grantee_label(grantee: User | Group) -> str:
    return f"user:{grantee.username}" if isinstance(grantee, User) else f"group:{grantee.name}"


def _is_ownership_grant(model: RegisteredModel, grantee: User | Group) -> bool:
    if isinstance(grantee, User):
        return grantee.pk == model.risk_owner_id
    return grantee.pk == model.team.group_id or grantee.name == Role.COMPLIANCE


@transaction.atomic
def share_model(model_id: int, *, actor: User, grantee: User | Group | str, level: str) -> Grant:
    """Share with a user or group, or with ``user:<name>``/``group:<name>``: a name is resolved
    only after the permission check, so that a refusal tells nobody who exists."""
    model = RegisteredModel.objects.select_for_update().get(pk=model_id)
    check_can_share(actor, model)
    if level not in LEVELS:
        raise ValidationError({"level": "Share with level “view” or “change”."})
    grantee = _grantee(grantee)
    if level == "change" and (
        grantee.name == Role.COMPLIANCE
        if isinstance(grantee, Group)
        else has_role(grantee, Role.COMPLIANCE)
    ):
        raise ValidationError({"level": "Compliance is read-only: share with it for view only."})
    if _is_ownership_grant(model, grantee):
        raise ValidationError(
            {"grantee": "This access follows from ownership; change the model's details instead."}
        )
    for perm in (VIEW, CHANGE):
        if perm in LEVELS[level]:
            assign_perm(perm, grantee, model)
        else:
            remove_perm(perm, grantee, model)
    audit.record(
        actor,
        AuditAction.MODEL_SHARED,
        model,
        after={"grantee": _grantee_label(grantee), "level": level},
    )
    name = grantee.username if isinstance(grantee, User) else grantee.name
    return Grant("user" if isinstance(grantee, User) else "group", name, level, "shared")


@transaction.atomic
def unshare_model(model_id: int, *, actor: User, grantee: User | Group | str) -> None:
    model = RegisteredModel.objects.select_for_update().get(pk=model_id)
    check_can_share(actor, model)
    grantee = _grantee(grantee)
    if _is_ownership_grant(model, grantee):
        raise ValidationError(
            {"grantee": "This access follows from ownership and cannot be revoked here."}
        )
    label = _grantee_label(grantee)
    if not any(g.grantee_id == label for g in access_list(model)):
        raise ValidationError({"grantee": f"The model is not shared with {label}."})
    for perm in (VIEW, CHANGE):
        remove_perm(perm, grantee, model)
    audit.record(actor, AuditAction.MODEL_UNSHARED, model, before={"grantee": label}, after=None)


# --- Versions ---------------------------------------------------------------------------------


@dataclass
class IncomingFile:
    role: str
    upload: UploadedFile
    file_format: str
    details: dict[str, Any]


def _checked_files(
    model: RegisteredModel,
    *,
    artifact: UploadedFile | None,
    holdout: UploadedFile | None,
    target_column: str,
    sensitive_column: str,
    reference: UploadedFile | None,
) -> list[IncomingFile]:
    """Every check that can refuse the upload, done before a byte is stored."""
    if artifact is None:
        raise uploads.UploadRefused("artifact", "Attach the model artifact.")
    if holdout is None:
        raise uploads.UploadRefused("holdout", "Attach the holdout data set.")
    uploads.check_size("artifact", artifact.size or 0, uploads.file_limit("artifact"))
    artifact.seek(0)
    fmt = uploads.artifact_format(
        artifact.name or "", artifact.read(8), pickle_allowed=model.pickle_allowed
    )
    if fmt == "skops":
        uploads.check_skops_archive(artifact.name or "", artifact)
    files = [IncomingFile(StoredFile.Role.ARTIFACT, artifact, fmt, {})]

    uploads.check_size("holdout", holdout.size or 0, uploads.file_limit("holdout"))
    holdout_info = uploads.inspect_dataset("holdout", holdout.name or "", holdout)
    uploads.check_target(holdout_info, target_column)
    uploads.check_sensitive(holdout_info, sensitive_column, target_column)
    files.append(
        IncomingFile(
            StoredFile.Role.HOLDOUT, holdout, holdout_info.file_format, holdout_info.as_details()
        )
    )
    if reference is not None:
        uploads.check_size("reference", reference.size or 0, uploads.file_limit("reference"))
        reference_info = uploads.inspect_dataset("reference", reference.name or "", reference)
        uploads.check_reference(holdout_info, reference_info, target_column.strip())
        files.append(
            IncomingFile(
                StoredFile.Role.REFERENCE,
                reference,
                reference_info.file_format,
                reference_info.as_details(),
            )
        )
    return files


def upload_version(
    model_id: int,
    *,
    actor: User,
    artifact: UploadedFile | None,
    holdout: UploadedFile | None,
    target_column: str,
    reference: UploadedFile | None = None,
    sensitive_column: str = "",
    notes: str = "",
) -> ModelVersion:
    """Store a new version's files, create the version numbered after the model's last, and
    queue its validation."""
    model = RegisteredModel.objects.get(pk=model_id)
    check_can_upload(actor, model)
    target_column, sensitive_column = target_column.strip(), sensitive_column.strip()
    incoming = _checked_files(
        model,
        artifact=artifact,
        holdout=holdout,
        target_column=target_column,
        sensitive_column=sensitive_column,
        reference=reference,
    )
    blobs: list[storage.Blob] = []
    # Files are stored first and removed again if anything after fails, so that no stored blob
    # is left without the rows that refer to it.
    try:
        for item in incoming:
            blobs.append(storage.save(item.upload))
        columns = {"target_column": target_column, "sensitive_column": sensitive_column}
        return _create_version(model_id, actor, incoming, blobs, columns, notes)
    except BaseException:
        storage.delete([b.key for b in blobs])
        raise


@transaction.atomic
def _create_version(
    model_id: int,
    actor: User,
    incoming: list[IncomingFile],
    blobs: list[storage.Blob],
    columns: dict[str, str],
    notes: str,
) -> ModelVersion:
    model = RegisteredModel.objects.select_for_update().get(pk=model_id)
    number = (model.versions.aggregate(last=Max("number"))["last"] or 0) + 1
    try:
        version = ModelVersion.objects.create(
            model=model,
            number=number,
            artifact_format=incoming[0].file_format,
            notes=notes.strip(),
            **columns,
            uploaded_by=actor,
        )
    except IntegrityError:  # unreachable while the model row is locked; kept as a clear error
        raise ValidationError("Another upload took this version number; try again.") from None
    files = {}
    for item, blob in zip(incoming, blobs, strict=True):
        StoredFile.objects.create(
            version=version,
            role=item.role,
            key=blob.key,
            original_name=(item.upload.name or "")[:255],
            file_format=item.file_format,
            size=blob.size,
            sha256=blob.sha256,
            details=item.details,
        )
        files[item.role] = {"name": item.upload.name, "size": blob.size, "sha256": blob.sha256}
    model.latest_version = version
    model.version_count = number
    model.save(update_fields=["latest_version", "version_count", "updated_at"])
    # What follows an upload (validation queues its job) is registered by the apps above.
    followed: dict[str, Any] = {}
    for follow in contributions.version_uploaded:
        followed.update(follow(version, actor))
    audit.record(
        actor,
        AuditAction.VERSION_UPLOADED,
        version,
        after={
            "model": model.slug,
            "number": number,
            **columns,
            "files": files,
            **followed,
        },
    )
    return version
