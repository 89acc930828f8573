from __future__ import annotations

from typing import Any

from django import forms

from apps.integrations.models import MlflowConnection


class LinkForm(forms.Form):
    connection = forms.ModelChoiceField(
        label="MLflow server", queryset=MlflowConnection.objects.none(), empty_label=None
    )
    mlflow_name = forms.CharField(
        label="MLflow registered model name",
        max_length=256,
        help_text="Exactly as registered in MLflow, e.g. credit-pd.",
    )

    def __init__(
        self, *args: Any, connections: list[MlflowConnection] | None = None, **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        field = self.fields["connection"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = MlflowConnection.objects.filter(
            pk__in=[c.pk for c in connections or []]
        ).order_by("name")


class ImportForm(forms.Form):
    """The version comes from the picker's radio buttons (``reference``) or, typed, from
    ``typed_reference`` (``@candidate``, ``models:/credit-pd/7``); typed wins."""

    reference = forms.CharField(required=False, widget=forms.HiddenInput)
    typed_reference = forms.CharField(
        label="Or type a version or alias",
        required=False,
        max_length=600,
        help_text="7, @candidate, models:/name/7 or models:/name@candidate.",
    )
    holdout = forms.FileField(
        label="Holdout data (CSV or Parquet)",
        required=False,
        help_text="The portal validates the imported model on it, whatever MLflow measured.",
    )
    holdout_artifact = forms.CharField(
        label="Or the holdout the MLflow run logged",
        required=False,
        max_length=1000,
        help_text="Its path under the run's artifacts, e.g. data/holdout.csv (CSV or Parquet); "
        "instead of a file.",
    )
    target_column = forms.CharField(label="Target column", max_length=200)
    sensitive_column = forms.CharField(
        label="Sensitive column (optional)", max_length=200, required=False
    )

    def chosen_reference(self) -> str:
        data = self.cleaned_data
        return str(data.get("typed_reference") or data.get("reference") or "").strip()


class AutomaticForm(forms.Form):
    """Automatic import for a linked model: which MLflow events, and the holdout to validate on."""

    on_version_created = forms.BooleanField(
        label="Import each new version registered in MLflow", required=False
    )
    on_alias = forms.CharField(
        label="Import the version an alias is set to",
        required=False,
        max_length=256,
        help_text="An alias such as candidate; leave empty for none.",
    )
    holdout = forms.FileField(
        label="Holdout data for automatic imports (CSV or Parquet)",
        required=False,
        help_text="Kept with the link; leave empty to keep the one already kept.",
    )
    holdout_artifact = forms.CharField(
        label="Or the holdout each MLflow run logged",
        required=False,
        max_length=1000,
        help_text="Its path under each imported version's run artifacts, e.g. "
        "data/holdout.csv; instead of a kept file.",
    )
    target_column = forms.CharField(
        label="The kept holdout's column to predict (its target)", max_length=200, required=False
    )
    sensitive_column = forms.CharField(
        label="The kept holdout's column to measure fairness across (optional)",
        max_length=200,
        required=False,
    )
