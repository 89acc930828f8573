from django.urls import path

from apps.validation.api.views import ValidationView

urlpatterns = [
    path(
        "models/<slug:slug>/versions/<int:number>/validation/",
        ValidationView.as_view(),
        name="api-validation",
    ),
]
