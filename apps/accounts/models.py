from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from apps.accounts.roles import Role
from apps.core.permissions import Person, RestrictedQuerySet

TOKEN_PREFIX = "mlp_"  # noqa: S105 - a visible marker, not a secret


class Team(models.Model):
    """People who own models together. Backed by a group, so object permissions can go to it."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="team")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class HashedSecret:
    """Bearer secrets of which only a SHA-256 is stored: API tokens, serving keys.

    They are 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force.
    ``PREFIX`` marks what kind of secret a leaked string is.
    """

    PREFIX = ""
    name: str
    hint: str

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(RestrictedQuerySet["ApiToken"]):
    def restrict(self, user: Person, action: str = "view") -> ApiTokenQuerySet:
        """A person's tokens are theirs alone: nobody, administrators included, reads another's
        (administrators revoke them in the Django admin)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(user=user)

    def active(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(HashedSecret, models.Model):
    """A personal API token. Only its SHA-256 is stored; the token is shown once, at creation."""

    PREFIX = TOKEN_PREFIX

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12, help_text="The first characters, to recognise it by.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.expires_at > timezone.now() else "expired"


class GroupMapping(models.Model):
    """One group of the identity provider (OpenID Connect or LDAP) and the portal role or team it
    gives. Administrators edit these in the Django admin; each save and delete is audited.

    At every sign-in through the provider a person's roles and teams are set to exactly what
    their groups map to (apps.accounts.identity). Group names are compared without regard to
    case: Active Directory treats them so, and Entra ID's object ids are written either way.
    """

    provider_group = models.CharField(
        max_length=255,
        help_text="The group as the identity provider sends it: a name, an Entra ID object id, "
        "or an LDAP group DN. Case does not matter.",
    )
    role = models.CharField(
        max_length=32,
        choices=Role.choices,
        blank=True,
        help_text="The role this group gives (leave empty when it gives a team).",
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="group_mappings",
        help_text="The team this group makes a person a member of (leave empty for a role).",
    )
    note = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider_group", "role", "team__name"]
        constraints = [
            models.CheckConstraint(
                name="groupmapping_role_xor_team",
                condition=(models.Q(team__isnull=True) & ~models.Q(role=""))
                | (models.Q(team__isnull=False) & models.Q(role="")),
                violation_error_message="A mapping gives either a role or a team: choose one.",
            ),
            models.UniqueConstraint(
                Lower("provider_group"),
                "role",
                name="groupmapping_unique_role",
                condition=~models.Q(role=""),
                violation_error_message="This group already gives this role.",
            ),
            models.UniqueConstraint(
                Lower("provider_group"),
                "team",
                name="groupmapping_unique_team",
                condition=models.Q(team__isnull=False),
                violation_error_message="This group already gives this team.",
            ),
        ]

    def __str__(self) -> str:
        gives = f"team {self.team}" if self.team_id else f"role {self.get_role_display()}"
        return f"{self.provider_group} → {gives}"

    def clean(self) -> None:
        super().clean()
        if not self.provider_group.isascii():
            raise ValidationError(
                {
                    "provider_group": "Write the group name in plain ASCII letters, digits and "
                    "punctuation: names with other characters are compared unreliably (two "
                    "different-looking names can be the same), so they are not accepted."
                }
            )


class ExternalIdentityQuerySet(models.QuerySet["ExternalIdentity"]):
    def linked(self, provider: str, subject: str) -> ExternalIdentityQuerySet:
        """The link of ``subject`` at ``provider``, found by the subject's digest (indexed)."""
        return self.filter(provider=provider, subject_digest=ExternalIdentity.digest(subject))


class ExternalIdentity(models.Model):
    """The link between a portal account and a person at an identity provider.

    Found by (provider, subject), never by username: a provider's username can be re-used or
    collide with a local account's, its subject (OIDC ``sub``, LDAP DN) names one person. The
    provider is ``"oidc:<issuer>"`` or ``"ldap"``, so subjects of two issuers never meet. A
    subject can be long (a DN); uniqueness is on its SHA-256 (``subject_digest``).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    provider = models.CharField(max_length=300)
    subject = models.TextField()
    subject_digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The last sign-in or session re-check through the provider that succeeded.",
    )

    objects = ExternalIdentityQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "external identities"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "subject_digest"], name="externalidentity_unique_digest"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider}:{self.subject}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.subject_digest = self.digest(self.subject)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and "subject" in update_fields:
            kwargs["update_fields"] = {*update_fields, "subject_digest"}
        super().save(*args, **kwargs)

    @staticmethod
    def digest(subject: str) -> str:
        return hashlib.sha256(subject.encode()).hexdigest()
