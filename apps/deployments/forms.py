"""The forms the deployment pages post; the services check the rest (who, which state)."""

from __future__ import annotations

from django import forms


class DeployForm(forms.Form):
    environment = forms.SlugField(max_length=50)


class ServingKeyForm(forms.Form):
    # Not required here: the service says what a key needs, in the same words for the API.
    environment = forms.SlugField(max_length=50, required=False)
    name = forms.CharField(max_length=100, required=False, strip=True)


class RevokeKeyForm(forms.Form):
    revoke = forms.IntegerField(min_value=1)
