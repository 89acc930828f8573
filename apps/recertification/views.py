from __future__ import annotations

import csv
from collections import defaultdict
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from apps.core.errors import Conflict
from apps.core.exports import csv_cell
from apps.core.permissions import can, not_found_message
from apps.core.views import PortalView
from apps.recertification import services
from apps.recertification.forms import (
    AttestForm,
    CadenceForm,
    CalendarFilter,
    ModelCadenceForm,
    RequestForm,
)
from apps.recertification.models import Cadence, PeriodicReview, Schedule
from apps.registry.models import RegisteredModel

PAGE_SIZE = 50


def _filtered(rows: Any, chosen: dict[str, Any]) -> Any:
    """``rows`` are schedules annotated with ``in_review``; the states are ``state_of``'s."""
    today = services.today()
    if chosen.get("team"):
        rows = rows.filter(model__team__slug=chosen["team"])
    if chosen.get("risk_owner"):
        rows = rows.filter(model__risk_owner__username=chosen["risk_owner"])
    if chosen.get("tier"):
        rows = rows.filter(model__risk_tier=chosen["tier"])
    state = chosen.get("state")
    if state == "overdue":
        rows = rows.filter(due_on__lt=today)
    elif state == "in_review":
        rows = rows.filter(in_review=True, due_on__gte=today)
    elif state == "due":
        soon = today.fromordinal(today.toordinal() + services.REMINDERS[0])
        rows = rows.filter(in_review=False, due_on__gte=today, due_on__lte=soon)
    elif state == "upcoming":
        soon = today.fromordinal(today.toordinal() + services.REMINDERS[0])
        rows = rows.filter(in_review=False, due_on__gt=soon)
    return rows


class Calendar(PortalView):
    """Every production model the person may see, by its periodic review date: overdue, due,
    in review and upcoming, as a list and by month; CSV with ``?format=csv``."""

    queryset = Schedule.objects.select_related("model__team", "model__risk_owner", "version")

    def get(self, request: HttpRequest) -> HttpResponse:
        assert self.queryset is not None
        chosen = CalendarFilter(request.GET)
        rows: Any = self.queryset.annotate(
            in_review=Exists(
                PeriodicReview.objects.filter(
                    model=OuterRef("model"), status=PeriodicReview.Status.OPEN
                )
            )
        )
        rows = _filtered(rows, chosen.cleaned_data) if chosen.is_valid() else rows.none()
        rows = rows.order_by("due_on", "model__name")
        if request.GET.get("format") == "csv":
            return _csv(rows)
        page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
        for row in page.object_list:
            row.state = services.state_of(row, row.in_review)
        months: dict[str, list[Schedule]] = defaultdict(list)
        for row in page.object_list:
            months[f"{row.due_on:%B %Y}"].append(row)
        query = request.GET.copy()
        query.pop("page", None)
        open_reviews = {
            r.model_id: r
            for r in PeriodicReview.objects.filter(
                model_id__in=[row.model_id for row in page.object_list],
                status=PeriodicReview.Status.OPEN,
            )
        }
        for row in page.object_list:
            row.open_review = open_reviews.get(row.model_id)
        return render(
            request,
            "recertification/calendar.html",
            {
                "form": chosen,
                "page": page,
                "months": dict(months),
                "query": query.urlencode(),
                "view": "month" if request.GET.get("view") == "month" else "list",
                "today": services.today(),
            },
            status=400 if chosen.errors else 200,
        )


def _csv(rows: Any) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="periodic-reviews.csv"'
    writer = csv.writer(response)
    writer.writerow(
        [
            "model",
            "team",
            "risk_tier",
            "risk_owner",
            "live_version",
            "due_on",
            "state",
            "basis",
            "triggers",
        ]
    )
    for row in rows.iterator():
        writer.writerow(
            [
                csv_cell(row.model.slug),
                csv_cell(row.model.team.name),
                row.model.risk_tier,
                csv_cell(row.model.risk_owner.username),
                row.version.number,
                row.due_on.isoformat(),
                services.state_of(row, row.in_review),
                csv_cell(row.basis),
                csv_cell("; ".join(t["reason"] for t in row.triggers)),
            ]
        )
    return response


