"""The period and filters of the analytics pages and their API, checked in one place.

The same form serves the HTML pages (shown with the errors at their fields) and the API (a 400
naming the parameter), so a value the page would refuse is refused by the API too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from apps.accounts.models import Team
from apps.analytics import changes
from apps.core.formats import day
from apps.registry.models import RegisteredModel

DEFAULT_DAYS = 90
# Long enough for "this year against last", short enough that a typo (year 20025) is refused
# rather than scanned; the baseline year before the period needs dates after 1971 as well.
MAX_DAYS = 3 * 366
EARLIEST = date(1971, 1, 1)
LATEST = date(2999, 12, 31)


@dataclass(frozen=True)
class Period:
    """Whole days, ``first`` to ``last`` included, in the portal's time zone."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def weeks(self) -> float:
        return self.days / 7

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, timezone.get_current_timezone())

    @property
    def end(self) -> datetime:
        """The first moment after the period (exclusive)."""
        return datetime.combine(
            self.last + timedelta(days=1), time.min, timezone.get_current_timezone()
        )


def default_period(today: date | None = None) -> Period:
    last = today or timezone.localdate()
    return Period(last - timedelta(days=DEFAULT_DAYS - 1), last)


class ListSelect(forms.Select):
    """A select whose options are written in Python: Django renders each option through a
    template of its own, 20 ms for the 250 models of the benchmark's bank on every request of
    pages that must answer in a few times the audit list's 25 ms. The same markup."""

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: Any = None,
    ) -> SafeString:
        chosen = set(self.format_value(value))
        options = "".join(
            format_html(
                '<option value="{}"{}>{}</option>',
                str(key),
                mark_safe(" selected") if str(key) in chosen else "",
                label,
            )
            for key, label in self.choices
        )
        return format_html(
            '<select name="{}"{}>{}</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            mark_safe(options),  # noqa: S308 (each option escaped by format_html)
        )


class PeriodForm(forms.Form):
    """``from`` and ``to`` (both included), a model and a team, among those the person sees."""

    model = forms.ChoiceField(required=False, label="Model", widget=ListSelect)
    team = forms.ChoiceField(required=False, label="Team", widget=ListSelect)

    def __init__(self, data: Any, *, models: list[RegisteredModel]) -> None:
        super().__init__(data)
        # "from" is a Python keyword: the fields are added here to keep the URL's words.
        self.fields = {
            "from": forms.DateField(
                required=False, label="From", widget=forms.DateInput({"type": "date"})
            ),
            "to": forms.DateField(
                required=False, label="To", widget=forms.DateInput({"type": "date"})
            ),
            **self.fields,
        }
        self.models = {m.slug: m for m in models}
        teams = {m.team.slug: m.team for m in models}
        self.teams: dict[str, Team] = dict(sorted(teams.items(), key=lambda kv: kv[1].name))
        model_field, team_field = self.fields["model"], self.fields["team"]
        assert isinstance(model_field, forms.ChoiceField)
        assert isinstance(team_field, forms.ChoiceField)
        model_field.choices = [("", "All models")] + [
            (m.slug, m.name) for m in sorted(models, key=lambda m: m.name)
        ]
        team_field.choices = [("", "All teams")] + [
            (slug, team.name) for slug, team in self.teams.items()
        ]
        # Said alike of what does not exist and of what the person may not see.
        self.fields["model"].error_messages["invalid_choice"] = (
            "No model “%(value)s” is visible to you; choose one from the list."
        )
        self.fields["team"].error_messages["invalid_choice"] = (
            "No team “%(value)s” owns a model visible to you; choose one from the list."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        default = default_period()
        first, last = data.get("from"), data.get("to")
        if self.errors.get("from") or self.errors.get("to"):
            return data
        for name, value in (("from", first), ("to", last)):
            if value is not None and not EARLIEST <= value <= LATEST:
                self.add_error(name, f"Choose a date between {day(EARLIEST)} and {day(LATEST)}.")
                return data
        if first is None and last is None:
            first, last = default.first, default.last
        elif first is None:
            assert last is not None
            first = last - timedelta(days=DEFAULT_DAYS - 1)
        elif last is None:
            last = min(first + timedelta(days=DEFAULT_DAYS - 1), max(first, default.last))
        if last < first:
            self.add_error("to", "“To” must be on or after “From”.")
            return data
        if (last - first).days + 1 > MAX_DAYS:
            self.add_error("to", f"Choose a period of at most {MAX_DAYS} days.")
            return data
        data["period"] = Period(first, last)
        return data

    @property
    def period(self) -> Period:
        """The chosen period; call after is_valid()."""
        period: Period = self.cleaned_data["period"]
        return period

    def chosen_models(self) -> list[RegisteredModel] | None:
        """The models the filters name (None: every model the person sees)."""
        slug, team = self.cleaned_data.get("model"), self.cleaned_data.get("team")
        if not slug and not team:
            return None
        return [
            m
            for m in self.models.values()
            if (not slug or m.slug == slug) and (not team or m.team.slug == team)
        ]

    def query(self) -> dict[str, str]:
        """The chosen values as URL parameters (for links and the CSV export)."""
        return {
            name: str(value)
            for name, value in (
                ("from", self.period.first),
                ("to", self.period.last),
                *((k, self.cleaned_data.get(k)) for k in self.fields if k not in ("from", "to")),
            )
            if value
        }


_USERNAME = UnicodeUsernameValidator()


class ChangeFilterForm(PeriodForm):
    """The change analytics' filters: the period, a model, a team, an actor, a kind of action."""

    actor = forms.CharField(
        required=False,
        max_length=150,
        label="Actor (username)",
        validators=[_USERNAME],
    )
    kind = forms.ChoiceField(
        required=False,
        label="Kind of action",
        choices=[("", "All kinds of change"), *changes.KINDS.items()],
    )
    bucket = forms.ChoiceField(
        required=False,
        label="Bars per",
        choices=[("", "Day up to 92 days, else week"), ("day", "Day"), ("week", "Week")],
    )

    def clean_actor(self) -> str:
        actor: str = self.cleaned_data.get("actor", "").strip()
        if actor and not User.objects.filter(username=actor).exists():
            raise forms.ValidationError(f"No person is called “{actor}”.")
        return actor

    def bucket_size(self) -> str:
        chosen: str = self.cleaned_data.get("bucket") or ""
        return chosen or ("day" if self.period.days <= 92 else "week")


def error_messages(form: forms.Form) -> dict[str, list[str]]:
    """The form's errors by field, as the API's 400 names them."""
    return {
        field: [str(message) for message in messages] for field, messages in form.errors.items()
    }
