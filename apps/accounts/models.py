from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone

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