class ReviewPage(PortalView):
    """One periodic review: the evidence pack, the attestations, and the form to attest."""

    queryset = PeriodicReview.objects.select_related(
        "model__team", "model__risk_owner", "version", "opened_by"
    ).prefetch_related("attestations__person")

    def _page(self, review: PeriodicReview, form: AttestForm) -> HttpResponse:
        return render(
            self.request,
            "recertification/review.html",
            {
                "review": review,
                "model": review.model,
                "evidence": review.evidence if review.closed_at else services.evidence(review),
                "may_attest": can(self.person, services.ATTEST, review)
                and bool(services._role_for(self.person, review)),
                "form": form,
            },
        )

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        review: PeriodicReview = self.get_object(pk=pk)
        return self._page(review, AttestForm())

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        review: PeriodicReview = self.get_object(pk=pk)
        form = AttestForm(request.POST)
        if form.is_valid():
            try:
                services.attest(
                    review.pk,
                    actor=self.person,
                    outcome=form.cleaned_data["outcome"],
                    statement=form.cleaned_data["statement"],
                    replace_by=form.cleaned_data["replace_by"],
                )
            except ValidationError as problem:
                form.add_error(None, problem)
            except Conflict as problem:
                messages.error(request, str(problem))
            else:
                review.refresh_from_db()
                messages.success(
                    request,
                    "Attestation recorded."
                    + (
                        f" The review is closed: {review.get_status_display().lower()}."
                        if review.closed_at
                        else ""
                    ),
                )
                return redirect(review.get_absolute_url())
        return self._page(review, form)


class RequestReview(PortalView):
    """Compliance opens a model's periodic review now."""

    http_method_names = ["post"]
    queryset = RegisteredModel.objects.all()

    def post(self, request: HttpRequest, slug: str) -> HttpResponse:
        model: RegisteredModel = self.get_object(slug=slug)
        form = RequestForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Say why the model must be reviewed now.")
            return redirect(model.get_absolute_url())
        try:
            review = services.open_review(
                model.pk, actor=self.person, reason=form.cleaned_data["reason"]
            )
        except (ValidationError, Conflict) as problem:
            messages.error(request, " ".join(getattr(problem, "messages", [str(problem)])))
            return redirect(model.get_absolute_url())
        messages.success(
            request, "Periodic review opened; the risk owner and model operations have been told."
        )
        return redirect(review.get_absolute_url())


class Cadences(PortalView):
    """The cadence of each risk tier; administrators change them."""

    def _page(
        self, forms: dict[str, CadenceForm], own: ModelCadenceForm | None = None
    ) -> HttpResponse:
        current = {
            c.risk_tier: c for c in Cadence.objects.filter(is_current=True, model__isnull=True)
        }
        seen = RegisteredModel.objects.restrict(self.person).values("pk")
        return render(
            self.request,
            "recertification/cadences.html",
            {
                "tiers": [
                    (value, label, current.get(value), forms[value])
                    for value, label in RegisteredModel.RiskTier.choices
                ],
                "may_change": can(self.person, services.CHANGE_CADENCE),
                "own": Cadence.objects.filter(is_current=True, model__in=seen).select_related(
                    "model"
                ),
                "own_form": own
                or ModelCadenceForm(prefix="own", initial={"accepted_alert_days": 30}),
                "history": Cadence.objects.filter(
                    Q(model__isnull=True) | Q(model__in=seen)
                ).select_related("created_by", "model")[:30],
            },
        )

    def _forms(self, data: Any = None, tier: str = "") -> dict[str, CadenceForm]:
        found = {}
        for value, _ in RegisteredModel.RiskTier.choices:
            current = Cadence.objects.filter(
                risk_tier=value, model__isnull=True, is_current=True
            ).first()
            found[value] = CadenceForm(
                data if value == tier else None,
                prefix=value,
                initial={
                    "months": current.months if current else services.DEFAULT_MONTHS[value],
                    "accepted_alert_days": current.accepted_alert_days if current else 30,
                },
            )
        return found

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(self._forms())

    def post(self, request: HttpRequest) -> HttpResponse:
        tier = request.POST.get("tier", "")
        if tier == "model":
            return self._own(request)
        if tier not in RegisteredModel.RiskTier.values:
            raise Http404(not_found_message("risk tier", tier))
        forms = self._forms(request.POST, tier)
        form = forms[tier]
        if form.is_valid():
            try:
                cadence = services.update_cadence(
                    actor=self.person, risk_tier=tier, **form.cleaned_data
                )
            except ValidationError as problem:
                form.add_error(None, problem)
            else:
                messages.success(
                    request, f"Saved {cadence}; the calendar follows it at the next sweep."
                )
                return redirect("recertification:cadences")
        return self._page(forms)

    def _own(self, request: HttpRequest) -> HttpResponse:
        form = ModelCadenceForm(request.POST, prefix="own")
        if form.is_valid():
            data = dict(form.cleaned_data)
            model = (
                RegisteredModel.objects.restrict(self.person).filter(slug=data.pop("model")).first()
            )
            if model is None:
                form.add_error("model", "There is no model with that slug that you can see.")
            else:
                try:
                    cadence = services.update_cadence(actor=self.person, model=model, **data)
                except ValidationError as problem:
                    form.add_error(None, problem)
                else:
                    messages.success(request, f"Saved {cadence}; it replaces its tier's.")
                    return redirect("recertification:cadences")
        return self._page(self._forms(), form)
