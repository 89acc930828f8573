from django.urls import path

from apps.integrations.api import views

urlpatterns = [
    path(
        "models/<slug:slug>/versions/import/",
        views.ImportVersion.as_view(),
        name="api-mlflow-import-create",
    ),
    path(
        "models/<slug:slug>/versions/<int:number>/provenance/",
        views.VersionProvenance.as_view(),
        name="api-version-provenance",
    ),
    path("models/<slug:slug>/mlflow/", views.ModelLink.as_view(), name="api-mlflow-link"),
    path(
        "models/<slug:slug>/mlflow/automatic/",
        views.AutomaticImport.as_view(),
        name="api-mlflow-automatic",
    ),
    path("imports/<int:pk>/", views.ImportDetail.as_view(), name="api-mlflow-import"),
]
