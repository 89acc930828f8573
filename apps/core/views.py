"""The base of every HTML view of the portal.

``PortalView.dispatch`` signs the person in (or sends them to the sign-in page) and restricts
``self.queryset`` to the rows they may view before any handler runs, the way NetBox's
``ObjectPermissionRequiredMixin`` does: a handler reads ``self.queryset`` / ``get_object`` and
cannot forget the scoping. Whether the person may *act* on what they see is the service's check
(403); what they may not see does not exist for them (404). A view that reads no governed rows
(the dashboard, a person's own inbox) leaves ``queryset`` as None.

``tests/test_urls.py`` walks the URLconf: every routed view is a ``PortalView`` or a
``ScopedAPIView`` (or named there as public: sign-in, health, serving).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect
from django.views import View

from apps.core.errors import Conflict
from apps.core.permissions import not_found_message, require, user_of, visible_to
from apps.core.registry import Flag, Section, Store, live_versions, registry


def refuse_unscoped_overrides(cls: type, forbidden: tuple[str, ...]) -> None:
    """A subclass narrowing the rows in ``get_queryset`` (or skipping ``dispatch``) could forget
    the scoping: refuse it when the class is defined (PostHog's ``safely_get_queryset`` idea)."""
    for name in forbidden:
        if name in cls.__dict__:
            raise TypeError(
                f"{cls.__qualname__} overrides {name}(): narrow the scoped rows in "
                "filter_scoped() instead, so that nothing reaches a handler unrestricted"
            )


class PortalView(View):
    queryset: QuerySet[Any] | None = None
    # A role capability the whole page needs (a Django permission or a registered rule), checked
    # before any handler: 403 with ``permission_message``.
    permission_required = ""
    permission_message = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        refuse_unscoped_overrides(cls, ("get_queryset", "dispatch"))

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if self.permission_required:
            require(request.user, self.permission_required, message=self.permission_message)
        if self.queryset is not None:
            self.queryset = self.filter_scoped(visible_to(request.user, self.queryset.all()))
        return super().dispatch(request, *args, **kwargs)

    def filter_scoped(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """Narrow the already scoped rows, e.g. to the model named in the URL."""
        return queryset

    @property
    def person(self) -> User:
        """The signed-in person (``dispatch`` let no one else in)."""
        return user_of(self.request)

    def get_object(self, **lookup: Any) -> Any:
        """One row of the scoped queryset, or 404 saying nothing of what exists."""
        if self.queryset is None:
            raise RuntimeError(f"{type(self).__name__} has no queryset to look objects up in")
        return scoped_get(self.queryset, **lookup)


class ActionView(PortalView):
    """A form posted about one object (a decision, a comment, a deployment): look the object up
    in the scoped queryset, check the form, run the service, say in a message how it went, and
    go back to the object's page. The service checks the rest (403) and the state (409)."""

    http_method_names = ["post"]
    form_class: type[forms.Form] | None = None
    invalid_message = "Check the form and try again."
    anchor = ""

    def target(self) -> Any:
        """The object the form is about, from the URL's keyword arguments."""
        return self.get_object(**self.kwargs)

    def perform(self, obj: Any, form: forms.Form | None) -> str:
        """Run the service; return what to tell the person."""
        raise NotImplementedError

    def next_url(self, obj: Any) -> str:
        return str(obj.get_absolute_url()) + self.anchor

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        obj = self.target()
        form = self.form_class(request.POST) if self.form_class is not None else None
        if form is not None and not form.is_valid():
            messages.error(request, self.invalid_message)
        else:
            try:
                done = self.perform(obj, form)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            except Conflict as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, done)
        return redirect(self.next_url(obj))


M = TypeVar("M", bound=Model)


def scoped_get(queryset: QuerySet[M], **lookup: Any) -> M:
    """One row of an already restricted queryset, or a 404 that says nothing of what exists:
    for a second object a handler looks up (a version's model page also lists its versions)."""
    try:
        return queryset.get(**lookup)
    except (ObjectDoesNotExist, ValueError, ValidationError):
        value = lookup.get("slug") or lookup.get("number") or ""
        raise Http404(not_found_message(queryset.model._meta.verbose_name, value)) from None


def flag_models(models: Iterable[Any], key: Callable[[Any], int] = lambda row: row.pk) -> None:
    """Set ``flags`` on each row of a listed page: the marks other apps put on its model
    (``registry.model_flags``), asked once per page."""
    rows = list(models)
    ids = [key(row) for row in rows]
    found: dict[int, list[Flag]] = {}
    for source in registry.model_flags:
        for model_id, flags in source(ids).items():
            found.setdefault(model_id, []).extend(flags)
    for row in rows:
        row.flags = found.get(key(row), [])


def live_models(models: Iterable[Any], key: Callable[[Any], int] = lambda row: row.pk) -> None:
    """Set ``live`` on each row of a listed page: where its model's versions serve, production
    first (``registry.live_versions``), asked once per page."""
    rows = list(models)
    found = live_versions([key(row) for row in rows])
    for row in rows:
        row.live = found.get(key(row), [])


def contributed(
    store: Store[Callable[[HttpRequest, Any], list[Section]]], request: HttpRequest, obj: Any
) -> list[Section]:
    """The sections the apps registered in ``store`` give for ``obj``, in their order."""
    found = [section for source in store for section in source(request, obj)]
    return sorted(found, key=lambda section: section.order)
