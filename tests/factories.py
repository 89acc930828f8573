from __future__ import annotations

import factory
from django.contrib.auth.models import Group, User

from apps.accounts.models import Team


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())
    group = factory.LazyAttribute(lambda t: Group.objects.get_or_create(name=f"team:{t.slug}")[0])


class UserFactory(factory.django.DjangoModelFactory):
    """A user with a role (a group from the roles migration) and optionally a team."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.LazyAttribute(lambda u: u.username.title())
    email = factory.LazyAttribute(lambda u: f"{u.username}@bank.example")

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        self.set_password(extracted or f"pw-{self.username}")
        if create:
            self.save()

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if extracted:
            self.groups.add(Group.objects.get(name=extracted))

    @factory.post_generation
    def team(self, create: bool, extracted: Team | None, **kwargs: object) -> None:
        if extracted:
            self.groups.add(extracted.group)
