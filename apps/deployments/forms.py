"""The forms the deployment pages post; the services check the rest (who, which state)."""

from __future__ import annotations

from django import forms


class DeployForm(forms.Form):
    environment = forms.SlugField(max_length=50)
    # Checked by the service, in the same words as for the API.
    mode = forms.CharField(max_length=10, required=False)
    traffic = forms.IntegerField(required=False)


class StartChallengerForm(forms.Form):
    """Start a challenger from the deployments page: which version, where, how."""

    model = forms.SlugField(max_length=100)
    version = forms.IntegerField(min_value=1)
    environment = forms.SlugField(max_length=50)
    mode = forms.CharField(max_length=10)
    traffic = forms.IntegerField(required=False)


class ChallengerForm(forms.Form):
    reason = forms.CharField(max_length=500, strip=True)


class TrafficForm(ChallengerForm):
    traffic = forms.IntegerField()


class ServingKeyForm(forms.Form):
    # Not required here: the service says what a key needs, in the same words for the API.
    environment = forms.SlugField(max_length=50, required=False)
    name = forms.CharField(max_length=100, required=False, strip=True)


class RevokeKeyForm(forms.Form):
    revoke = forms.IntegerField(min_value=1)
